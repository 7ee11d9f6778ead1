"""The primal engine against the solver alone, side by side: each case solved by both, alternately,
each solve in its own process (as ``benchmarks/solve_one.py``), one JSON row per solve.

    python -m benchmarks.primal --cases syn10k-compactness syn10k-sites --time-limit 60 --out /tmp/primal.json

``--run LABEL`` appends the rows, labelled, to those already in ``--out`` (``benchmarks/primal.json``
keeps every session's rows that way).

The time limit is multiplied by the case's factor (the issue's targets: 10k parcels 60 s, 30k 180 s,
100k compactness 600 s). ``--instances DIR`` keeps the generated synthetic instances for a later run.

``before``: the solver alone from the problem's first plan (what ``landalloc solve`` did before the
engine); ``after``: ``optimizer.engine.primal.engine.solve`` (what it does now). Figures: time to each
gap of the trace, the final objective (completed, the plan's true value) and bound, and who found
the final plan.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .solve_one import time_to_gap

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "instances" / "cao_bang" / "scenarios"
CASES = {  # name → (scenario or synthetic size, benchmark family, time-limit factor); "all": sites + compactness
    "syn10k-compactness": (10_000, "compactness", 1.0),
    "syn30k-compactness": (30_000, "compactness", 3.0),
    "syn100k-compactness": (100_000, "compactness", 10.0),
    "syn10k-sites": (10_000, "sites", 1.0),
    "syn30k-sites": (30_000, "sites", 3.0),
    "syn10k-all": (10_000, "all", 1.0),
    "syn30k-all": (30_000, "all", 3.0),
    "syn100k-core": (100_000, "core", 1.0),
    "bez_2030": ("bez_2030", None, 1.0),
    "cao_bang_2030_quick": ("cao_bang_2030_quick", None, 1.0),
    "cao_bang_2030": ("cao_bang_2030", None, 1.0),
    "cao_bang_2030_compact": ("cao_bang_2030_compact", None, 1.0),
    "cao_bang_2030_2050": ("cao_bang_2030_2050", None, 2.0),
}


def child(scenario: str, overrides: dict, variant: str) -> dict:
    from optimizer.engine.primal import engine
    from optimizer.engine.primal.plans import completed
    from optimizer.engine.run import problem_class
    from optimizer.engine.scenario import apply_overrides, load_scenario
    from optimizer.engine.solvers import get_adapter

    loaded = apply_overrides(load_scenario(Path(scenario)), overrides)
    settings = loaded.scenario.solver
    problem = problem_class(loaded.raw)(loaded, settings)
    adapter = get_adapter(settings.name)
    t = time.perf_counter()
    start, _ = problem.initial_plan(lambda _: None)
    start_s = time.perf_counter() - t
    if variant == "before":
        res = completed(problem.model, adapter.solve(problem.model, settings, start=start), problem.complete)
    else:
        res = engine.solve(adapter, problem.model, settings, problem.complete, start=start)
    return {"columns": problem.model.n_cols, "rows": problem.model.n_rows, "start_s": round(start_s, 2),
            "solve_s": round(res.time_s, 2), "termination": res.termination, "objective": res.objective,
            "bound": res.bound, "gap": res.gap, "time_to_gap": time_to_gap(res.progress),
            "time_to_2pct": next((p["t"] for p in res.progress if p["gap"] is not None and p["gap"] <= 0.02), None),
            "found_by": (res.extra.get("primal") or {}).get("found_by"),
            "first_plan_s": next((p["t"] for p in res.progress if p["incumbent"] is not None), None),
            "steps": (res.extra.get("primal") or {}).get("steps")}


def scenario_of(case: str, tmp: Path) -> tuple[str, dict, float]:
    from instances.synthetic import write_instance

    from .__main__ import FAMILIES
    what, family, factor = CASES[case]
    if isinstance(what, int):
        out = tmp / f"syn{what}"
        if not (out / "scenario.yaml").exists():
            write_instance(out, what, seed=1)
        path = out / "scenario.yaml"
        return str(path), FAMILIES[family](path), factor
    return str(SCENARIOS / f"{what}.yaml"), {}, factor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", choices=sorted(CASES), default=sorted(CASES))
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--gap", type=float, default=0.005)
    ap.add_argument("--variants", nargs="+", choices=("before", "after"), default=["before", "after"])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/primal.json"))
    ap.add_argument("--run", help="a label stored in every row (``run``); with it, the rows are appended to "
                    "--out's rows instead of replacing them")
    ap.add_argument("--instances", type=Path, help="where the synthetic instances are written and reused "
                    "(default: a temporary folder)")
    ap.add_argument("--child", nargs=3, metavar=("SCENARIO", "OVERRIDES", "VARIANT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], json.loads(args.child[1]), args.child[2])), flush=True)
        return
    kept = json.loads(args.out.read_text()) if args.run and args.out.exists() else []
    rows = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            scenario, overrides, factor = scenario_of(case, args.instances or Path(tmp))
            limit = args.time_limit * factor
            overrides = {**overrides, "solver.time_limit": limit, "solver.gap": args.gap, "solver.threads": 1}
            for variant in args.variants:
                cmd = [sys.executable, "-m", "benchmarks.primal", "--child", scenario, json.dumps(overrides), variant]
                t = time.perf_counter()
                try:
                    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                                       timeout=limit * 1.5 + 180, check=False)
                    row = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else \
                        {"termination": f"crashed ({p.returncode})", "detail": p.stderr[-400:]}
                except subprocess.TimeoutExpired:
                    row = {"termination": "killed (overran its time limit)"}
                row.update(case=case, variant=variant, wall_s=round(time.perf_counter() - t, 1),
                           load_average=[round(v, 2) for v in os.getloadavg()],
                           date=time.strftime("%Y-%m-%d %H:%M %Z"), **({"run": args.run} if args.run else {}))
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "steps"}), flush=True)
                args.out.write_text(json.dumps(kept + rows, indent=1))


if __name__ == "__main__":
    main()
