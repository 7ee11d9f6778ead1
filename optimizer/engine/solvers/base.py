"""What every solver adapter returns, and the helpers they share.

Termination (why the solver stopped) is kept apart from whether a solution exists: a time-limited
run may hold a good incumbent, and a gap-limited run is not a proof of optimality. The gap is
computed here the same way for every solver: |objective − bound| / max(|objective|, 1e-9).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from optimizer.engine.errors import SolverUnavailable
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
    # an LP's reduced costs (d objective / d x_j at the optimum), where the solver reports them: HiGHS only;
    # the primal engine's reduced-cost fixing reads them (optimizer/engine/primal/fixing.py)
    reduced_costs: np.ndarray | None = None

    def __post_init__(self):
        if self.gap is None:
            self.gap = relative_gap(self.objective, self.bound)

    @property
    def status(self) -> str:
        """run.json's ``status``: optimal / feasible (a plan, not proven) / infeasible / no_solution."""
        if self.has_solution:
            return "optimal" if self.termination == OPTIMAL else "feasible"
        return "infeasible" if self.termination == INFEASIBLE else "no_solution"

    def certificate(self, objective: float | None = None) -> dict:
        """Everything needed to say how good a plan is, for run.json, the CLI and reports. ``objective``:
        the plan's value when it is scored outside the model (Marxan's score); the solver's own value
        is then kept as ``solver_objective`` and the gap is measured from the score."""
        cert = {"objective": self.objective, "bound": self.bound, "gap": self.gap, "termination": self.termination,
                "solver": self.solver, "solver_version": self.solver_version, "time_s": round(self.time_s, 4),
                "seed": self.seed, "threads": self.threads}
        if objective is not None:
            cert.update(objective=objective, solver_objective=self.objective, gap=relative_gap(objective, self.bound))
        return cert


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None or not np.isfinite(objective) or not np.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1e-9)


ProgressFn = Callable[[dict], None]


def termination_of(status, known: dict, stopped: tuple, elapsed: float, time_limit: float) -> str:
    """A solver's status as a termination: ``known`` maps statuses that say it themselves (optimal,
    infeasible, …); a status in ``stopped`` means the search ended early, by the time limit when it ran
    (nearly) that long, else by another limit; anything else is an error."""
    if status in known:
        return known[status]
    if status in stopped:
        return TIME_LIMIT if elapsed >= time_limit * 0.95 else OTHER_LIMIT
    return ERROR


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
    requires: str = ""           # the Python module the solver needs
    install: str = ""            # the pip requirement that provides it (default: ``requires``)
    features: Features = Features()

    def library(self, module: str | None = None):
        """The solver's Python module (or ``module`` inside it), imported when first needed so that listing
        solvers or reading their features loads no solver library; a missing one says how to install it."""
        try:
            return importlib.import_module(module or self.requires)
        except ImportError as e:
            raise SolverUnavailable(f"solver {self.name!r} needs {self.requires} ({e}); "
                                    f"pip install {self.install or self.requires}") from None

    def usable(self) -> tuple[bool, str]:
        """Beyond the import, whether this installation can run the solver (a binary, a compiled-in back-end)."""
        self.library()
        return True, ""

    def available(self) -> tuple[bool, str]:
        try:
            return self.usable()
        except SolverUnavailable as e:
            return False, str(e)

    def ensure_available(self) -> None:
        ok, why = self.available()
        if not ok:
            raise SolverUnavailable(why)

    def version(self) -> str:
        raise NotImplementedError

    def solve(self, model: CompiledModel, settings: SolverSettings, on_progress: ProgressFn | None = None,
              start: np.ndarray | None = None) -> SolveResult:
        """Solve within the settings' limits. ``on_progress`` receives each progress_point as the search
        advances (called from the solver's thread); adapters without progress callbacks never call it.
        ``start``: a feasible plan to begin from; adapters without MIP starts (all but HiGHS) ignore it,
        which changes their speed, never their answer."""
        raise NotImplementedError
