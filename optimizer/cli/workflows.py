"""Scenario workflows on the command line: `landalloc whatif`, `compare`, `sweep` and `runs`.

The work is in ``optimizer/workflows/`` (whatif, compare, sweep, store) and, for the comparison's
files and map, ``reports.comparison``. As everywhere, ``--json`` puts only JSON on stdout; messages
and progress go to stderr. ``reports.comparison`` is imported inside `compare`, not here: it loads
matplotlib, which would add about 0.6 s to every `landalloc --help`.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from optimizer.cli.terminal import (SolveProgress, console, emit_json, err_console, fmt, handle_errors, key_value_table,
                                    log, print_diagnosis, print_run_summary, print_written, table, warn)
from optimizer.engine.errors import InputError
from optimizer.engine.rundir import dumps
from optimizer.engine.scenario import load_scenario
from optimizer.workflows.store import Recorder, jsonable, open_store
from optimizer.workflows.sweep import check_executor, run_sweep
from optimizer.workflows.whatif import make_variant, parse_set_items, solve_variant

STORE_HELP = ("run store to record into: a GeoPackage path or postgresql://user@host:port/db "
              "(default: $LANDALLOC_STORE or ~/.landalloc/runs.gpkg; 'none' records nothing)")
STORE_READ_HELP = "GeoPackage path or postgresql:// URL (default: $LANDALLOC_STORE or ~/.landalloc/runs.gpkg)"


# --- whatif ------------------------------------------------------------------------------------------

@click.command()
@click.argument("base", type=click.Path(path_type=Path))
@click.option("--set", "items", multiple=True, metavar="PATH=VALUE",
              help="override one scenario field (repeatable); the value is YAML: 250 is a number, '\"01234\"' a "
                   "string, null removes the key")
@click.option("--out", type=click.Path(path_type=Path),
              help="run directory to write (replaced atomically); without it only the store records the run")
@click.option("--store", help=STORE_HELP)
@click.option("--marginals/--no-marginals", default=None, help="re-solve binding quotas moved by one unit "
              "(default: scenario explain.marginal_values)")
@click.option("--json", "as_json", is_flag=True, help="print run.json (without the scenario) to stdout only")
@click.option("--overwrite", is_flag=True, help="let a variant without a plan replace a run with one in --out "
              "(without it, it is written beside)")
@handle_errors
def whatif(base, items, out, store, marginals, as_json, overwrite=False):
    """Solve a variant of BASE with some fields changed, without writing a scenario file.

    The merged variant is validated as a whole and saved in run.json (`scenario`), with the
    overrides themselves under `overrides`; a bad path or value exits 2 naming the --set item.
    Without --out, the base's output.dir is dropped, so a what-if never replaces the base run.

    \b
    Example:
      landalloc whatif instances/tiny/tiny.yaml --set quotas.TMD.hi=1.5 \\
          --set objective.terms.forest_loss.weight=-5 --out runs/tiny-whatif
      landalloc whatif scenario.yaml --set quotas.SKK.hi=250 --set solver.time_limit=60 --json
    """
    loaded = load_scenario(base)
    overrides, labels = parse_set_items(items)
    if not overrides:
        raise InputError("--set", None, "no override given; a what-if changes at least one field",
                         "e.g. --set quotas.SKK.hi=250 (or use `landalloc solve`)")
    variant = make_variant(loaded, overrides, labels=labels, drop=() if out else ("output",))
    recorder = Recorder(store, warn)
    progress = SolveProgress(err_console)
    try:
        outcome = solve_variant(variant, out, {"overrides": overrides, "whatif_base": str(Path(base).absolute())},
                                marginals=marginals, log=log, on_progress=progress, overwrite=overwrite)
    finally:
        progress.close()
    progress.finish(outcome.run)
    store_id = recorder.record(outcome.run, outcome.allocation, kind="whatif", run_dir=outcome.out)
    if as_json:
        data = {k: v for k, v in outcome.run.items() if k != "scenario"}
        data.update(store_id=store_id, store=recorder.location, run_dir=str(outcome.out) if outcome.out else None)
        emit_json(data)
        print_diagnosis(outcome.run)
    else:
        console.print("what-if: " + ", ".join(f"{k} = {v!r}" for k, v in overrides.items()), highlight=False)
        print_run_summary(outcome.run)
        if outcome.out:
            console.print(f"written: {outcome.out}", highlight=False)
        if store_id is not None:
            console.print(f"recorded: run {store_id} in {recorder.location}", highlight=False)
    sys.exit(outcome.exit_code)


# --- compare -----------------------------------------------------------------------------------------

@click.command()
@click.argument("run_a")
@click.argument("run_b")
@click.option("--out", type=click.Path(path_type=Path),
              help="directory for kpis.csv, changed.gpkg (layer changed), difference.png/.svg and compare.json")
@click.option("--store", help="run store holding runs given by id (default: $LANDALLOC_STORE or ~/.landalloc/runs.gpkg)")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True,
              help="language of the difference map")
@click.option("--json", "as_json", is_flag=True, help="print the comparison as JSON to stdout only")
@handle_errors
def compare(run_a, run_b, out, store, lang, as_json):
    """Compare two runs: KPIs side by side, the parcels whose use changed, and a difference map.

    RUN_A and RUN_B are run directories, or run ids of the store (`landalloc runs list`).
    KPIs: objective, bound, gap, quotas, area per use, converted area per use and per district,
    converted rice and forest land (input fields is_rice / is_forest, else rice codes LUA/LUC/LUK and
    the land_uses `forest` flag), displaced households (input field `households`), sites.

    \b
    Example:
      landalloc solve instances/tiny/tiny.yaml --out runs/tiny
      landalloc whatif instances/tiny/tiny.yaml --set quotas.TMD.hi=1.5 --out runs/tiny-whatif
      landalloc compare runs/tiny runs/tiny-whatif --out runs/compare-tiny
      landalloc compare 3 7 --store runs.gpkg --json
    """
    from reports.comparison import write_comparison

    res = write_comparison(run_a, run_b, out, store, lang=lang)
    if as_json:
        emit_json(res)
        return
    t = table(f"A: {res['a']}  vs  B: {res['b']}",
              (("kpi", "left"), ("key", "left"), ("A", "right"), ("B", "right"), ("B − A", "right")))
    for r in res["kpis"]:
        t.add_row(r["kind"], str(r["key"]), fmt(r["a"], 2), fmt(r["b"], 2), fmt(r["diff"], 2))
    console.print(t)
    d = table("parcels by difference", ("kind", "parcels", "ha"))
    for k, v in res["differences"].items():
        d.add_row(k, str(v["parcels"]), f"{v['area_ha']:,.2f}")
    console.print(d)
    for n in res["notes"]:
        err_console.print(f"note: {n}", highlight=False, markup=False)
    print_written(res["files"])
    if not res["files"]:
        err_console.print("(give --out DIR to write changed.gpkg, kpis.csv and the difference map)")


# --- sweep -------------------------------------------------------------------------------------------

class SweepProgress:
    """A progress bar over the sweep's points on stderr; each finished point is recorded in the run store
    as it arrives, so an interrupted sweep keeps what it finished."""

    def __init__(self, recorder: Recorder):
        self.recorder, self.task_id = recorder, None
        self.bar = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"),
                            TimeElapsedColumn(), console=err_console, transient=False)

    def start(self, n: int) -> None:
        self.bar.start()
        self.task_id = self.bar.add_task("sweep", total=n)

    def result(self, res: dict) -> int | None:
        sid = None
        if res.get("run") is not None:
            sid = self.recorder.record(res["run"], res.get("allocation"), kind="sweep",
                                       run_dir=Path(res["run_dir"]) if res.get("run_dir") else None)
        self.bar.advance(self.task_id)
        if res.get("error"):
            self.bar.console.print(f"point {res['index']}: {res['error']}", highlight=False, markup=False, style="red")
        return sid


@click.command()
@click.argument("base", type=click.Path(path_type=Path))
@click.option("--grid", "grid", required=True, type=click.Path(path_type=Path),
              help="YAML: dotted paths → lists of values (cartesian product), or a list of override mappings")
@click.option("--out", type=click.Path(path_type=Path),
              help="sweep directory (default: the scenario's output.dir + '-sweep', else ./sweep-NAME)")
@click.option("--executor", type=click.Choice(["process", "dask"]), default="process", show_default=True,
              help="local process pool, or Dask (an existing cluster with --scheduler, else a LocalCluster on loopback)")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="address of an existing Dask scheduler (with --executor dask)")
@click.option("--workers", type=int, help="parallel tasks (process pool: default the CPU count; Dask LocalCluster: default 2)")
@click.option("--marginals/--no-marginals", default=False, show_default=True,
              help="marginal-value re-solves at every point (off: they multiply the work)")
@click.option("--store", help=STORE_HELP)
@click.option("--json", "as_json", is_flag=True, help="print the sweep summary as JSON to stdout only")
@handle_errors
def sweep(base, grid, out, executor, scheduler, workers, marginals, store, as_json):
    """Run BASE once per point of a parameter grid and tabulate the results.

    Each point is a run directory DIR/runs/<index> (and a record in the run store); DIR gets
    summary.csv, sweep.gpkg (table `summary`), tradeoff.png and sweep.json. Every task solves
    with one solver thread (solver.threads=1 unless the grid sets it), so results do not depend
    on the executor. Exit 0 when every point finished (infeasible points included), 4 when a
    point failed or found no solution, 2 for a bad grid.

    \b
    Example grid (sweep.yaml):
      quotas.SKK.hi: [200, 250]
      objective.terms.forest_loss.weight: [-30, -10]
    \b
    Example:
      landalloc sweep scenario.yaml --grid sweep.yaml --out runs/sweep
      landalloc sweep scenario.yaml --grid sweep.yaml --out runs/sweep-dask --executor dask --workers 2
      landalloc sweep scenario.yaml --grid sweep.yaml --executor dask --scheduler tcp://10.0.0.5:8786 --json
    """
    check_executor(executor, scheduler, workers)  # before the progress bar and the store open
    progress = SweepProgress(Recorder(store, warn))
    with contextlib.ExitStack() as stack:
        stack.callback(progress.bar.stop)
        summary = run_sweep(base, grid, out, executor=executor, scheduler=scheduler,
                            workers=workers, marginals=marginals, on_start=progress.start, on_result=progress.result)
    summary["store"] = progress.recorder.location
    if as_json:
        emit_json(summary)
    else:
        varying = [p for p in summary["parameters"] if len({str(r.get(p)) for r in summary["runs"]}) > 1]
        cols = ["index"] + varying + ["status", "objective", "changed_area_ha", "converted_forest_ha", "store_id"]
        t = table(f"sweep · {summary['scenario_name']} · {summary['points']} runs ({executor})", cols)
        for r in summary["runs"]:
            t.add_row(*[fmt(r.get(c), 2) for c in cols])
        console.print(t)
        print_written(summary["files"])
    sys.exit(summary["exit_code"])


# --- runs --------------------------------------------------------------------------------------------

@click.group()
def runs():
    """List, show and delete runs recorded in the run store.

    \b
    Example:
      landalloc runs list
      landalloc runs show 3 --json
      landalloc runs delete 3 --store postgresql://planner@db.local:5432/landalloc
    """


@runs.command("list")
@click.option("--store", help=STORE_READ_HELP)
@click.option("--json", "as_json", is_flag=True, help="print the runs as a JSON list to stdout only")
@handle_errors
def runs_list(store, as_json):
    """List recorded runs (id, kind, scenario, status, objective, …).

    \b
    Example:
      landalloc runs list --store runs.gpkg
      landalloc runs list --json
    """
    st = open_store(store)
    rows = [jsonable(r) for r in st.list()]
    if as_json:
        emit_json(rows)
        return
    cols = ("id", "kind", "created", "scenario_name", "status", "objective", "gap", "solver", "changed_area_ha",
            "total_s", "run_dir")
    t = table(f"runs · {st.location}", cols)
    for r in rows:
        t.add_row(*[fmt(r.get(c), 2) if c in ("changed_area_ha", "total_s") else fmt(r.get(c)) for c in cols])
    console.print(t)


@runs.command("show")
@click.argument("run_id")
@click.option("--store", help=STORE_READ_HELP)
@click.option("--json", "as_json", is_flag=True, help="print the whole record (provenance, scenario, run.json) as JSON")
@handle_errors
def runs_show(run_id, store, as_json):
    """Show one recorded run with its provenance: merged scenario, overrides, inputs with sha256,
    solver settings, versions, timings and status.

    \b
    Example:
      landalloc runs show 3
      landalloc runs show 3 --store postgresql://planner@db.local:5432/landalloc --json
    """
    st = open_store(store)
    rec, _ = st.get(run_id)
    rec = jsonable(rec)
    if as_json:
        emit_json(rec)
        return
    console.print(key_value_table(f"run {rec['id']} · {st.location}",
                                  ((k, fmt(dumps(v) if isinstance(v, (dict, list)) else v))
                                   for k, v in rec.items() if k not in ("run", "scenario"))))


@runs.command("delete")
@click.argument("run_id")
@click.option("--store", help=STORE_READ_HELP)
@click.option("--json", "as_json", is_flag=True, help='print {"deleted": ID} as JSON')
@handle_errors
def runs_delete(run_id, store, as_json):
    """Delete one recorded run and its allocation layer (run directories on disk are left alone).

    \b
    Example:
      landalloc runs delete 3
    """
    st = open_store(store)
    st.remove(run_id)
    if as_json:
        emit_json({"deleted": int(run_id), "store": st.location})
    else:
        console.print(f"deleted run {run_id} from {st.location}", highlight=False)
