"""One solve with the primal engine in front of the MIP: plans first, then the proof.

1. The problem's first plan, when it is a whole plan (the myopic plan of a phased scenario), is the
   first incumbent (``start``).
2. The LP relaxation: its optimum is a bound from the first seconds, and its solution is integral
   almost everywhere on these models. With a whole start, the columns its reduced costs prove no plan
   within the gap moves are held for the rest (``reduced-cost fixing``; ``fixing.fix_by_reduced_costs``
   says why the bound stays a bound). Where the start came with runners-up (a small Marxan project's
   annealing runs), the columns on which they all agree held and the rest solved exactly (``crossover``).
3. Where the problem's first plan is partial (the sites' greedy cores), that plan as the families'
   whole decision and the rest solved around the LP (``heuristic:greedy``), then, from that plan,
   only the partial plan's own columns held and the sites' land freed, so each site may grow around
   its core to its best size and shape (step ``greedy-grown``; on the synthetic 30,000-parcel sites
   model 1,786 and 4,825 free columns, 4.4 % then 1.4 % below the LP bound in 1.1 s, where freeing
   the whole rest, 84,000 columns, found nothing in its time cap); without a
   plan yet, relaxation-guided fixing (``heuristic:lp-fixing``): the integral columns held, the
   fractional ones and a growing neighbourhood of them solved as a small MIP — also beside a whole
   start when the problem has a local search to polish it with; as a last resort only the partial
   plan's own columns held.
4. RINS (``heuristic:rins``): around the incumbent, the columns where it and the LP disagree and a
   growing neighbourhood of them freed, the rest held at the incumbent, solved from the incumbent.
   Then, where the plan was grown from the sites' cores, each site in turn freed whole with its
   parcels' columns, so it may move off its core (``heuristic:site-move``; the synthetic 30,000-parcel
   sites + compactness model from 1.39 % to 0.90 % below the LP bound, where the MIP found nothing).
5. Reduced-cost fixing again, from the best plan, whatever the model: its higher floor holds more.
6. The MIP from the best plan (``mip`` names each plan it improves on), for the time left — skipped
   when the LP bound already proves the plan within the requested gap, or too little time is left.

Where the problem has a local search (``polish``: a Marxan project's annealing), every new incumbent a
heuristic or the MIP finds is polished by it (``heuristic:polish``). Every heuristic plan goes through ``plans.offer`` (completed, checked against every row) before it
is an incumbent. The steps run one after another on the settings' threads, each sub-MIP limited by
a node budget, so a run is deterministic for a seed and thread count as long as no time cap binds;
the caps (``Budget``) keep the heuristics to a few times the LP's own time, so that where they find
nothing quickly the MIP has the rest, and they bind on large models and loaded machines. The trace
(``SolveResult.progress``) says who found each incumbent (``found_by``) and run.json's
``solver_extra.primal`` lists every step.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace

import numpy as np

from optimizer.engine.compile import ASSIGN
from optimizer.engine.model import CompiledModel
from optimizer.engine.primal.fixing import fix_by_reduced_costs
from optimizer.engine.primal.neighbourhoods import blocks, fractional, relaxation, solve_around
from optimizer.engine.primal.plans import MIP, START, Complete, Polish, heuristic, improves, offer, same_value
from optimizer.engine.primal.search import Budget, Search, over, proven, step_seconds, tighter, until
from optimizer.engine.scenario import SolverSettings
from optimizer.engine.solvers.base import (INFEASIBLE, INTERRUPTED, OPTIMAL, TIME_LIMIT, Adapter, ProgressFn,
                                           SolveResult)

__all__ = ["Budget", "solve"]

def solve(adapter: Adapter, model: CompiledModel, settings: SolverSettings, complete: Complete, *,
          start: np.ndarray | Future | None = None, on_progress: ProgressFn | None = None,
          log: Callable[[str], None] = lambda _: None, budget: Budget = Budget(),
          polish: Polish | None = None) -> SolveResult:
    """The model solved with the primal engine in front of ``adapter`` (one with the ``warm_start``
    feature); ``start`` is the problem's first plan (partial where it holds NaN), or a Future of that
    plan being found in another thread, taken once the LP is solved;
    ``polish`` the problem's own local search, run on every plan a heuristic or the MIP finds
    (``heuristic:polish``). The result's plan is completed, its bound the tighter of the LP's and the MIP's."""
    pending = start if isinstance(start, Future) else None
    start, others = (None, None) if pending is not None else _runners_up(start)
    if not model.integer.any():
        return adapter.solve(model, settings, on_progress=on_progress,
                             start=_runners_up(pending.result())[0] if pending is not None else start)
    s = Search(model, complete, on_progress, polish=polish)
    whole = _take_start(s, start)
    try:
        x_lp = _relax(adapter, s, settings, budget, log)
        if pending is not None:  # found beside the LP (both cores): the same plan as in turn, so deterministic
            start, others = _runners_up(pending.result())
            whole = _take_start(s, start)
        if whole and x_lp is not None:
            _hold(s, settings, x_lp, log)
        if whole and others is not None:
            _crossover(adapter, s, settings, budget, others, log)
        partial = start is not None and not whole
        grown = False  # the plan was built from the sites' cores: the plan whose sites may move off them
        if partial:
            _greedy(adapter, s, settings, budget, start, x_lp, log)
            if s.best is not None:
                _grow(adapter, s, settings, budget, start, log)
                grown = True
        if x_lp is not None and (s.best is None or polish is not None):
            # with a local search, the LP-guided plan is worth making beside the start: polished, it
            # beat the annealed start on the Marxan grids (benchmarks/README.md, "Annealing start and polish")
            _lp_fixing(adapter, s, settings, budget, x_lp, log)
        if partial and s.best is None:
            _partial_held(adapter, s, settings, budget, start, log)
        if x_lp is not None and s.best is not None and not proven(s, settings):
            _rins(adapter, s, settings, budget, x_lp, log)
        if grown:  # not after relaxation-guided fixing: on cao_bang_2030 8 moves, 2.6 s, nothing gained
            _site_moves(adapter, s, settings, budget, start, log)
    except (_Interrupted, KeyboardInterrupt):  # Ctrl-C in a sub-solve or between them: keep the incumbent
        return _result(adapter, s, settings, INTERRUPTED, "interrupted (Ctrl-C) in the primal engine")
    if proven(s, settings):
        return _result(adapter, s, settings, OPTIMAL, "proven within the gap by the LP bound (primal engine)")
    lp = s.steps[0]
    if lp["termination"] == TIME_LIMIT and settings.time_limit - s.now() < lp["time_s"]:
        # the MIP would begin with this same LP after its presolve, in less time than it took: it could
        # only overrun the limit (HiGHS does not stop inside presolve), never find or improve a plan
        return _result(adapter, s, settings, TIME_LIMIT, "the LP relaxation did not finish within "
                       f"{budget.lp_share:.0%} of the time limit; no time left for the MIP (primal engine)")
    if x_lp is not None:
        _hold(s, settings, x_lp, log)
    return _mip(adapter, s, settings, budget, None if whole else start, log)


