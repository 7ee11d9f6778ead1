"""One benchmark solve in its own process: load → compile → solve with HiGHS, one JSON line on stdout.

    python -m benchmarks.solve_one SCENARIO.yaml '{"solver.time_limit": 120}'

A process of its own so that the parent can kill a solver that ignores its time limit (CONVENTIONS.md) and
so that the peak resident memory (ru_maxrss) belongs to this solve alone — Python and its libraries
included, which is what a planner's machine must hold. The scenario opens as the problem `landalloc solve`
would choose (optimizer.engine.run.problem_class), with the same first plan; decoding and verification are
not timed here.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

THRESHOLDS = (0.10, 0.05, 0.01, 0.005)


def time_to_gap(progress: list[dict], thresholds=THRESHOLDS) -> dict[str, float | None]:
    """Seconds at which the trace's gap first fell to each threshold (None: never). The trace samples the bound
    about every 0.5 s (optimizer/engine/solvers/highs.py), which is the resolution of these figures."""
    out = {}
    for th in thresholds:
        out[f"{th:g}"] = next((p["t"] for p in progress if p["gap"] is not None and p["gap"] <= th), None)
    return out


def run(scenario: Path, overrides: dict) -> dict:
    from optimizer.engine.run import problem_class
    from optimizer.engine.scenario import apply_overrides, load_scenario
    from optimizer.engine.solvers import get_adapter

    loaded = apply_overrides(load_scenario(scenario), overrides)
    settings = loaded.scenario.solver
    problem = problem_class(loaded.raw)(loaded, settings)
    load_s, compile_s = problem.timings["load_s"], problem.timings["compile_s"]
    model, adapter = problem.model, get_adapter(settings.name)
    t = time.perf_counter()
    start = None
    engine = adapter.features.warm_start and settings.warm_start  # as `landalloc solve` does (run._solve)
    if engine:
        start, _ = problem.initial_plan(lambda _: None)
    start_s = time.perf_counter() - t
    if engine:
        from optimizer.engine.primal import engine as primal
        res = primal.solve(adapter, model, settings, problem.complete, start=start)
    else:
        res = adapter.solve(model, settings)
    return {"parcels": problem.instance.n, "columns": model.n_cols, "rows": model.n_rows, "nonzeros": int(model.A.nnz),
            "load_s": round(load_s, 3), "compile_s": round(compile_s, 3), "warm_start_s": round(start_s, 3),
            "solve_s": round(res.time_s, 3),
            "termination": res.termination, "objective": res.objective, "bound": res.bound, "gap": res.gap,
            "solver": f"{res.solver} {res.solver_version}", "time_limit": settings.time_limit,
            "requested_gap": settings.gap, "time_to_gap": time_to_gap(res.progress),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "progress": res.progress}


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]), json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})), flush=True)
