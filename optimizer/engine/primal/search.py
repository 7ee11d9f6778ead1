"""The primal engine's state and budget: the incumbent, the bound and the trace of one search, and how
much of the time limit the heuristics may take — kept apart from the steps (``engine``) that use them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from optimizer.engine.model import CompiledModel
from optimizer.engine.primal.fixing import Fixing, bound_with
from optimizer.engine.primal.neighbourhoods import Neighbourhoods
from optimizer.engine.primal.plans import POLISHED, START, Complete, Incumbent, Polish, improves, offer
from optimizer.engine.scenario import SolverSettings
from optimizer.engine.solvers.base import ProgressFn, SolveResult, progress_point, relative_gap


@dataclass(frozen=True)
class Budget:
    """How much of a solve the heuristics may take, in work and (as a safety) in time."""
    lp_share: float = 0.6
    """the LP relaxation's time cap, as a share of the time limit: on the largest models the LP is the
    only way to a plan (the MIP's own root LP is the same LP after presolve), so it may take most of it"""
    heuristic_share: float = 0.7
    """LP and heuristics together stop starting new steps after this share of the time limit"""
    lp_multiple: float = 4.0
    min_share: float = 0.1
    """and after ``lp_multiple`` times the LP's own time (at least ``min_share`` of the limit): where
    the heuristics find nothing quickly, the MIP has the rest"""
    step_share: float = 0.1
    """each sub-MIP's time cap, as a share of the time limit"""
    nodes: int = 100
    """branch-and-bound nodes per sub-MIP"""
    fixing_sizes: tuple[int, ...] = (0, 500, 2_000)
    """free integer columns of each relaxation-guided fixing attempt, tried in turn until one has a
    plan (0: the fractional columns alone)"""
    greedy_sizes: tuple[int, ...] = (4_000, 16_000)
    """free integer columns of each attempt to complete the sites' greedy cores around the LP, tried in
    turn until one has a plan (then the whole model)"""
    grow_size: int = 8_000
    """free integer columns when the sites grow around their cores (fewer where the sparse rows reach
    no further)"""
    large_rows: int = 250_000
    mip_presolve_reductions: int = 2_000
    """the MIP of a model with more rows than ``large_rows`` gets HiGHS's presolve limited to this many
    reductions (``presolve_reduction_limit``, a work limit): HiGHS does not stop inside presolve, which
    on the synthetic 30,000-parcel sites + compactness model (257,230 rows) took 64–245 s for 33,000
    reductions and kept the run minutes past its limit; limited, 0.4 s, and the MIP kept its limit.
    The joint 2030–2050 model (210,860 rows) needs its presolve (benchmarks/README.md, "Round three")"""
    min_mip_seconds: float = 0.1
    """the MIP is skipped with less time than this left: HiGHS does not stop inside its presolve and root
    LP, so a MIP started later would only overrun the limit (by 0.5 s on the 400-unit Marxan grid at a
    1.7 s limit)"""
    crossover_nodes: int = 1_000
    crossover_share: float = 0.95
    """the crossover of the start's runs (solved exactly): its nodes, and the share of the time limit it
    ends by — on the small projects it serves, the MIP after it found nothing in the time left"""
    site_share: float = 0.5
    """the sites' moves (each site freed whole in turn) start no later than this share of the time limit"""
    rins_sizes: tuple[int, ...] = (1_000, 4_000, 16_000)
    """free integer columns of each RINS round (capped at half the model); the rounds stop at the first
    that does not improve the plan"""


@dataclass
class Search:
    model: CompiledModel
    complete: Complete
    on_progress: ProgressFn | None
    t0: float = field(default_factory=time.perf_counter)
    best: Incumbent | None = None
    bound: float | None = None
    trace: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    """the MIP's own ``extra`` (e.g. the HiGHS options it ran with)"""
    reduced_costs: np.ndarray | None = None
    """the LP relaxation's (where the adapter reports them)"""
    fixing: Fixing | None = None
    held: CompiledModel | None = None
    """the model with the columns reduced-cost fixing holds: what the sub-MIPs after it and the MIP solve"""
    polish: Polish | None = None

    def now(self) -> float:
        return time.perf_counter() - self.t0

    @cached_property
    def hood(self) -> Neighbourhoods:
        """The model's sparse-row incidence, built once for every step that grows a neighbourhood."""
        return Neighbourhoods(self.model)

    def point(self, t: float, incumbent: float | None, bound: float | None, found_by: str | None) -> dict:
        return {**progress_point(t, incumbent, bound), "found_by": found_by}

    def record(self, point: dict) -> None:
        self.trace.append(point)
        if self.on_progress is not None:
            self.on_progress(point)

    def take(self, candidate: Incumbent | None) -> bool:
        """Keep ``candidate`` when it improves the incumbent; a point in the trace says who found it."""
        if candidate is None or (self.best is not None and not improves(self.model, candidate.objective,
                                                                        self.best.objective)):
            return False
        self.best = candidate
        self.record(self.point(self.now(), candidate.objective, self.bound, candidate.found_by))
        self.polish_best()
        return True

    def polish_best(self) -> None:
        """The problem's local search on a new incumbent — not on the start (the problem's own search
        made it) nor on a polished plan — kept when it improves (step ``polish``)."""
        if self.polish is None or self.best.found_by in (START, POLISHED):
            return
        t, of = self.now(), self.best.found_by
        kept = self.take(offer(self.model, self.complete, self.polish(self.best.x), POLISHED))
        self.steps.append({"step": "polish", "t": round(t, 3), "time_s": round(self.now() - t, 3), "of": of,
                           "objective": self.best.objective, "improved": kept})

    def gap(self) -> float | None:
        return relative_gap(self.best.objective if self.best else None, self.bound)

    def whole_bound(self, bound: float | None) -> float | None:
        """A bound of the held model as one of the whole model (the fixing's floor where it is weaker)."""
        return bound if self.fixing is None else bound_with(self.model, self.fixing, bound)

    @property
    def solved(self) -> CompiledModel:
        return self.held if self.held is not None else self.model

    def step(self, name: str, t: float, res: SolveResult, free: int, kept: bool) -> None:
        self.steps.append({"step": name, "t": round(t, 3), "time_s": round(res.time_s, 3), "free_columns": free,
                           "termination": res.termination, "objective": res.objective, "improved": kept})


def tighter(model: CompiledModel, a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return b if a is None else a
    return min(a, b) if model.sense == "max" else max(a, b)


def proven(s: Search, settings: SolverSettings) -> bool:
    gap = s.gap()
    return gap is not None and gap <= settings.gap


def until(s: Search, settings: SolverSettings, budget: Budget) -> float:
    """When the heuristics stop starting steps (seconds on the engine's clock)."""
    lp_s = s.steps[0]["time_s"] if s.steps and s.steps[0]["step"] == "lp" else 0.0
    share = min(budget.heuristic_share, max(budget.min_share, (lp_s * (1 + budget.lp_multiple)) / settings.time_limit))
    return share * settings.time_limit


def over(s: Search, settings: SolverSettings, budget: Budget) -> bool:
    return s.now() >= until(s, settings, budget)


def step_seconds(s: Search, settings: SolverSettings, budget: Budget, end: float | None = None) -> float:
    """A step's time: its share of the limit, at most until ``end`` (default: when the heuristics stop)."""
    end = until(s, settings, budget) if end is None else end
    return max(min(budget.step_share * settings.time_limit, end - s.now()), 0.05)
