"""Joint multi-period plan vs the myopic one (2030 first, then 2050 with 2030 fixed), side by side.

    python -m benchmarks.myopic instances/cao_bang/scenarios/cao_bang_2030_2050.yaml --time-limit 300

Both are solved with the scenario's solver settings in this process, one after the other; each
period's own objective is reported for both, with the weighted total the joint model maximizes, so
the table says what planning 2030 without regard for 2050 costs (or whether it leaves 2050 with no
plan). Writes benchmarks/myopic.json and prints a markdown table for benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from optimizer.engine.instance import load_instance
from optimizer.engine.phasing import compile_phased, period_objectives, solve_myopic
from optimizer.engine.scenario import apply_overrides, load_scenario
from optimizer.engine.solvers import get_adapter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", type=Path)
    ap.add_argument("--time-limit", type=float, default=300.0, help="per solve (s)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/myopic.json"))
    args = ap.parse_args()
    loaded = apply_overrides(load_scenario(args.scenario), {"solver.time_limit": args.time_limit})
    settings = loaded.scenario.solver
    phased = compile_phased(load_instance(loaded), loaded)
    weights = [loaded.scenario.periods[b.name].weight for b in phased.blocks]

    t = time.perf_counter()
    joint = get_adapter(settings.name).solve(phased.model, settings)
    joint_s = time.perf_counter() - t
    t = time.perf_counter()
    myopic, x_myopic = solve_myopic(phased, settings)
    myopic_s = time.perf_counter() - t

    joint_periods = period_objectives(phased, joint.x) if joint.has_solution else [None] * len(weights)
    rows = []
    for b, w, j, m in zip(phased.blocks, weights, joint_periods, myopic):
        rows.append({"period": b.name, "weight": w, "joint": j, "myopic": m.objective,
                     "myopic_termination": m.termination, "myopic_gap": m.gap})
    total = {"joint": joint.objective, "joint_gap": joint.gap, "joint_termination": joint.termination,
             "myopic": None if x_myopic is None else sum(w * r["myopic"] for w, r in zip(weights, rows)),
             "joint_s": round(joint_s, 2), "myopic_s": round(myopic_s, 2)}
    result = {"scenario": str(args.scenario), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "solver": f"{joint.solver} {joint.solver_version}", "gap": settings.gap, "periods": rows, "total": total}
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    fmt = lambda v: "no plan" if v is None else f"{v:,.1f}"  # noqa: E731
    print("| period | weight | joint | myopic | myopic − joint |\n|---|---:|---:|---:|---:|")
    for r in rows:
        diff = None if r["joint"] is None or r["myopic"] is None else r["myopic"] - r["joint"]
        print(f"| {r['period']} | {r['weight']:g} | {fmt(r['joint'])} | {fmt(r['myopic'])} | {fmt(diff)} |")
    diff = None if total["joint"] is None or total["myopic"] is None else total["myopic"] - total["joint"]
    print(f"| weighted total | | {fmt(total['joint'])} | {fmt(total['myopic'])} | {fmt(diff)} |")
    ends = ", ".join(f"{r['period']} {r['myopic_termination']}" for r in rows)
    print(f"\njoint {total['joint_termination']} (gap {joint.gap:.2%}) in {joint_s:.1f} s; myopic {ends} in {myopic_s:.1f} s")


if __name__ == "__main__":
    main()
