"""What every solver adapter returns, and the helpers they share.

Termination (why the solver stopped) is kept apart from whether a solution exists: a time-limited
run may hold a good incumbent, and a gap-limited run is not a proof of optimality. The gap is
computed here the same way for every solver: |objective − bound| / max(|objective|, 1e-9).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from optimizer.engine.model import CompiledModel
from optimizer.engine.scenario import SolverSettings

OPTIMAL = "optimal"            # proven optimal within the requested relative gap
TIME_LIMIT = "time_limit"
INTERRUPTED = "interrupted"
INFEASIBLE = "infeasible"
UNBOUNDED = "unbounded"
OTHER_LIMIT = "other_limit"    # node, iteration, solution or memory limit
ERROR = "error"


@dataclass
class SolveResult:
    termination: str
    has_solution: bool
    x: np.ndarray | None
    objective: float | None
    bound: float | None
    solver: str
    solver_version: str
    time_s: float
    seed: int
    threads: int
    gap: float | None = None
    detail: str = ""
    extra: dict = field(default_factory=dict)
    # time-to-gap trace: progress_point dicts in time order, ending at the final objective/bound; only HiGHS
    # fills it (from its MIP callbacks); CBC, SCIP and CP-SAT leave it empty
    progress: list[dict] = field(default_factory=list)

    def __post_init__(self):
        if self.gap is None:
            self.gap = relative_gap(self.objective, self.bound)


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None or not np.isfinite(objective) or not np.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1e-9)


ProgressFn = Callable[[dict], None]


def progress_point(t: float, incumbent: float | None, bound: float | None) -> dict:
    """One point of a progress trace: seconds since the solve started, best plan's objective, best bound and
    their gap (None where not known yet), with the gap defined as everywhere else (relative_gap)."""
    return {"t": round(t, 3), "incumbent": incumbent, "bound": bound, "gap": relative_gap(incumbent, bound)}


@contextlib.contextmanager
def quiet_stdout():
    """Silence C-level writes to stdout (solver banners) so `--json` output stays machine-readable."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)


def to_minimization(model: CompiledModel) -> tuple[np.ndarray, float]:
    """(c, sign) with sign·c·x to minimize; adapters that take MPS files always see a MIN model,
    which sidesteps the OBJSENSE traps of MPS readers."""
    sign = -1.0 if model.sense == "max" else 1.0
    return sign * model.c, sign


@dataclass(frozen=True)
class Features:
    """What an adapter can do beyond solving; the run asks these instead of a solver's name."""
    warm_start: bool = False     # begins from a given (possibly partial) plan
    progress: bool = False       # reports incumbent and bound live (on_progress) and fills SolveResult.progress
    interrupt: bool = False      # Ctrl-C stops the search and keeps the incumbent
    continuous: bool = True      # accepts continuous columns (slacks, flows), not only integers


class Adapter:
    name: str
    requires: str = ""           # the Python module the solver needs (what `available` checks)
    features: Features = Features()

    def available(self) -> tuple[bool, str]:
        raise NotImplementedError

    def version(self) -> str:
        raise NotImplementedError

    def solve(self, model: CompiledModel, settings: SolverSettings, on_progress: ProgressFn | None = None,
              start: np.ndarray | None = None) -> SolveResult:
        """Solve within the settings' limits. ``on_progress`` receives each progress_point as the search
        advances (called from the solver's thread); adapters without progress callbacks never call it.
        ``start``: a feasible plan to begin from; adapters without MIP starts (all but HiGHS) ignore it,
        which changes their speed, never their answer."""
        raise NotImplementedError
