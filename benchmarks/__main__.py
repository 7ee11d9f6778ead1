"""Benchmark runner: compile time (vectorized vs naive pulp), solve time, objective, bound, gap, peak memory.

    python -m benchmarks --sizes 1000 10000 --repeat 3 --solve-sizes 1000 --out benchmarks/results.json

Each size uses the seeded synthetic generator (instances/synthetic.py). Times are medians over
--repeat runs; the vectorized and naive builds are timed side by side in the same process, so their
ratio is meaningful on a noisy machine even when absolute times are not.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path



def _median_time(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--solve-sizes", type=int, nargs="*", default=[1000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--naive-max", type=int, default=30000, help="largest size for the naive pulp build")
    ap.add_argument("--time-limit", type=float, default=120)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results.json"))
    args = ap.parse_args()

    from constraints import active_families
    from instances.synthetic import write_instance
    from optimizer.compile import compile_model
    from optimizer.instance import load_instance
    from optimizer.scenario import apply_overrides, load_scenario
    from optimizer.solvers import get_adapter

    from .naive_pulp import build as naive_build

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = write_instance(Path(tmp) / f"n{n}", n=n, seed=1, gap=1e-3)
            loaded = apply_overrides(load_scenario(path), {"solver.time_limit": args.time_limit})
            inst = load_instance(loaded)
            inst.adjacency()
            compile_s, compiled = _median_time(lambda: compile_model(inst, loaded), args.repeat)
            tracemalloc.start()  # a separate, untimed build: tracing slows Python several-fold
            compile_model(inst, loaded)
            peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            row = {"parcels": n, "columns": compiled.model.n_cols, "rows": compiled.model.n_rows,
                   "compile_s": round(compile_s, 4), "compile_peak_mb": round(peak_mb, 1)}
            if n <= args.naive_max:
                fams = active_families(loaded)
                for f in fams:
                    f.prepare(inst)
                naive_s, (_, ncols) = _median_time(lambda: naive_build(inst, loaded, fams), max(1, args.repeat // 2))
                row.update(naive_pulp_s=round(naive_s, 4), naive_columns=ncols, speedup=round(naive_s / compile_s, 1))
            if n in args.solve_sizes:
                res = get_adapter("highs").solve(compiled.model, loaded.scenario.solver)
                row.update(solve_s=round(res.time_s, 3), termination=res.termination, objective=res.objective,
                           bound=res.bound, gap=res.gap)
            print(json.dumps(row), flush=True)
            rows.append(row)
    meta = {"machine": platform.platform(), "python": platform.python_version(), "cpus": __import__("os").cpu_count(),
            "date": time.strftime("%Y-%m-%d %H:%M %Z"), "repeat": args.repeat}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
