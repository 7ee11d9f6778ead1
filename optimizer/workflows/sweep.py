"""Parameter sweeps: one run per grid point, on a local process pool or a Dask cluster.

A grid is YAML, either a mapping of dotted paths to lists of values (the cartesian product, in the
order written; the first path varies slowest)::

    quotas.SKK.hi: [200, 250]
    objective.terms.forest_loss.weight: [-30, -10]

or a list of explicit override mappings, one per run::

    - {quotas.SKK.hi: 200}
    - {quotas.SKK.hi: 250, solver.seed: 1}

Every point is validated (paths and values, see ``optimizer/workflows/whatif.py``) before anything runs. Each
task solves with one solver thread (``solver.threads=1`` unless the grid sets it), so tasks do not
compete for cores and HiGHS is deterministic: the process pool and a Dask cluster give identical
objectives. Marginal-value re-solves are off unless asked for (they multiply the work per point).

Output directory: ``runs/<index>/`` (a run directory per point, index from 0), ``summary.csv``,
``sweep.gpkg`` (attribute table ``summary``), ``tradeoff.png`` and ``sweep.json``. Each run is also
recorded in the run store by the calling process (one writer, whatever the executor).

With a remote Dask scheduler, workers read the scenario's input files and write the run directories
by the paths given here: they must see the same filesystem (as for any Dask job reading files).
"""

from __future__ import annotations

import itertools
import logging
import math
import multiprocessing
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from optimizer.engine.errors import EXIT_NO_SOLUTION, EXIT_OK, InputError, LandallocError
from optimizer.engine.files import atomic_write, atomic_write_text
from optimizer.engine.rundir import atomic_write_layer, dumps, plan_with_inputs
from optimizer.engine.strict_yaml import load_yaml
from optimizer.engine.scenario import LoadedScenario, load_scenario
from optimizer.workflows.metrics import plan_kpis
from optimizer.workflows.whatif import make_variant, solve_variant

FORKSERVER_PRELOAD = ["optimizer.workflows.sweep", "optimizer.engine.run", "optimizer.engine.rundir",
                      "optimizer.workflows.metrics"]
"""Modules a forkserver imports once before forking workers: this module and what :func:`run_point` runs."""


@dataclass
class SweepPoint:
    index: int
    overrides: dict[str, Any]


def read_grid(path: Path) -> list[dict[str, Any]]:
    """The grid file as a list of override mappings (one per run)."""
    label = str(path)
    if not Path(path).is_file():
        raise InputError(label, None, "grid file not found", "check the path")
    try:
        raw = load_yaml(Path(path).read_text(encoding="utf-8"), label)  # strict: duplicate keys, decimal commas, …
    except UnicodeDecodeError:
        raise InputError(label, None, "not UTF-8 text", "save the grid as UTF-8") from None
    if isinstance(raw, dict):
        if not raw:
            raise InputError(label, None, "the grid is empty", "map dotted paths to lists of values")
        for key, values in raw.items():
            if not isinstance(key, str):
                raise InputError(label, repr(key), "a grid key must be a dotted path string", "e.g. quotas.SKK.hi")
            if not isinstance(values, list) or not values:
                raise InputError(label, key, "must be a non-empty list of values",
                                 f"e.g. {key}: [{values!r}]" if not isinstance(values, list) else "give at least one value")
        keys = list(raw)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(raw[k] for k in keys))]
    if isinstance(raw, list):
        if not raw:
            raise InputError(label, None, "the grid is empty", "list at least one override mapping")
        for i, item in enumerate(raw):
            if not isinstance(item, dict) or not all(isinstance(k, str) for k in item):
                raise InputError(label, f"item {i}", "each list item must be a mapping {dotted.path: value}",
                                 "e.g. - {quotas.SKK.hi: 250}")
        return [dict(item) for item in raw]
    raise InputError(label, None, "a grid is a mapping of dotted paths to lists, or a list of override mappings",
                     "see `landalloc sweep --help`")


def plan_points(loaded: LoadedScenario, grid: list[dict[str, Any]], grid_label: str) -> list[SweepPoint]:
    """Grid points with the one-thread default added, each validated against the scenario."""
    points = []
    for i, overrides in enumerate(grid):
        ov = dict(overrides)
        ov.setdefault("solver.threads", 1)
        make_variant(loaded, ov, source=f"{grid_label}: point {i}:")  # raises InputError naming the point
        points.append(SweepPoint(i, ov))
    return points