def _runners_up(start: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The problem's first plan and, where it gave several whole plans (a matrix's rows, best first), the
    others."""
    if start is None or np.ndim(start) == 1:
        return start, None
    return start[0], start[1:]


def _take_start(s: Search, start: np.ndarray | None) -> bool:
    """The problem's first plan as the first incumbent when it is a whole plan; whether it is one."""
    whole = start is not None and not np.isnan(start).any()
    if whole:
        s.take(offer(s.model, s.complete, start, START))
    return whole


def _mip(adapter: Adapter, s: Search, settings: SolverSettings, budget: Budget, partial: np.ndarray | None,
         log: Callable[[str], None]) -> SolveResult:
    """The MIP for the time left, from the best plan (else the problem's partial plan); its trace on the
    engine's clock, each incumbent labelled with who found it, and its plan offered like any other. On
    a large model HiGHS's presolve gets a work limit (``Budget.mip_presolve_reductions``)."""
    model, left = s.model, settings.time_limit - s.now()
    reserve = s.polish.seconds if s.polish is not None else 0.0  # the MIP's plan is polished after it
    if left - reserve < budget.min_mip_seconds:
        return _result(adapter, s, settings, TIME_LIMIT, "the heuristics took the time limit; no time left for "
                       "the MIP (primal engine)")
    log(f"MIP from {'the ' + s.best.found_by + ' plan' if s.best else 'no plan'} ({left:.1f} s left)")
    offset = s.now()
    last = {"incumbent": s.best.objective if s.best else None, "found_by": s.best.found_by if s.best else None}

    def relabel(p: dict) -> dict:
        """A MIP progress point on the engine's clock, its bound no weaker than the LP's, and who found
        its incumbent: the plan the MIP started from, or the MIP."""
        incumbent = p["incumbent"]
        if incumbent is not None and not same_value(incumbent, last["incumbent"]):
            last.update(incumbent=incumbent, found_by=MIP)
        return s.point(offset + p["t"], incumbent, tighter(model, s.whole_bound(p["bound"]), s.bound),
                       last["found_by"] if incumbent is not None else None)

    def live(p: dict) -> None:
        if s.on_progress is not None:
            s.on_progress(relabel(p))

    guard = {"presolve_reduction_limit": budget.mip_presolve_reductions} if s.solved.n_rows > budget.large_rows else {}
    res = adapter.solve(s.solved, settings.model_copy(update={"time_limit": left - reserve,
                                                              "options": {**guard, **settings.options}}),
                        on_progress=live, start=s.best.x if s.best is not None else partial)
    s.trace += [relabel(p) for p in res.progress]
    s.extra = dict(res.extra)
    s.steps.append({"step": "mip", "t": round(offset, 3), "time_s": round(res.time_s, 3),
                    "termination": res.termination, "objective": res.objective})
    if res.has_solution:
        found = offer(model, s.complete, res.x, last["found_by"] or MIP, rounded=False)
        if found is not None and (s.best is None or improves(model, found.objective, s.best.objective)):
            s.best = found
            s.polish_best()
    if res.termination != INFEASIBLE:
        s.bound = tighter(model, s.whole_bound(res.bound), s.bound)
    return _result(adapter, s, settings, res.termination, res.detail)


