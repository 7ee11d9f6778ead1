"""The joint 2030–2050 model measured: its myopic start, reduced-cost fixing, the periods alone as a bound.

    python -m benchmarks.joint instances/cao_bang/scenarios/cao_bang_2030_2050.yaml --rounds 2 --time-limit 240

Variants, each solve in its own process, alternating round by round (``uptime`` load recorded at each start):
- ``engine``: what ``landalloc solve`` runs — the myopic start, then the primal engine (LP, RINS, MIP);
- ``mip``: the myopic start, then HiGHS on the whole joint model from it;
- ``fixing``: the myopic start, the LP relaxation with its reduced costs, the columns no plan within
  the gap of the start can move held (``optimizer.engine.primal.fixing.fix_by_reduced_costs``), then
  HiGHS on that model from the start; its bound is taken with the fixing's floor (``bound_with``), and
  its plan is checked against every row of the whole joint model;
- ``engine-fixing``: the same held model given to the primal engine (which solves the LP again, then
  RINS and the MIP);
- ``periods``: the decomposition bound — each period alone (its own rows, no link row, the joint
  objective's weight), solved as the run's MIP: the sum of their bounds is a bound of the joint model,
  as every joint plan meets each period's rows. Also the *centre* (the myopic plan's earlier periods
  with the last period's own plan), how many link rows it breaks, and the joint plan a sub-MIP around
  those rows makes of it (``--repair-size`` integer columns freed through the sparse rows, gap 0,
  1,000 nodes).
Suffixes ``+OPT=V`` (repeatable, V a JSON value) give HiGHS more options, e.g. ``fixing+presolve="off"``.

Figures: the myopic start's time and objective (and each of its steps: time, objective, bound), the LP's
time, the columns held, the solve's time to 0.5 % (from the end of the start), the final objective,
bound and gap.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from .solve_one import time_to_gap

ROOT = Path(__file__).resolve().parents[1]


def lp_with_reduced_costs(model) -> tuple[np.ndarray, np.ndarray, float, float]:
    """The LP relaxation with its reduced costs through SciPy's HiGHS dual simplex — a second path beside
    the adapter's (``SolveResult.reduced_costs``), so the tests check the fixing against reduced costs the
    engine did not compute: x, the reduced costs in the model's own sense, the bound and the seconds it took."""
    sign = -1.0 if model.sense == "max" else 1.0                    # linprog minimizes
    A = model.A.tocsr()
    lo, hi = model.row_lo, model.row_hi
    eq = lo == hi
    upper, lower = ~eq & np.isfinite(hi), ~eq & np.isfinite(lo)
    t = time.perf_counter()
    res = linprog(sign * model.c, A_ub=sp.vstack([A[upper], -A[lower]]).tocsr(),
                  b_ub=np.concatenate([hi[upper], -lo[lower]]), A_eq=A[eq], b_eq=lo[eq],
                  bounds=np.column_stack([model.col_lo, model.col_hi]), method="highs-ds")
    seconds = time.perf_counter() - t
    if res.status != 0:
        raise RuntimeError(f"LP relaxation: {res.message}")
    # d(min objective)/d(bound) of each column: its reduced cost in the minimization
    reduced = sign * (res.lower.marginals + res.upper.marginals)
    return res.x, reduced, sign * res.fun + model.offset, seconds


def alone(phased, block):
    """One period of the stacked model by itself: its columns (with the stacked bounds), its own rows,
    no link row, and its share of the joint objective (the period's weight included)."""
    from optimizer.engine.model import CompiledModel

    m = phased.model
    cols = slice(block.col_offset, block.col_offset + block.compiled.model.n_cols)
    rows = slice(block.row_offset, block.row_offset + block.compiled.model.n_rows)
    return CompiledModel(A=m.A[rows][:, cols], row_lo=m.row_lo[rows], row_hi=m.row_hi[rows], c=m.c[cols],
                         col_lo=m.col_lo[cols].copy(), col_hi=m.col_hi[cols].copy(), integer=m.integer[cols],
                         sense=m.sense, columns=m.columns.iloc[cols].reset_index(drop=True),
                         rows=m.rows.iloc[rows].reset_index(drop=True), ineligible=m.ineligible, offset=0.0)


def decomposition_bound(phased, adapter, settings) -> tuple[float | None, list]:
    """Σ over the periods of the bound of each period alone (``alone``): a bound of the joint model, as a
    joint plan meets every period's own rows and its objective is the sum of the periods' shares (plus
    the model's offset). Also each period's result, for its time, plan and bound."""
    results = [adapter.solve(alone(phased, b), settings) for b in phased.blocks]
    bounds = [r.bound for r in results]
    total = None if None in bounds else float(sum(bounds) + phased.model.offset)
    return total, results