def run_point(task: dict) -> dict:
    """Solve one grid point (runs in a worker process: pool or Dask). Never raises for a planner error:
    the error is returned, so one bad point does not lose the others."""
    t0 = time.perf_counter()
    res: dict[str, Any] = {"index": task["index"], "overrides": task["overrides"], "run": None, "allocation": None,
                           "kpis": None, "error": None, "exit_code": None, "run_dir": task["out"]}
    try:
        loaded = load_scenario(task["scenario"])
        variant = make_variant(loaded, task["overrides"], source=f"point {task['index']}:")
        outcome = solve_variant(variant, Path(task["out"]), {"overrides": task["overrides"], "sweep": task["sweep"]},
                                overwrite=True,  # a point's directory belongs to this sweep: replaced, never set beside
                                marginals=task.get("marginals", False))
        plan, notes = plan_with_inputs(outcome.run, outcome.allocation, final_period=True)
        kpis = plan_kpis(outcome.run, plan)
        kpis["notes"] = notes
        res.update(run=outcome.run, allocation=outcome.allocation, kpis=kpis, exit_code=outcome.exit_code)
    except LandallocError as e:
        res.update(error=str(e), exit_code=e.exit_code)
    except Exception as e:  # noqa: BLE001 - reported per point
        res.update(error=f"{type(e).__name__}: {e}", exit_code=EXIT_NO_SOLUTION)
    res["wall_s"] = round(time.perf_counter() - t0, 4)
    return res


# --- executors ---------------------------------------------------------------------------------------

