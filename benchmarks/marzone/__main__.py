"""Marxan with Zones as a peer: landalloc and MarZone at equal wall time on seeded grid projects.

    python -m benchmarks.marzone --sizes 400 2500 10000 40000 --iterations 1e6 1e7        # compare (slow)
    python -m benchmarks.marzone --sizes 400 2500 --iterations 1e6 --append                  # add rows
    python -m benchmarks.marzone --linearization --sizes 400 2500 10000 --time-limit 120 --append
    python -m benchmarks.marzone --table                                                     # reprint the tables

Builds the peer (benchmarks/marzone/peer.py; needs g++), writes each grid project once
(benchmarks/marzone/generator.py) into --work, and records rows in --out (JSON) with the machine, date,
load and the peer's commit; prints the markdown tables benchmarks/README.md carries.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.marzone import compare, generator, linearization, peer
from optimizer.engine.solvers import get_adapter

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
WORK = peer.CACHE.parent / "marzone-bench"


def machine() -> dict:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if ln.startswith("Model name")), platform.processor())
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "highs": get_adapter("highs").version(),
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
            "landalloc_commit": _git("rev-parse", "--short", "HEAD").strip(),
            "uncommitted": [ln[3:] for ln in _git("status", "--porcelain", "--untracked-files=no").splitlines()]}


def _git(*args: str) -> str:
    """landalloc's own revision, so a row says which code it measured (uncommitted files included)."""
    return subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True).stdout


def project(work: Path, n: int, seed: int) -> Path:
    side = math.isqrt(n)
    if side * side != n:
        raise SystemExit(f"--sizes: {n} is not a square number of planning units (400, 2500, 10000, 40000)")
    out = work / f"grid{n}-seed{seed}"
    if not (out / "input.dat").exists():
        generator.write_grid_project(out, side, seed)
    return out


def _fmt(v, spec=",.2f", none="—"):
    return none if v is None else format(v, spec)


def _pct(fraction) -> str:
    return "—" if fraction is None else f"{100 * fraction:.2f} %"


def compare_table(rows: list[dict]) -> str:
    out = ["| session | PUs | MarZone iterations × reps | MarZone wall (s) | MarZone score | landalloc wall (s) | landalloc score "
           "| proven gap | MarZone above our bound | difference | lower score | load (1 min) |",
           "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        mz, la = r["marzone"], r["landalloc"]
        above = None if la["bound"] is None else (mz["score"] - la["bound"]) / abs(mz["score"])
        out.append(f"| {r['session']} | {r['planning_units']:,} | {r['iterations']:.0e} × {r['reps']} | {mz['wall_s']:.1f} | {mz['score']:,.2f} "
                   f"| {la['wall_s']:.1f} | {_fmt(la['score'], ',.2f', 'no plan')} | {_pct(la['gap'])} | {_pct(above)} "
                   f"| {_fmt(r['difference_pct'], '+.2f')}{'' if r['difference_pct'] is None else ' %'} | {r['winner']} | {r['load_before_marzone']} / {r['load_before_landalloc']} |")
    return "\n".join(out)


def linearization_table(rows: list[dict]) -> str:
    out = ["| session | PUs | form | HiGHS seed | built as | columns | rows | root LP bound | root LP (s) | first plan (s) | ≤ 1 % (s) "
           "| ≤ 0.5 % (s) | MIP end | final gap | load |",
           "|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        out.append(f"| {r['session']} | {r['planning_units']:,} | {r['form']} | {r.get('highs_seed', 0)} | {r['boundary_form']} | {r['columns']:,} | {r['rows']:,} "
                   f"| {_fmt(r['root_lp_bound'])} | {r['root_lp_s']:.1f} | {_fmt(r['first_plan_s'], '.1f')} "
                   f"| {_fmt(r['t_1pct'], '.1f')} | {_fmt(r['t_half_pct'], '.1f')} | {r['mip_termination']} "
                   f"| {_pct(r['gap'])} | {r['load_before']} |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.marzone", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[400, 2500, 10000, 40000], help="planning units (square numbers)")
    ap.add_argument("--iterations", type=float, nargs="*", default=[1e6, 1e7], help="MarZone NUMITNS per repetition")
    ap.add_argument("--reps", type=int, default=10, help="MarZone NUMREPS")
    ap.add_argument("--repeat", type=int, default=1, help="alternating MarZone/landalloc pairs per case")
    ap.add_argument("--seed", type=int, default=1, help="the projects' generator seed (MarZone's RANDSEED too)")
    ap.add_argument("--form", default="auto", choices=["auto", "aggregated", "marginal"],
                    help="landalloc's boundary linearization in the comparison")
    ap.add_argument("--linearization", action="store_true", help="measure the boundary linearizations instead")
    ap.add_argument("--time-limit", type=float, default=120.0, help="--linearization: seconds per MIP")
    ap.add_argument("--highs-seed", type=int, default=0, help="--linearization: HiGHS seed of the first round (+1 per round)")
    ap.add_argument("--work", type=Path, default=WORK, help="projects and runs (outside the repository)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--append", action="store_true", help="add to the rows in --out instead of replacing them")
    ap.add_argument("--table", action="store_true", help="only print the tables of --out")
    a = ap.parse_args(argv)
    data = json.loads(a.out.read_text()) if a.out.exists() and (a.append or a.table) else {"sessions": [], "compare": [],
                                                                                            "linearization": []}
    if not a.table:
        session = {"id": len(data["sessions"]), "machine": machine(), "argv": sys.argv[1:] if argv is None else list(argv)}
        if a.linearization:
            rows = [r for n in a.sizes for r in linearization.measure(project(a.work, n, a.seed), time_limit=a.time_limit,
                                                                      repeat=a.repeat, seed=a.highs_seed)]
            data["linearization"] += [{**r, "session": session["id"]} for r in rows]
        else:
            binary, session["peer"] = peer.build()
            rows = []
            for n in a.sizes:
                for itns in a.iterations:
                    rows += compare.compare(project(a.work, n, a.seed), a.work / f"runs{n}", binary, iterations=int(itns),
                                            reps=a.reps, repeat=a.repeat, seed=a.seed, linearization=a.form)
            data["compare"] += [{**r, "session": session["id"]} for r in rows]
        session["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        data["sessions"].append(session)
        a.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    for s in data["sessions"]:
        m = s["machine"]
        print(f"session {s['id']}: {m['date_utc']} UTC, {m['cpu']} ({m['cores']} cores), HiGHS {m['highs']}, "
              f"peer {s.get('peer', {}).get('commit', '—')}; {m['uptime']} → {s['uptime_after']}")
    if data["compare"]:
        print("\n" + compare_table(data["compare"]))
    if data["linearization"]:
        print("\n" + linearization_table(data["linearization"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