class _Interrupted(Exception):
    """A sub-solve was stopped by Ctrl-C: the engine stops with its incumbent."""


def _sub_mip(adapter: Adapter, s: Search, settings: SolverSettings, budget: Budget, step: str, found_by: str,
             centre: np.ndarray, free: np.ndarray, start: np.ndarray | None,
             end: float | None = None) -> tuple[SolveResult, bool]:
    """One heuristic's sub-MIP (``free`` open, the other integer columns held at ``centre``, solved from
    ``start`` within the step's budget, ending by ``end`` when given, else when the heuristics stop): its
    plan offered as ``found_by``, the step recorded; whether the plan became the incumbent."""
    t = s.now()
    res = solve_around(adapter, s.solved, settings, centre, free, start, step_seconds(s, settings, budget, end),
                       budget.nodes)
    kept = res.has_solution and s.take(offer(s.model, s.complete, res.x, found_by))
    s.step(step, t, res, int(free[s.model.integer].sum()), kept)
    if res.termination == INTERRUPTED:
        raise _Interrupted
    return res, kept


def _started_blocks(model: CompiledModel, start: np.ndarray) -> np.ndarray:
    """A block label per column of the blocks the partial plan started (``blocks``: a site, or sites
    tied by symmetry rows; −1 elsewhere)."""
    known = ~np.isnan(start)
    families = model.columns["family"].to_numpy()
    own = np.isin(families, np.setdiff1d(families[known], [ASSIGN]))
    block = blocks(model, own)
    return np.where(np.isin(block, block[known & own]) & own, block, -1)