def _mp_context():
    """forkserver where available: workers fork from a clean single-threaded server that has imported the
    solver stack once (no threads or solver state inherited from the caller, and no re-import per worker);
    spawn elsewhere."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(FORKSERVER_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def _process_pool(tasks: list[dict], workers: int) -> Iterator[dict]:
    # one solver thread per task (solver.threads=1), at most `workers` tasks at a time
    with ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context()) as pool:
        futures = [pool.submit(run_point, t) for t in tasks]
        for fut in as_completed(futures):
            yield fut.result()


def check_executor(executor: str, scheduler: str | None, workers: int | None = None) -> None:
    """The executor options, refused before anything starts (the CLI calls it before opening the store)."""
    if workers is not None and workers < 1:
        raise InputError("--workers", str(workers), "must be at least 1", "e.g. --workers 2")
    if executor not in ("process", "dask"):
        raise InputError("--executor", executor, "unknown executor", "use process or dask")
    if scheduler and executor != "dask":
        raise InputError("--scheduler", scheduler, "a scheduler address needs --executor dask", "add --executor dask")
    if scheduler and not scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        raise InputError("--scheduler", scheduler, "not a Dask scheduler address", "e.g. tcp://10.0.0.5:8786")


def _dask(tasks: list[dict], scheduler: str | None, workers: int) -> Iterator[dict]:
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise InputError("--executor dask", None, f"dask.distributed is not installed ({e})",
                         "pip install 'dask[distributed]'") from None
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as e:
            raise InputError("--scheduler", scheduler, f"cannot connect ({e})",
                             "start one with `dask scheduler` and `dask worker ADDRESS --nthreads 1`") from None
    else:
        # everything on loopback; the scheduler's HTTP endpoint (always started) on a free loopback port
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        tag = uuid.uuid4().hex[:8]
        futures = [client.submit(run_point, t, key=f"landalloc-sweep-{tag}-{t['index']}", pure=False) for t in tasks]
        for fut in dask_completed(futures):
            yield fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --- the sweep ---------------------------------------------------------------------------------------

def _prepare_out(out: Path, n: int) -> None:
    out = Path(out)
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / "sweep.json").exists()):
            raise InputError(str(out), None, "exists and is not a landalloc sweep directory; refusing to write into it",
                             "choose another --out directory")
        runs = out / "runs"
        if runs.is_dir():  # a previous, larger sweep: drop its surplus points
            for d in runs.iterdir():
                if d.is_dir() and not (d.name.isdigit() and int(d.name) < n):
                    shutil.rmtree(d, ignore_errors=True)
    (out / "runs").mkdir(parents=True, exist_ok=True)


def _cell(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return yaml.safe_dump(v, default_flow_style=True, allow_unicode=True).strip()


def summary_frame(results: list[dict], paths: list[str], allocate: list[str]) -> pd.DataFrame:
    rows = []
    for r in sorted(results, key=lambda r: r["index"]):
        run, k = r.get("run") or {}, r.get("kpis") or {}
        row: dict[str, Any] = {"index": r["index"]}
        for p in paths:
            row[p] = _cell(r["overrides"].get(p))
        row.update({
            "status": run.get("status", "error" if r.get("error") else None), "termination": run.get("termination"),
            "objective": run.get("objective"), "bound": run.get("bound"), "gap": run.get("gap"),
            "changed_parcels": run.get("changed_parcels"), "changed_area_ha": run.get("changed_area_ha"),
            "converted_rice_ha": k.get("converted_rice_ha"), "converted_forest_ha": k.get("converted_forest_ha"),
            "displaced_households": k.get("displaced_households"), "sites": k.get("sites"),
        })
        for u in allocate:
            row[f"converted_{u}_ha"] = (k.get("converted_by_use") or {}).get(u, 0.0) if k else None
        row.update({"solve_s": (run.get("timings") or {}).get("solve_s"), "wall_s": r.get("wall_s"),
                    "run_dir": r.get("run_dir") if run else None, "store_id": r.get("store_id"), "error": r.get("error")})
        rows.append(row)
    df = pd.DataFrame(rows)  # columns in the order built above
    for p in paths:  # a parameter column is numeric when all its values are, else text
        vals = df[p]
        if not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in vals):
            df[p] = vals.map(lambda v: None if v is None else str(v)).astype(object)
    return df


TRADEOFF_QUANTITIES = {"converted_forest_ha": "forest land converted (ha)", "converted_rice_ha": "rice land converted (ha)",
                       "displaced_households": "households displaced", "changed_area_ha": "area converted (ha)"}
"""What the objective is traded against, in the order the trade-off panel looks for one that varies."""


def parameter_words(path: str) -> str:
    """A swept path in words: 'quotas.SKK.hi' → 'upper bound of quota SKK (ha)',
    'objective.terms.forest_loss.weight' → "weight of objective term 'forest loss'"."""
    parts = path.split(".")
    bound = {"hi": "upper bound", "lo": "lower bound"}
    if parts[0] == "quotas" and len(parts) == 3 and parts[2] in bound:
        return f"{bound[parts[2]]} of quota {parts[1]} (ha)"
    if parts[:2] == ["objective", "terms"] and len(parts) == 4:
        return f"{parts[3].replace('_', ' ')} of objective term '{parts[2].replace('_', ' ')}'"
    if parts[0] == "solver" and len(parts) == 2:
        return {"time_limit": "solver time limit (s)"}.get(parts[1], f"solver {parts[1].replace('_', ' ')}")
    return " › ".join(p.replace("_", " ") for p in parts)


def quantity_words(column: str) -> str:
    if column in TRADEOFF_QUANTITIES:
        return TRADEOFF_QUANTITIES[column]
    if column.startswith("converted_") and column.endswith("_ha"):
        return f"area converted to {column[len('converted_'):-len('_ha')]} (ha)"
    return column.replace("_", " ")


def _varies(values: pd.Series) -> bool:
    v = pd.to_numeric(values, errors="coerce").dropna()
    return len(v) > 1 and float(v.max() - v.min()) > 1e-9 * max(1.0, float(v.abs().max()))


def tradeoff_figure(df: pd.DataFrame, paths: list[str], title: str):
    """The objective at each point (against the swept value when one numeric parameter varies), and,
    beside it, the objective against the first trade-off quantity that varies over the sweep
    (forest, rice land, households displaced, converted area, area per use); a quantity equal at every
    point shows no trade-off and gets no panel. Axes are named in words."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ok = df[df["objective"].notna()]
    candidates = list(TRADEOFF_QUANTITIES) + [c for c in df.columns if c.startswith("converted_") and c.endswith("_ha")
                                              and c not in TRADEOFF_QUANTITIES]
    against = next((c for c in candidates if c in ok.columns and _varies(ok[c])), None)
    fig = Figure(figsize=(10 if against else 5.6, 4.2), dpi=130)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2) if against else [fig.subplots(1, 1)]
    ax1 = axes[0]
    varying = [p for p in paths if df[p].nunique(dropna=False) > 1]
    numeric = [p for p in varying if pd.api.types.is_numeric_dtype(df[p])]
    if numeric:  # objective against the first numeric parameter, one line per value of the other varying ones
        xcol, others = numeric[0], [p for p in varying if p != numeric[0]]
        groups = ok.groupby(others, sort=True, dropna=False) if others else [((), ok)]
        for key, g in groups:
            key = key if isinstance(key, tuple) else (key,)
            label = ", ".join(f"{parameter_words(p)} = {v}" for p, v in zip(others, key)) or None
            g = g.sort_values(xcol)
            ax1.plot(g[xcol], g["objective"], "o-", label=label)
        if others:
            ax1.legend(fontsize=7, title=None)
        ax1.set_xlabel(parameter_words(xcol))
    else:
        ax1.plot(ok["index"], ok["objective"], "o", color="#2b8cbe")
        ax1.set_xticks(list(df["index"]))
        ax1.set_xlabel("grid point (see summary.csv)")
    ax1.set_ylabel("objective value")
    ax1.set_title("objective by parameter" if numeric else "objective at each grid point", fontsize=9)
    if against:
        ax2 = axes[1]
        fx = ok[against].astype(float)
        ax2.scatter(fx, ok["objective"], color="#d7301f", zorder=3)
        for xi, yi, i in zip(fx, ok["objective"], ok["index"]):
            ax2.annotate(str(i), (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax2.set_xlabel(quantity_words(against))
        ax2.set_ylabel("objective value")
        ax2.set_title(f"trade-off: objective against {quantity_words(against).split(' (')[0]} (labels: grid point)",
                      fontsize=9)
    for ax in axes:
        ax.grid(True, linewidth=0.3)
    flat = [quantity_words(c) for c in TRADEOFF_QUANTITIES if c in ok.columns and len(ok) > 1 and not _varies(ok[c])]
    notes = [f"the same at every point: {', '.join(flat)}"] if flat else []
    bad = df[df["objective"].isna()]
    if len(bad):
        notes.append(f"no plan at point(s) {', '.join(map(str, bad['index']))} "
                     f"({', '.join(sorted(set(map(str, bad['status']))))})")
    if notes:
        fig.text(0.01, 0.01, "; ".join(notes), fontsize=7, color="#a00000" if len(bad) else "#444444")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 0.95))
    return fig


