"""HiGHS option sets side by side on one model per case, alternating, for the per-class table in
optimizer/engine/solvers/_highs_options.py.

    python -m benchmarks.highs_options --case cao_bang_2030_2050 --sets '{}' '{"mip_lp_solver": "ipm"}' --rounds 2

Each case is loaded and compiled once; its first plan is made the way `benchmarks.solve_one` makes
it (the sites' greedy cores, the myopic plan of a phased scenario); then the option sets are solved
in turn, round after round (A B A B …), so that a shared machine's load falls on every set alike.
The class options of the table are switched off here: every set is measured against HiGHS's
defaults. Prints a markdown table (time to 1 % and 0.5 %, final gap, solve time per run) and the
`uptime` load before each round.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.__main__ import CAO_BANG, FAMILIES
from benchmarks.solve_one import time_to_gap

SYNTHETIC = {"synthetic_10k_core": (10000, "core"), "synthetic_1k_compactness": (1000, "compactness"),
             "synthetic_10k_compactness": (10000, "compactness"), "synthetic_1k_sites": (1000, "sites")}
MARXAN_GRIDS = {"marxan_zones_2500": 50, "marxan_zones_10000": 100}  # grid side


def _case(name: str, time_limit: float, work: Path):
    """(model, settings, start) of a named case."""
    from optimizer.engine.run import problem_class
    from optimizer.engine.scenario import apply_overrides, load_scenario, SolverSettings

    if name in MARXAN_GRIDS:
        from benchmarks.marzone.generator import grid_project
        from optimizer.marxan.model import build_model

        model = build_model(grid_project(MARXAN_GRIDS[name], seed=1), targets="soft").model
        return model, SolverSettings(time_limit=time_limit, gap=0.005, threads=1, seed=0), None
    if name in SYNTHETIC:
        from instances.synthetic import write_instance

        n, family = SYNTHETIC[name]
        path = write_instance(work / name, n=n, seed=1, gap=0.005)
        overrides = FAMILIES[family](path)
    else:
        path, overrides = CAO_BANG / f"{name}.yaml", {}
    loaded = apply_overrides(load_scenario(path), {**overrides, "solver.time_limit": time_limit})
    problem = problem_class(loaded.raw)(loaded, loaded.scenario.solver)
    start = problem.initial_plan(lambda _: None)[0] if loaded.scenario.solver.warm_start else None
    return problem.model, loaded.scenario.solver, start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", required=True)
    ap.add_argument("--sets", nargs="+", required=True, help="option sets as JSON objects; '{}' = HiGHS's defaults")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--out", type=Path, help="append the rows as JSON lines here")
    args = ap.parse_args()

    from optimizer.engine.solvers import _highs_options, get_adapter

    with tempfile.TemporaryDirectory() as tmp:
        model, settings, start = _case(args.case, args.time_limit, Path(tmp))
    cls = _highs_options.model_class(model)
    _highs_options.CLASS_OPTIONS[cls] = {}  # measure against HiGHS's defaults
    adapter = get_adapter("highs")
    rows = []
    print(f"{args.case}: class {cls}, {model.n_cols:,} columns × {model.n_rows:,} rows, start: {start is not None}")
    print("| options | round | load (1 min) | t ≤ 1 % (s) | t ≤ 0.5 % (s) | solve (s) | termination | gap | objective |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|")
    for rnd in range(args.rounds):
        for spec in args.sets:
            options = json.loads(spec)
            load = os.getloadavg()[0]
            res = adapter.solve(model, settings.model_copy(update={"options": options}), start=start)
            ttg = time_to_gap(res.progress)
            row = {"case": args.case, "class": cls, "options": options, "round": rnd + 1, "load": round(load, 2),
                   "t_1pct": ttg["0.01"], "t_05pct": ttg["0.005"], "solve_s": round(res.time_s, 2),
                   "termination": res.termination, "gap": res.gap, "objective": res.objective,
                   "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
            rows.append(row)
            fmt = lambda v, f="{:.1f}": "—" if v is None else f.format(v)  # noqa: E731
            print(f"| `{spec}` | {rnd + 1} | {load:.2f} | {fmt(row['t_1pct'])} | {fmt(row['t_05pct'])} | "
                  f"{row['solve_s']:.1f} | {res.termination} | {fmt(res.gap, '{:.2%}')} | {fmt(res.objective, '{:,.2f}')} |",
                  flush=True)
    if args.out:
        with args.out.open("a", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


if __name__ == "__main__":
    main()
