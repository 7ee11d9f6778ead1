"""landalloc against Marxan with Zones at equal wall time, both plans scored by one scorer.

For each project and iteration count, MarZone runs first (NUMREPS repetitions on one thread); landalloc
then solves the imported project with ``landalloc solve`` (one thread, seed 0) with MarZone's wall time as
its time limit. The two alternate, so both see the machine's load at the same time; the load average
is recorded before each run. Both best plans are scored by ``optimizer/marxan/score.py``; MarZone's own
printed score for its best plan (6 significant digits) is checked against that scorer on every run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.marzone import peer
from optimizer.marxan.project import import_project
from optimizer.marxan.reader import read_project
from optimizer.marxan.score import evaluate, plan_violations
from optimizer.marxan.solutions import read_plan


def load() -> float:
    """The 1-minute load average (2 cores here: 1.0 means one core busy on average)."""
    return round(os.getloadavg()[0], 2)


def imported(project: Path, out: Path, linearization: str) -> Path:
    """The project imported as a scenario directory (soft targets: Marxan's own score); its scenario.yaml."""
    return import_project(project, out, targets="soft", linearization=linearization).scenario_path


def agrees(reported: float, ours: float) -> bool:
    """MarZone prints 6 significant digits: they agree when ours rounds to what it printed."""
    return float(f"{ours:.6g}") == reported


def run_landalloc(scenario: Path, out: Path, time_limit: float, seed: int = 0) -> dict:
    """``landalloc solve`` in its own process, as a user runs it; the whole process is timed."""
    cmd = [sys.executable, "-m", "optimizer", "solve", str(scenario), "--out", str(out), "--time-limit", f"{time_limit:.3f}",
           "--threads", "1", "--seed", str(seed), "--gap", "0", "--no-marginals", "--json", "--store", "none", "--overwrite"]
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - t
    if res.returncode not in (0, 4):
        raise RuntimeError(f"landalloc solve exit {res.returncode}: {res.stderr[-2000:]}")
    run = json.loads((out / "run.json").read_text())
    first = next((pt["t"] for pt in run.get("progress", []) if pt.get("incumbent") is not None), None)
    return {"wall_s": wall, "time_limit_s": time_limit, "exit_code": res.returncode, "termination": run["termination"],
            "objective": run.get("objective"), "bound": run.get("bound"), "gap": run.get("gap"),
            "solve_s": run["timings"].get("solve_s"), "first_plan_s": first,
            "boundary_linearization": run["marxan"].get("boundary_linearization"),
            "best_file": str(out / "best.csv") if (out / "best.csv").exists() else None}


def compare(project: Path, work: Path, binary: Path, *, iterations: int, reps: int, repeat: int, seed: int,
            linearization: str) -> list[dict]:
    """Rows for one project and iteration count: MarZone then landalloc, ``repeat`` times."""
    p = read_project(project)
    scenario = imported(project, work / "scenario", linearization)
    rows = []
    for k in range(repeat):
        row = {"planning_units": p.n_pu, "iterations": iterations, "reps": reps, "repeat": k}
        row["load_before_marzone"] = load()
        mz = peer.run(binary, project, work / f"marzone-{iterations:g}-{k}", iterations=iterations, reps=reps, seed=seed + k)
        zone = read_plan(p, Path(mz["best_file"]))
        mz_score = evaluate(p, zone)
        mz.update(score=mz_score.total, violations=len(plan_violations(p, zone)),
                  scorer_agrees=agrees(mz["reported"]["score"], mz_score.total))
        row["load_before_landalloc"] = load()
        la = run_landalloc(scenario, work / f"landalloc-{iterations:g}-{k}", mz["wall_s"])
        if la["best_file"]:
            lz = read_plan(p, Path(la["best_file"]))
            la.update(score=evaluate(p, lz).total, violations=len(plan_violations(p, lz)))
        else:
            la.update(score=None, violations=None)
        row.update(marzone=mz, landalloc=la, load_after=load())
        if la["score"] is not None:
            row["difference_pct"] = 100.0 * (la["score"] - mz_score.total) / abs(mz_score.total)
            row["winner"] = "landalloc" if la["score"] < mz_score.total else "MarZone" if la["score"] > mz_score.total else "tie"
        else:
            row["difference_pct"], row["winner"] = None, "MarZone (landalloc: no plan)"
        print(f"  {p.n_pu:>6} PUs, {iterations:.0e} iterations: MarZone {mz_score.total:,.2f} in {mz['wall_s']:.1f} s "
              f"(printed {mz['reported']['score']:g}, {'agrees' if mz['scorer_agrees'] else 'DIFFERS'}); landalloc "
              f"{'no plan' if la['score'] is None else format(la['score'], ',.2f')} (gap "
              f"{'—' if la['gap'] is None else format(100 * la['gap'], '.2f') + ' %'}) in {la['wall_s']:.1f} s; "
              f"load {row['load_before_marzone']}/{row['load_before_landalloc']}", file=sys.stderr, flush=True)
        rows.append(row)
    return rows
