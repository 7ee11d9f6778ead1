"""The joint 2030–2050 model: HiGHS from the myopic plan with and without reduced-cost fixing.

    python -m benchmarks.joint instances/cao_bang/scenarios/cao_bang_2030_2050.yaml --rounds 2 --time-limit 240

Variants, each solve in its own process, alternating round by round (``uptime`` load recorded at each start):
- ``engine``: what ``landalloc solve`` runs — the myopic start, then the primal engine (LP, RINS, MIP);
- ``mip``: the myopic start, then HiGHS on the whole joint model from it;
- ``fixing``: the myopic start, the LP relaxation with its reduced costs, the columns no plan within
  the gap of the start can move held (``optimizer.engine.phasing.fix_by_reduced_costs``), then HiGHS
  on that model from the start; its bound is taken with the fixing's floor (``bound_with``), and its
  plan is checked against every row of the whole model;
- ``engine-fixing``: the same held model given to the primal engine (which solves the LP again, then
  RINS and the MIP): what the engine would do with the fixing wired in, plus one LP.
Suffixes ``+OPT=V`` (repeatable, V a JSON value) give HiGHS more options, e.g. ``fixing+presolve="off"``.

Figures: the myopic start's time and objective, the LP's time, the columns held, the solve's time to
0.5 % (from the end of the start), the final objective, bound and gap.
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
    """The LP relaxation with its reduced costs (the adapter returns no duals), through SciPy's HiGHS
    dual simplex: x, the reduced costs in the model's own sense, the bound and the seconds it took."""
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


def child(scenario: str, variant: str, time_limit: float) -> dict:
    from optimizer.engine.phasing import bound_with, fix_by_reduced_costs
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
    start, _ = problem.initial_plan(lambda _: None)
    row = {"variant": variant, "start_s": round(time.perf_counter() - t, 2), "start_objective": model.objective_value(start)}
    t = time.perf_counter()
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
    ap.add_argument("--variants", nargs="+", default=["engine", "mip", "fixing"])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=240.0)
    ap.add_argument("--out", type=Path, help="append one JSON row per solve")
    ap.add_argument("--child", nargs=3, metavar=("SCENARIO", "VARIANT", "LIMIT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], float(args.child[2]))), flush=True)
        return
    if args.scenario is None:
        ap.error("the scenario is required")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    for rnd in range(args.rounds):
        for variant in args.variants:
            load = os.getloadavg()
            cmd = [sys.executable, "-m", "benchmarks.joint", "--child", str(args.scenario.resolve()), variant,
                   str(args.time_limit)]
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
