"""Ctrl-C during a run: a plan the solver found is never thrown away, and what happened is said truthfully.

Python turns every Ctrl-C into a KeyboardInterrupt wherever the main thread happens to be. The solver
adapters catch the first one and stop the search keeping the incumbent, but a second press arriving
while HiGHS is stopping escapes its handler (the incumbent is lost with the solver object), a press
during verify, explain or the write throws the decoded plan away, and highspy ends the process with
exit code 1 at its fifth press. So a run takes SIGINT over for its duration (:func:`guarded` around
``solve_scenario``, :func:`solving` around the solver call):

- while it loads and compiles, a press stops the run: nothing has been written;
- while the solver runs, a press is passed on as KeyboardInterrupt — the adapter stops and keeps its
  incumbent — except within :data:`DEBOUNCE_S` of the previous one and beyond :data:`MAX_SOLVER_PRESSES`
  (both would reach the adapter while it is already stopping);
- once the solver has returned, presses are counted and, outside a solver, not raised: the plan is
  checked and written, and the run says so (:func:`presses_after_solve`). A press during a re-solve
  after the solve (marginal values, alternatives) in an adapter with the ``interrupt`` feature is
  passed on, so that re-solve stops as the solve did; between solver calls, optional work may stop
  when :func:`requested` says a press came (a KeyboardInterrupt there would throw the plan away).

:func:`take_interrupted_phase` tells the CLI where the run was when a KeyboardInterrupt reached it.
Outside the main thread (sweep workers, Dask) nothing is changed: signals only reach the main thread.
"""

from __future__ import annotations

import functools
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEBOUNCE_S = 0.5
MAX_SOLVER_PRESSES = 3
"""highspy force-exits (exit code 1, incumbent lost) at its fifth KeyboardInterrupt in one solve"""

_SOLVERS = "optimizer.engine.solvers."
IDLE, PREPARING, SOLVING, FINISHING = "idle", "loading and compiling", "solving", "checking and writing the plan"


@dataclass
class _State:
    phase: str = IDLE
    log: Callable[[str], None] = print
    raised: list[float] = field(default_factory=list)
    """when presses were passed on as KeyboardInterrupt in the current phase"""
    after_solve: int = 0
    interrupted_in: str | None = None


_state = _State()


def _in_interruptible_solver(frame) -> bool:
    """Whether the main thread is inside the ``solve`` of a solver adapter with the ``interrupt`` feature
    (it turns a KeyboardInterrupt into "stop, keep the incumbent"), e.g. a marginal re-solve."""
    while frame is not None:
        adapter = frame.f_locals.get("self") if frame.f_code.co_name == "solve" else None
        if frame.f_globals.get("__name__", "").startswith(_SOLVERS) and getattr(adapter, "features", None) is not None:
            return bool(adapter.features.interrupt)
        frame = frame.f_back
    return False



def _on_sigint(signum, frame) -> None:
    s = _state
    now = time.monotonic()
    if s.phase == PREPARING:
        s.interrupted_in = s.phase
        raise KeyboardInterrupt
    if s.phase == FINISHING:
        s.after_solve += 1
    stopping = len(s.raised) >= MAX_SOLVER_PRESSES or (s.raised and now - s.raised[-1] < DEBOUNCE_S)
    if not stopping and (s.phase == SOLVING or _in_interruptible_solver(frame)):
        s.raised.append(now)
        s.interrupted_in = s.phase
        raise KeyboardInterrupt
    if s.phase == SOLVING:
        s.log("Ctrl-C again: the solver is already stopping; its best plan so far will be checked and written")
    else:
        s.log("Ctrl-C: the plan found is kept — it is being checked and written; the run will say it was interrupted")


def guarded(fn):
    """Run ``fn`` (the run spine, with a ``log`` keyword) with SIGINT handled as described above."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread() or _state.phase != IDLE:
            return fn(*args, **kwargs)
        previous = signal.getsignal(signal.SIGINT)
        _state.__init__(phase=PREPARING, log=kwargs.get("log") or (lambda _: None))
        signal.signal(signal.SIGINT, _on_sigint)
        try:
            result = fn(*args, **kwargs)
        finally:
            signal.signal(signal.SIGINT, previous)
            _state.phase = IDLE
        _state.interrupted_in = None  # returned: no KeyboardInterrupt of this run is on its way to the CLI
        return result

    return wrapper


def solving(fn):
    """Mark the solver call: presses reach the adapter while it runs, and are only counted after it returned."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _state.phase == IDLE or threading.current_thread() is not threading.main_thread():
            return fn(*args, **kwargs)
        _state.phase = SOLVING
        try:
            return fn(*args, **kwargs)
        finally:
            _state.phase, _state.raised = FINISHING, []

    return wrapper


def presses_after_solve() -> int:
    """Ctrl-C presses counted (not raised) after the solver returned, in the run being written."""
    return _state.after_solve


def requested() -> bool:
    """Whether Ctrl-C was pressed after the solver returned: optional work after the solve (marginal
    re-solves, alternatives) may check this between solver calls and stop early; the plan is written either way."""
    return _state.phase == FINISHING and _state.after_solve > 0


def take_interrupted_phase() -> str | None:
    """Where the last guarded run was when a press became the KeyboardInterrupt now reaching the caller
    (None: not raised by a run, e.g. in another verb), forgotten once read."""
    phase, _state.interrupted_in = _state.interrupted_in, None
    return phase