def periods_alone(phased, adapter, settings, start, repair_size: int) -> dict:
    """The ``periods`` variant: the decomposition bound, the centre and its repair (see the module's doc)."""
    from optimizer.engine.primal.neighbourhoods import Neighbourhoods, solve_around
    from optimizer.engine.solvers.base import relative_gap

    model = phased.model
    t = time.perf_counter()
    bound, results = decomposition_bound(phased, adapter, settings)
    out = {"periods_alone": [{"period": b.name, "time_s": round(r.time_s, 2), "objective": r.objective, "bound": r.bound}
                             for b, r in zip(phased.blocks, results)],
           "periods_s": round(time.perf_counter() - t, 2), "decomposition_bound": bound,
           "start_gap_to_it": relative_gap(model.objective_value(start), bound)}
    last = phased.blocks[-1]
    if results[-1].x is None:
        return out
    centre = start.copy()
    centre[last.col_offset:last.col_offset + last.compiled.model.n_cols] = np.round(results[-1].x, 9)
    activity = model.A @ centre
    broken = np.nonzero((activity > model.row_hi + 1e-6) | (activity < model.row_lo - 1e-6))[0]
    seeds = np.zeros(model.n_cols, dtype=bool)
    seeds[np.unique(model.A.tocsr()[broken].indices)] = True
    free = Neighbourhoods(model).around(seeds & model.integer, repair_size)
    t = time.perf_counter()
    res = solve_around(adapter, model, settings.model_copy(update={"gap": 0.0}), centre, free, None, 120, 1000)
    plan_ok = res.x is not None and not len(model.violations(res.x))
    out.update(centre_objective=model.objective_value(centre), centre_broken_rows=int(len(broken)),
               repair_free=int(free[model.integer].sum()), repair_s=round(time.perf_counter() - t, 2),
               repair_objective=model.objective_value(res.x) if plan_ok else None,
               repair_gap=relative_gap(model.objective_value(res.x), bound) if plan_ok else None)
    return out


def child(scenario: str, variant: str, time_limit: float, repair_size: int = 2000) -> dict:
    from optimizer.engine.primal.fixing import bound_with, fix_by_reduced_costs
    from optimizer.engine.primal import engine
    from optimizer.engine.primal.plans import completed
    from optimizer.engine.run import problem_class
    from optimizer.engine.scenario import apply_overrides, load_scenario
    from optimizer.engine.solvers import get_adapter
    from optimizer.engine.solvers.base import relative_gap

    base, *options = variant.split("+")
    overrides = {"solver.time_limit": time_limit, "solver.threads": 1}
    for option in options:
        key, value = option.split("=", 1)
        overrides[f"solver.options.{key}"] = json.loads(value)
    loaded = apply_overrides(load_scenario(Path(scenario)), overrides)
    settings = loaded.scenario.solver
    problem = problem_class(loaded.raw)(loaded, settings)
    model, adapter = problem.model, get_adapter(settings.name)
    t = time.perf_counter()
    start, warm = problem.initial_plan(lambda _: None)
    row = {"variant": variant, "start_s": round(time.perf_counter() - t, 2), "start_objective": model.objective_value(start),
           "start_steps": [{k: p[k] for k in ("period", "time_s", "objective", "bound")} for p in warm["periods"]]}
    t = time.perf_counter()
    if base == "periods":
        row.update(periods_alone(problem.phased, adapter, settings, start, repair_size))
        row["solve_s"] = round(time.perf_counter() - t, 2)
        return row
    if base == "engine":
        res = engine.solve(adapter, model, settings, problem.complete, start=start)
        bound = res.bound
    elif base == "mip":
        res = completed(model, adapter.solve(model, settings, start=start), problem.complete)
        bound = res.bound
    else:
        x_lp, rc, lp_bound, lp_s = lp_with_reduced_costs(model)
        fixing = fix_by_reduced_costs(model, x_lp, rc, lp_bound, start, settings.gap)
        fixed = fixing.held(model)
        left = settings.model_copy(update={"time_limit": max(1.0, settings.time_limit - (time.perf_counter() - t))})
        if base == "engine-fixing":  # the engine on the held model: its own LP again (the same bound), RINS, MIP
            res = engine.solve(adapter, fixed, left, problem.complete, start=start)
        else:
            res = completed(fixed, adapter.solve(fixed, left, start=start), problem.complete)
        bound = bound_with(model, fixing, res.bound)
        shift = time.perf_counter() - t - res.time_s                      # the LP and fixing before the MIP
        res.progress = [{**p, "t": p["t"] + shift} for p in res.progress]
        row.update(lp_s=round(lp_s, 2), lp_bound=lp_bound, held=len(fixing.fixed), floor=fixing.floor)
    solve_s = time.perf_counter() - t
    ok = res.x is not None and not len(model.violations(res.x))            # a plan of the whole joint model
    objective = model.objective_value(res.x) if res.x is not None else None
    row.update(solve_s=round(solve_s, 2), termination=res.termination, objective=objective, bound=bound,
               gap=relative_gap(objective, bound), meets_every_row=ok, time_to_gap=time_to_gap(res.progress),
               better_than_start=None if objective is None else objective > row["start_objective"] + 1e-6)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", type=Path, nargs="?")
    ap.add_argument("--variants", nargs="+", default=["engine", "mip", "fixing"],
                    help="engine, mip, fixing, engine-fixing, periods (each with +OPT=V suffixes)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=240.0)
    ap.add_argument("--out", type=Path, help="append one JSON row per solve")
    ap.add_argument("--repair-size", type=int, default=2000,
                    help="integer columns the periods variant frees around the centre's broken link rows")
    ap.add_argument("--child", nargs=4, metavar=("SCENARIO", "VARIANT", "LIMIT", "REPAIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], float(args.child[2]), int(args.child[3]))), flush=True)
        return
    if args.scenario is None:
        ap.error("the scenario is required")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    for rnd in range(args.rounds):
        for variant in args.variants:
            load = os.getloadavg()
            cmd = [sys.executable, "-m", "benchmarks.joint", "--child", str(args.scenario.resolve()), variant,
                   str(args.time_limit), str(args.repair_size)]
            p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
            row = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else \
                {"variant": variant, "termination": f"crashed ({p.returncode})", "detail": p.stderr[-400:]}
            row.update(round=rnd + 1, load_at_start=[round(v, 2) for v in load],
                       load_at_end=[round(v, 2) for v in os.getloadavg()],
                       date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
            print(json.dumps(row), flush=True)
            if args.out:
                with args.out.open("a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