def _greedy(adapter: Adapter, s: Search, settings: SolverSettings, budget: Budget, start: np.ndarray,
            x_lp: np.ndarray | None, log: Callable[[str], None]) -> None:
    """The families' partial plan taken as their whole decision (``heuristic:greedy``): its columns at
    their values and every other integer column of the blocks it started at 0, so each started site
    is exactly its greedy core. The rest is first solved around the LP: its values held except where
    they are fractional or meet the cores (two hops through the sparse rows from a held column whose
    value differs from the LP's: the parcel's site column, then its uses) and a growing neighbourhood
    of those (``greedy_sizes``); only if none of these has a plan, the whole rest as one MIP (on the
    synthetic 30,000-parcel sites model 83,625 free columns, which ran 72 s against its 18 s cap
    without a plan)."""
    model = s.model
    known = ~np.isnan(start)
    held = known | (model.integer & (_started_blocks(model, start) >= 0))
    centre = np.where(known, start, 0.0)
    attempts: list[np.ndarray] = []
    if x_lp is not None:
        hood = s.hood
        centre = np.where(held, centre, x_lp)
        meets = hood.hop(hood.hop(held & model.integer & (np.abs(centre - x_lp) > 1e-6)))  # to the parcels' uses
        seeds = (fractional(model, x_lp) | meets) & ~held
        attempts = [hood.around(seeds, size) & ~held for size in budget.greedy_sizes]
    _first_plan(adapter, s, settings, budget, "greedy", centre, [*attempts, ~held], log)


def _first_plan(adapter: Adapter, s: Search, settings: SolverSettings, budget: Budget, step: str,
                centre: np.ndarray, attempts: list[np.ndarray], log: Callable[[str], None]) -> None:
    """Sub-MIPs around ``centre`` freeing each of ``attempts`` (growing sets of columns) in turn until
    one has a plan (``heuristic:<step>``); one that frees no more than the one before is skipped."""
    previous = -1
    for free in attempts:
        if over(s, settings, budget):
            return
        if int(free.sum()) <= previous:  # the sparse rows reach no further: the same sub-MIP again
            continue
        previous = int(free.sum())
        res, _ = _sub_mip(adapter, s, settings, budget, step, heuristic(step), centre, free, None)
        if res.has_solution:
            log(f"primal engine: {step} plan {res.objective:,.6g} ({int(free.sum()):,} columns free)")
            return


def _grow(adapter: Adapter, s: Search, settings: SolverSettings, budget: Budget, start: np.ndarray,
          log: Callable[[str], None]) -> None:
    """From the incumbent, only the partial plan's own columns held (each site's core, its root among
    them) and the started blocks freed with the land they reach through the sparse rows — the sites'
    candidate parcels and those parcels' uses, up to ``grow_size`` integer columns — the rest held at
    the incumbent (step ``greedy-grown``), so every site grows around its core to its best size and
    shape. Freeing the whole rest instead is the whole model (85,757 columns on the synthetic
    30,000-parcel sites model, which reached its time cap without improving). A site moves off its
    core later, in ``_site_moves``."""
    model, known = s.model, ~np.isnan(start)
    if over(s, settings, budget):
        return
    free = s.hood.around((_started_blocks(model, start) >= 0) & model.integer, budget.grow_size)
    free &= ~known
    _, kept = _sub_mip(adapter, s, settings, budget, "greedy-grown", heuristic("greedy"), s.best.x, free, s.best.x)
    if kept:
        log(f"primal engine: the sites grown around their cores, {s.best.objective:,.6g}")


