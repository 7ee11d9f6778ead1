"""One solve with the primal engine in front of the MIP: plans first, then the proof.

1. The problem's first plan, when it is a whole plan (the myopic plan of a phased scenario), is the
   first incumbent (``start``).
2. The LP relaxation: its optimum is a bound from the first seconds, and its solution is integral
   almost everywhere on these models.
3. Where the problem's first plan is partial (the sites' greedy cores), that plan as the families'
   whole decision and the rest solved (``heuristic:greedy``), then, from that plan, only the partial
   plan's own columns held, so each site may grow around its core to its best size and shape (on the
   synthetic 10,000-parcel sites model: from 3.8 % to 0.8 % below the LP bound in 1.5 s); without a
   plan yet, relaxation-guided fixing (``heuristic:lp-fixing``): the integral columns held, the
   fractional ones and a growing neighbourhood of them solved as a small MIP; as a last resort only
   the partial plan's own columns held.
4. RINS (``heuristic:rins``): around the incumbent, the columns where it and the LP disagree and a
   growing neighbourhood of them freed, the rest held at the incumbent, solved from the incumbent.
5. The MIP from the best plan (``mip`` names each plan it improves on), for the time left — skipped
   when the LP bound already proves the plan within the requested gap.

Every heuristic plan goes through ``plans.offer`` (completed, checked against every row) before it
is an incumbent. The steps run one after another on the settings' threads, each sub-MIP limited by
a node budget, so a run is deterministic for a seed and thread count as long as no time cap binds;
the caps (``Budget``) keep the heuristics to a few times the LP's own time, so that where they find
nothing quickly the MIP has the rest, and they bind on large models and loaded machines. The trace
(``SolveResult.progress``) says who found each incumbent (``found_by``) and run.json's
``solver_extra.primal`` lists every step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from optimizer.engine.compile import ASSIGN
from optimizer.engine.model import CompiledModel
from optimizer.engine.primal.neighbourhoods import Neighbourhoods, blocks, fractional, relaxation, solve_around
from optimizer.engine.primal.plans import (MIP, START, Complete, Incumbent, heuristic, improves, offer,
                                           same_value)
from optimizer.engine.scenario import SolverSettings
from optimizer.engine.solvers.base import (INFEASIBLE, INTERRUPTED, OPTIMAL, TIME_LIMIT, Adapter, ProgressFn,
                                           SolveResult, progress_point, relative_gap)


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
    rins_sizes: tuple[int, ...] = (1_000, 4_000, 16_000)
    """free integer columns of each RINS round (capped at half the model); the rounds stop at the first
    that does not improve the plan"""


@dataclass
class _Search:
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

    def now(self) -> float:
        return time.perf_counter() - self.t0

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
        return True

    def gap(self) -> float | None:
        return relative_gap(self.best.objective if self.best else None, self.bound)

    def step(self, name: str, t: float, res: SolveResult, free: int, kept: bool) -> None:
        self.steps.append({"step": name, "t": round(t, 3), "time_s": round(res.time_s, 3), "free_columns": free,
                           "termination": res.termination, "objective": res.objective, "improved": kept})


def solve(adapter: Adapter, model: CompiledModel, settings: SolverSettings, complete: Complete, *,
          start: np.ndarray | None = None, on_progress: ProgressFn | None = None,
          log: Callable[[str], None] = lambda _: None, budget: Budget = Budget()) -> SolveResult:
    """The model solved with the primal engine in front of ``adapter`` (one with the ``warm_start``
    feature); ``start`` is the problem's first plan (partial where it holds NaN). The result's plan is
    completed, its bound the tighter of the LP's and the MIP's."""
    if not model.integer.any():
        return adapter.solve(model, settings, on_progress=on_progress, start=start)
    s = _Search(model, complete, on_progress)
    whole = start is not None and not np.isnan(start).any()
    if whole:
        s.take(offer(model, complete, start, START))
    try:
        x_lp = _relax(adapter, s, settings, budget, log)
        partial = start is not None and not whole
        if partial:
            _greedy(adapter, s, settings, budget, start, log, whole_blocks=True)
            if s.best is not None:
                _greedy(adapter, s, settings, budget, start, log, whole_blocks=False)
        if x_lp is not None and s.best is None:
            _lp_fixing(adapter, s, settings, budget, x_lp, log)
        if partial and s.best is None:
            _greedy(adapter, s, settings, budget, start, log, whole_blocks=False)
        if x_lp is not None and s.best is not None and not _proven(s, settings):
            _rins(adapter, s, settings, budget, x_lp, log)
    except (_Interrupted, KeyboardInterrupt):  # Ctrl-C in a sub-solve or between them: keep the incumbent
        return _result(adapter, s, settings, INTERRUPTED, "interrupted (Ctrl-C) in the primal engine")
    if _proven(s, settings):
        return _result(adapter, s, settings, OPTIMAL, "proven within the gap by the LP bound (primal engine)")
    lp = s.steps[0]
    if s.best is None and lp["termination"] == TIME_LIMIT and settings.time_limit - s.now() < lp["time_s"]:
        # the MIP would begin with this same LP after its presolve, in less time than it took: it could
        # only overrun the limit (HiGHS does not stop inside presolve), never find a plan
        return _result(adapter, s, settings, TIME_LIMIT, "the LP relaxation did not finish within "
                       f"{budget.lp_share:.0%} of the time limit; no time left for the MIP (primal engine)")
    return _mip(adapter, s, settings, None if whole else start, log)


def _mip(adapter: Adapter, s: _Search, settings: SolverSettings, partial: np.ndarray | None,
         log: Callable[[str], None]) -> SolveResult:
    """The MIP for the time left, from the best plan (else the problem's partial plan); its trace on the
    engine's clock, each incumbent labelled with who found it, and its plan offered like any other."""
    model, left = s.model, settings.time_limit - s.now()
    log(f"MIP from {'the ' + s.best.found_by + ' plan' if s.best else 'no plan'} ({left:.1f} s left)")
    offset = s.now()
    last = {"incumbent": s.best.objective if s.best else None, "found_by": s.best.found_by if s.best else None}

    def relabel(p: dict) -> dict:
        """A MIP progress point on the engine's clock, its bound no weaker than the LP's, and who found
        its incumbent: the plan the MIP started from, or the MIP."""
        incumbent = p["incumbent"]
        if incumbent is not None and not same_value(incumbent, last["incumbent"]):
            last.update(incumbent=incumbent, found_by=MIP)
        return s.point(offset + p["t"], incumbent, _tighter(model, p["bound"], s.bound),
                       last["found_by"] if incumbent is not None else None)

    def live(p: dict) -> None:
        if s.on_progress is not None:
            s.on_progress(relabel(p))

    res = adapter.solve(model, settings.model_copy(update={"time_limit": max(left, 0.5)}), on_progress=live,
                        start=s.best.x if s.best is not None else partial)
    s.trace += [relabel(p) for p in res.progress]
    s.extra = dict(res.extra)
    s.steps.append({"step": "mip", "t": round(offset, 3), "time_s": round(res.time_s, 3),
                    "termination": res.termination, "objective": res.objective})
    if res.has_solution:
        found = offer(model, s.complete, res.x, last["found_by"] or MIP, rounded=False)
        if found is not None and (s.best is None or improves(model, found.objective, s.best.objective)):
            s.best = found
    if res.termination != INFEASIBLE:
        s.bound = _tighter(model, res.bound, s.bound)
    return _result(adapter, s, settings, res.termination, res.detail)


class _Interrupted(Exception):
    """A sub-solve was stopped by Ctrl-C: the engine stops with its incumbent."""


def _tighter(model: CompiledModel, a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return b if a is None else a
    return min(a, b) if model.sense == "max" else max(a, b)


def _proven(s: _Search, settings: SolverSettings) -> bool:
    gap = s.gap()
    return gap is not None and gap <= settings.gap


def _until(s: _Search, settings: SolverSettings, budget: Budget) -> float:
    """When the heuristics stop starting steps (seconds on the engine's clock)."""
    lp_s = s.steps[0]["time_s"] if s.steps and s.steps[0]["step"] == "lp" else 0.0
    share = min(budget.heuristic_share, max(budget.min_share, (lp_s * (1 + budget.lp_multiple)) / settings.time_limit))
    return share * settings.time_limit


def _over(s: _Search, settings: SolverSettings, budget: Budget) -> bool:
    return s.now() >= _until(s, settings, budget)


def _step_seconds(s: _Search, settings: SolverSettings, budget: Budget) -> float:
    return max(min(budget.step_share * settings.time_limit, _until(s, settings, budget) - s.now()), 0.05)


def _greedy(adapter: Adapter, s: _Search, settings: SolverSettings, budget: Budget, start: np.ndarray,
            log: Callable[[str], None], whole_blocks: bool) -> None:
    """The families' partial plan taken as their whole decision (``heuristic:greedy``): its columns at
    their values and every other integer column of the blocks it started (``blocks``: a site, or sites
    tied by symmetry rows) at 0, so each started site is exactly its greedy core, the rest of the model
    solved as a MIP; without ``whole_blocks``, only the start's own columns held (what HiGHS does with
    a partial start), so the sites grow around their cores — from the incumbent when there is one
    (step ``greedy-grown``, which the solver's start keeps no worse than that plan), else as the last
    resort after relaxation-guided fixing."""
    model = s.model
    known = ~np.isnan(start)
    families = model.columns["family"].to_numpy()
    own = np.isin(families, np.setdiff1d(families[known], [ASSIGN]))
    block = blocks(model, own)
    started = np.isin(block, block[known & own]) & own
    theirs = known | (model.integer & started)
    centre = np.where(known, start, 0.0)
    held = theirs if whole_blocks else known
    if _over(s, settings, budget):
        return
    t = s.now()
    incumbent = s.best.x if s.best is not None else None
    res = solve_around(adapter, model, settings, centre, ~held, incumbent, _step_seconds(s, settings, budget),
                       budget.nodes)
    kept = res.has_solution and s.take(offer(model, s.complete, res.x, heuristic("greedy")))
    s.step("greedy" if whole_blocks or incumbent is None else "greedy-grown", t, res,
           int((~held & model.integer).sum()), kept)
    if res.termination == INTERRUPTED:
        raise _Interrupted
    if res.has_solution:
        log(f"primal engine: plan from the greedy start {res.objective:,.6g}")


def _relax(adapter: Adapter, s: _Search, settings: SolverSettings, budget: Budget,
           log: Callable[[str], None]) -> np.ndarray | None:
    """The LP relaxation's solution, and its optimum as the bound; None when it did not solve."""
    log("primal engine: solving the LP relaxation")
    res = adapter.solve(relaxation(s.model), settings.model_copy(
        update={"time_limit": budget.lp_share * settings.time_limit}))
    s.step("lp", 0.0, res, 0, False)
    if res.termination == INTERRUPTED:
        raise _Interrupted
    if res.termination != OPTIMAL or not res.has_solution:
        return None
    s.bound = res.objective
    s.record(s.point(s.now(), s.best.objective if s.best else None, s.bound, s.best.found_by if s.best else None))
    return res.x


def _lp_fixing(adapter: Adapter, s: _Search, settings: SolverSettings, budget: Budget, x_lp: np.ndarray,
               log: Callable[[str], None]) -> None:
    """The LP's integral columns held, the fractional ones and a growing neighbourhood solved."""
    model = s.model
    seeds = fractional(model, x_lp)
    if not seeds.any():
        s.take(offer(model, s.complete, x_lp, heuristic("lp-fixing")))
        return
    hood = Neighbourhoods(model)
    for size in budget.fixing_sizes:
        if _over(s, settings, budget):
            return
        free = hood.around(seeds, size)
        t = s.now()
        res = solve_around(adapter, model, settings, x_lp, free, None, _step_seconds(s, settings, budget),
                           budget.nodes)
        kept = res.has_solution and s.take(offer(model, s.complete, res.x, heuristic("lp-fixing")))
        s.step("lp-fixing", t, res, int(free[model.integer].sum()), kept)
        if res.termination == INTERRUPTED:
            raise _Interrupted
        if res.has_solution:
            log(f"primal engine: LP-guided plan {res.objective:,.6g} ({int(free.sum()):,} columns free)")
            return


def _rins(adapter: Adapter, s: _Search, settings: SolverSettings, budget: Budget, x_lp: np.ndarray,
          log: Callable[[str], None]) -> None:
    """Neighbourhoods of the columns where the incumbent and the LP disagree, solved from the incumbent."""
    model = s.model
    hood = Neighbourhoods(model)
    cap, previous = int(model.integer.sum()) // 2, -1
    for size in budget.rins_sizes:
        if _over(s, settings, budget) or _proven(s, settings):
            return
        seeds = model.integer & (np.abs(s.best.x - x_lp) > 1e-6)
        if not seeds.any():
            return
        free = hood.around(seeds, min(size, cap))
        if int(free.sum()) <= previous:  # the sparse rows reach no further: the same sub-MIP again
            return
        previous = int(free.sum())
        t = s.now()
        res = solve_around(adapter, model, settings, s.best.x, free, s.best.x, _step_seconds(s, settings, budget),
                           budget.nodes)
        kept = res.has_solution and s.take(offer(model, s.complete, res.x, heuristic("rins")))
        s.step("rins", t, res, int(free[model.integer].sum()), kept)
        if res.termination == INTERRUPTED:
            raise _Interrupted
        if not kept or int(free[model.integer].sum()) >= cap:
            return
        log(f"primal engine: RINS improved the plan to {s.best.objective:,.6g}")


def _result(adapter: Adapter, s: _Search, settings: SolverSettings, termination: str, detail: str) -> SolveResult:
    """The engine's result: the best plan with who found it, the tighter bound, the trace closed at
    the final figures. A plan the bound proves within the gap is optimal however the MIP stopped."""
    best, elapsed = s.best, s.now()
    if termination != INTERRUPTED and best is not None and _proven(s, settings):
        termination = OPTIMAL
    if termination == INFEASIBLE:
        s.bound = None
    objective = best.objective if best else None
    last = s.trace[-1] if s.trace else None
    if last is None or not (same_value(last["incumbent"], objective) and last["bound"] == s.bound):
        s.record(s.point(max(elapsed, last["t"] if last else 0.0), objective, s.bound, best.found_by if best else None))
    extra = {**s.extra, "primal": {"found_by": best.found_by if best else None, "steps": s.steps}}
    return SolveResult(termination=termination, has_solution=best is not None, x=best.x if best else None,
                       objective=objective, bound=s.bound, solver=adapter.name, solver_version=adapter.version(),
                       time_s=elapsed, seed=settings.seed, threads=settings.threads, detail=detail,
                       extra=extra, progress=s.trace)