def default_sweep_dir(loaded: LoadedScenario) -> Path:
    """The scenario's output.dir + '-sweep', else ./sweep-NAME."""
    od = loaded.scenario.output.dir
    return Path(os.path.normpath(str(loaded.resolve(od, "output.dir")) + "-sweep")) if od else \
        Path(f"sweep-{loaded.scenario.name}")


def run_sweep(scenario: Path, grid_path: Path, out: Path | None, *, executor: str = "process", scheduler: str | None = None,
              workers: int | None = None, marginals: bool = False,
              on_start: Callable[[int], None] | None = None,
              on_result: Callable[[dict], int | None] | None = None) -> dict:
    """Run every grid point; ``on_start(n)`` is called once the points are validated, ``on_result(res)``
    for each finished point (it may record the run and return its store id). Returns the summary as a
    JSON-able dict with ``exit_code``. ``out`` None: :func:`default_sweep_dir`."""
    t0 = time.perf_counter()
    check_executor(executor, scheduler, workers)
    scenario = Path(scenario)
    loaded = load_scenario(scenario)
    grid = read_grid(grid_path)
    points = plan_points(loaded, grid, str(grid_path))
    out = Path(out or default_sweep_dir(loaded)).absolute()
    _prepare_out(out, len(points))
    sweep_id = uuid.uuid4().hex[:12]
    tasks = [{"index": p.index, "overrides": p.overrides, "scenario": str(scenario.absolute()),
              "out": str(out / "runs" / str(p.index)), "marginals": marginals,
              "sweep": {"id": sweep_id, "dir": str(out), "index": p.index, "size": len(points),
                        "grid": str(Path(grid_path).absolute()), "executor": executor}} for p in points]
    n_cpu = os.cpu_count() or 1
    if executor == "process":
        stream = _process_pool(tasks, max(1, min(workers or n_cpu, len(tasks))))
    elif executor == "dask":
        stream = _dask(tasks, scheduler, max(1, workers or 2))
    else:
        raise InputError("--executor", executor, "unknown executor", "use process or dask")
    if on_start:
        on_start(len(tasks))
    results = []
    for res in stream:
        if on_result is not None:
            res["store_id"] = on_result(res)
        res.pop("allocation", None)  # the plans are in the run directories (and the store)
        results.append(res)
    paths = list(dict.fromkeys(p for pt in points for p in pt.overrides))
    df = summary_frame(results, paths, list(loaded.scenario.allocate))
    atomic_write_text(out / "summary.csv", df.to_csv(index=False))
    atomic_write_layer(df, out / "sweep.gpkg", layer="summary")  # an attribute table: no geometry
    fig = tradeoff_figure(df, paths, f"sweep of {loaded.scenario.name}: {len(points)} runs ({executor})")
    atomic_write(out / "tradeoff.png", lambda tmp: fig.savefig(tmp, format="png", facecolor="white"))
    failed = [int(r["index"]) for r in results if r.get("error") or (r.get("run") or {}).get("status") == "no_solution"]
    summary = {
        "sweep_id": sweep_id, "scenario": str(scenario), "scenario_name": loaded.scenario.name, "grid": str(grid_path), "out": str(out), "executor": executor,
        "scheduler": scheduler, "points": len(points), "parameters": paths,
        "runs": [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
                 for row in df.to_dict("records")],
        "failed": failed, "wall_s": round(time.perf_counter() - t0, 3),
        "files": {"summary_csv": str(out / "summary.csv"), "summary_gpkg": str(out / "sweep.gpkg"),
                  "tradeoff_png": str(out / "tradeoff.png"), "json": str(out / "sweep.json")},
        "exit_code": EXIT_NO_SOLUTION if failed else EXIT_OK,
    }
    atomic_write_text(out / "sweep.json", dumps(summary))
    return summary