def _site_moves(adapter: Adapter, s: Search, settings: SolverSettings, budget: Budget, start: np.ndarray,
                log: Callable[[str], None]) -> None:
    """Each started block in turn freed whole — its core and root too, so a site may move off its greedy
    core — with every column of its parcels, the rest held at the incumbent (step ``site-move``), until
    ``Budget.site_share`` of the time limit. ``greedy-grown`` keeps the cores, and the plan it leaves was
    the gap on the synthetic sites + compactness models, not the LP bound: one site freed this way and
    solved exactly gained up to 165 of the 241 between plan and bound at 10,000 parcels, where 900 s of
    the MIP moved the bound by 0.15 (benchmarks/README.md, "Sites + compactness: the plan or the
    bound?"). Solved with no gap: a site's gain is far below the run's gap of the whole objective, so a
    sub-MIP at that gap stops at its start (0.6 s each on the 30,000-parcel model, nothing gained)."""
    model = s.model
    block = _started_blocks(model, start)
    parcel = model.columns["parcel"].to_numpy()
    stop = budget.site_share * settings.time_limit
    exact = settings.model_copy(update={"gap": 0.0})
    for b in np.unique(block[block >= 0]):
        if s.now() >= stop or proven(s, settings):
            return
        own = block == b
        free = own | np.isin(parcel, parcel[own & (parcel >= 0)])
        _, kept = _sub_mip(adapter, s, exact, budget, "site-move", heuristic("site-move"), s.best.x, free,
                           s.best.x, end=stop)
        if kept:
            log(f"primal engine: a site moved, {s.best.objective:,.6g}")


def _partial_held(adapter: Adapter, s: Search, settings: SolverSettings, budget: Budget, start: np.ndarray,
                  log: Callable[[str], None]) -> None:
    """The last resort when nothing else found a plan: only the partial plan's own columns held (what
    HiGHS does with a partial start), so the sites may grow around their cores (``heuristic:greedy``)."""
    if over(s, settings, budget):
        return
    known = ~np.isnan(start)
    res, _ = _sub_mip(adapter, s, settings, budget, "greedy-cores-held", heuristic("greedy"),
                      np.where(known, start, 0.0), ~known, None)
    if res.has_solution:
        log(f"primal engine: plan from the greedy cores {res.objective:,.6g}")


def _relax(adapter: Adapter, s: Search, settings: SolverSettings, budget: Budget,
           log: Callable[[str], None]) -> np.ndarray | None:
    """The LP relaxation's solution, and its optimum as the bound; None when it did not solve (the bound
    then what its last duals prove, where the adapter reports one)."""
    log("primal engine: solving the LP relaxation")
    res = adapter.solve(relaxation(s.model), settings.model_copy(
        update={"time_limit": budget.lp_share * settings.time_limit}))
    s.step("lp", 0.0, res, 0, False)
    if res.termination == INTERRUPTED:
        raise _Interrupted
    solved = res.termination == OPTIMAL and res.has_solution
    if solved:
        s.bound, s.reduced_costs = res.objective, res.reduced_costs
    elif res.bound is not None:  # stopped early: its last duals still prove a bound (CompiledModel.dual_bound)
        s.bound = res.bound
    if s.bound is not None:
        s.record(s.point(s.now(), s.best.objective if s.best else None, s.bound, s.best.found_by if s.best else None))
    return res.x if solved else None


def _hold(s: Search, settings: SolverSettings, x_lp: np.ndarray, log: Callable[[str], None]) -> None:
    """The columns the LP's reduced costs and the incumbent prove no plan within the gap moves, held for
    the steps that follow (``fix_by_reduced_costs``: why, and why the bound stays a bound) — after the
    LP when the start is a whole plan, and before the MIP from the best plan, whose floor holds more.
    On ``bez_2030`` the MIP from the same plan took 10 s on the held model against 57 s on the whole
    (benchmarks/README.md, "Round three (session 8)"). Both calls come before the MIP, so the bound is
    still the LP's."""
    if s.reduced_costs is None or s.best is None:
        return
    fixing = fix_by_reduced_costs(s.model, x_lp, s.reduced_costs, s.bound, s.best.x, settings.gap)
    if not len(fixing.fixed) or (s.fixing is not None and len(fixing.fixed) <= len(s.fixing.fixed)):
        return
    s.fixing, s.held = fixing, fixing.held(s.model)
    log(f"primal engine: {len(fixing.fixed):,} columns held by their reduced costs")
    s.steps.append({"step": "reduced-cost fixing", "t": round(s.now(), 3), "held_columns": int(len(fixing.fixed)),
                    "floor": fixing.floor})


def _crossover(adapter: Adapter, s: Search, settings: SolverSettings, budget: Budget, others: np.ndarray,
               log: Callable[[str], None]) -> None:
    """The start's runners-up merged with the incumbent (step ``crossover``): the integer columns on which
    all of them agree held, those where any differs freed, solved exactly from the incumbent with
    ``Budget.crossover_nodes`` nodes until ``Budget.crossover_share`` of the time limit. Where independent
    good plans agree is usually right, and where they differ each got part of it right: on the 400-unit
    Marxan grid the crossover of an annealing's five runs (50–110 free columns) reached the optimum for 6
    seeds in 12 where the best run did for 1 (benchmarks/README.md, "Crossover of the annealing's runs")."""
    end = budget.crossover_share * settings.time_limit
    if s.best is None or s.now() >= end:
        return
    free = s.model.integer & (np.abs(others - s.best.x) > 0.5).any(axis=0)
    if not free.any():
        return
    exact = settings.model_copy(update={"gap": 0.0})
    crossing = replace(budget, nodes=budget.crossover_nodes, step_share=budget.crossover_share)
    _, kept = _sub_mip(adapter, s, exact, crossing, "crossover", heuristic("crossover"), s.best.x, free, s.best.x,
                       end=end)
    if kept:
        log(f"primal engine: crossover of the start's runs, {s.best.objective:,.6g}")


def _lp_fixing(adapter: Adapter, s: Search, settings: SolverSettings, budget: Budget, x_lp: np.ndarray,
               log: Callable[[str], None]) -> None:
    """The LP's integral columns held, the fractional ones and a growing neighbourhood solved."""
    model = s.model
    seeds = fractional(model, x_lp)
    if not seeds.any():
        s.take(offer(model, s.complete, x_lp, heuristic("lp-fixing")))
        return
    attempts = [s.hood.around(seeds, size) for size in budget.fixing_sizes]
    _first_plan(adapter, s, settings, budget, "lp-fixing", x_lp, attempts, log)


def _rins(adapter: Adapter, s: Search, settings: SolverSettings, budget: Budget, x_lp: np.ndarray,
          log: Callable[[str], None]) -> None:
    """Neighbourhoods of the columns where the incumbent and the LP disagree, solved from the incumbent,
    growing while each round improves the plan and finishes. A round stopped by its node budget ends the
    search (a larger neighbourhood would not be finished either), and a round that at the last one's
    pace would reach the heuristics' time cap is not started: its plan would depend on the clock, not
    on the work (``bez_2030``'s second round always reached the cap, so its plan varied between runs)."""
    model, hood = s.model, s.hood
    cap, previous, pace = int(model.integer.sum()) // 2, -1, 0.0
    for size in budget.rins_sizes:
        if over(s, settings, budget) or proven(s, settings):
            return
        seeds = model.integer & (np.abs(s.best.x - x_lp) > 1e-6)
        if not seeds.any():
            return
        free = hood.around(seeds, min(size, cap))
        n_free = int(free[model.integer].sum())
        if int(free.sum()) <= previous or pace * n_free > until(s, settings, budget) - s.now():
            return  # the sparse rows reach no further (the same sub-MIP again), or it would end on the clock
        previous, t = int(free.sum()), s.now()
        res, kept = _sub_mip(adapter, s, settings, budget, "rins", heuristic("rins"), s.best.x, free, s.best.x)
        pace = (s.now() - t) / max(n_free, 1)
        if kept:
            log(f"primal engine: RINS improved the plan to {s.best.objective:,.6g}")
        if not kept or res.termination != OPTIMAL or n_free >= cap:
            return


def _result(adapter: Adapter, s: Search, settings: SolverSettings, termination: str, detail: str) -> SolveResult:
    """The engine's result: the best plan with who found it, the tighter bound, the trace closed at
    the final figures. A plan the bound proves within the gap is optimal however the MIP stopped."""
    best, elapsed = s.best, s.now()
    if termination != INTERRUPTED and best is not None and proven(s, settings):
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

