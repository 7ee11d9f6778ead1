"""The verbs of one scenario or one run: `landalloc solve`, `verify`, `explain` and `instance-info`.

Each verb parses its options, hands the work to the core (``optimizer.engine``) and prints the
result; ``--json`` puts only JSON on stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from optimizer.cli.terminal import (SolveProgress, console, emit_json, err_console, fmt, handle_errors, log,
                                    print_diagnosis, print_marginal_values, print_run_summary, table, warn)
from optimizer.engine.errors import EXIT_INFEASIBLE, EXIT_OK
from optimizer.engine.info import instance_info as summarize_instance
from optimizer.engine.preflight import preflight, unreachable
from optimizer.engine.run import price_run, solve_scenario, verify_run
from optimizer.engine.scenario import apply_overrides, load_scenario
from optimizer.engine.solvers import solver_names
from optimizer.workflows.store import Recorder


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), help="run directory to write (replaced atomically)")
@click.option("--solver", type=click.Choice(solver_names()), help="override solver.name")
@click.option("--time-limit", type=float, help="override solver.time_limit (seconds)")
@click.option("--gap", type=float, help="override solver.gap (relative, e.g. 0.001)")
@click.option("--seed", type=int, help="override solver.seed")
@click.option("--threads", type=int, help="override solver.threads")
@click.option("--repair", is_flag=True, default=None, help="repair invalid geometries of every input layer with make_valid (recorded in run.json notes)")
@click.option("--alternatives", type=int, default=0, show_default=True, help="also find K near-optimal alternative plans")
@click.option("--min-difference", type=float, default=10.0, show_default=True,
              help="alternatives differ pairwise by at least this % of the best plan's converted area")
@click.option("--marginals/--no-marginals", default=None, help="re-solve binding quotas moved by one unit (default: scenario explain.marginal_values)")
@click.option("--json", "as_json", is_flag=True, help="print run.json (without the scenario) to stdout only")
@click.option("--store", help="run store to record into: GeoPackage path or postgresql:// URL (default: $LANDALLOC_STORE "
              "or ~/.landalloc/runs.gpkg, skipped with a warning if unwritable; 'none' records nothing)")
@click.option("--overwrite", is_flag=True, help="let a run without a plan (time limit or Ctrl-C before the first plan, "
              "infeasible) replace a run with one in DIR; without it, such a run is written beside DIR")
@handle_errors
def solve(scenario, out, solver, time_limit, gap, seed, threads, repair, alternatives, min_difference, marginals, as_json,
          store=None, overwrite=False):
    """Solve SCENARIO and write DIR/allocation.gpkg and DIR/run.json.

    \b
    Example:
      landalloc solve instances/tiny/tiny.yaml --out runs/tiny
      landalloc solve instances/tiny/tiny.yaml --out runs/tiny-cbc --solver cbc --json
      landalloc solve instances/tiny/tiny.yaml --out runs/tiny-alt --alternatives 3 --min-difference 20
      landalloc solve instances/tiny/tiny.yaml --out runs/tiny --time-limit 0.01 --overwrite
    """
    loaded = apply_overrides(load_scenario(scenario), {
        "solver.name": solver, "solver.time_limit": time_limit, "solver.gap": gap, "solver.seed": seed,
        "solver.threads": threads, "parcels.repair": repair})
    recorder = Recorder(store, warn)  # opened before solving, so a bad --store fails fast
    progress = SolveProgress(err_console)
    try:
        outcome = solve_scenario(loaded, out, alternatives=alternatives, min_difference=min_difference,
                                 marginals=marginals, log=log, on_progress=progress, overwrite=overwrite)
    finally:
        progress.close()
    progress.finish(outcome.run)
    recorder.record(outcome.run, outcome.allocation, kind="solve", run_dir=outcome.out)
    if as_json:
        emit_json({**{k: v for k, v in outcome.run.items() if k != "scenario"},
                   "run_dir": str(outcome.out) if outcome.out else None})
        print_diagnosis(outcome.run)  # stderr: stdout stays JSON only
    else:
        print_run_summary(outcome.run)
        if outcome.out:
            console.print(f"written: {outcome.out}")
    sys.exit(outcome.exit_code)


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--marginals", is_flag=True, help="SCENARIO is a run directory: price its binding rows by the next "
              "parcel from the saved solution, and write them into its run.json")
@click.option("--budget", "budget_s", type=click.FloatRange(min=0, min_open=True), default=None,
              help="seconds for --marginals (default: twice the plan's solve time, at least 30 s)")
@click.option("--json", "as_json", is_flag=True, help="print the explanation as JSON")
@handle_errors
def explain(scenario, marginals, budget_s, as_json):
    """Explain SCENARIO before solving: eligible area per quota vs what is asked, and why pairs were
    excluded. With --marginals and a run directory: what one more unit of each binding quota, site window
    or provincial bound is worth, priced by the next parcel with more time than `solve` gives it.

    \b
    Example:
      landalloc explain instances/tiny/tiny.yaml
      landalloc solve instances/tiny/tiny.yaml --out runs/tiny && landalloc explain runs/tiny --marginals --budget 10
    Exits 3 when a quota cannot be reached whatever the solver does, 0 otherwise.
    """
    if marginals:
        run = price_run(scenario, budget_s, log)
        if as_json:
            emit_json({k: run.get(k) for k in ("binding", "marginal_values", "marginal_values_method",
                                                "marginal_values_skipped")})
        else:
            print_marginal_values(run)
        return
    loaded = load_scenario(scenario)
    data = preflight(loaded)
    if as_json:
        emit_json(data)
    else:
        t = table(f"reachability · {loaded.scenario.name}", ("quota", "lo", "hi", "max eligible", "forced", "status"))
        for r in data["reachability"]:
            status = "ok" if r["reachable"] else f"[red]short by {r['shortfall']:,.2f}[/]"
            t.add_row(r["key"], fmt(r["lo"], 2), fmt(r["hi"], 2), fmt(r["max_achievable"], 2), fmt(r["min_forced"], 2), status)
        console.print(t)
        if data["exclusions"]:
            e = table("excluded (parcel, use) pairs", ("family", "reason", "use", "parcels", "ha"))
            for r in data["exclusions"]:
                e.add_row(r["family"], r["reason"], r["use"], str(r["parcels"]), f"{r['area_ha']:,.2f}")
            console.print(e)
    sys.exit(EXIT_INFEASIBLE if unreachable(data) else EXIT_OK)


@click.command("instance-info")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@handle_errors
def instance_info(scenario, as_json):
    """Summarize the parcel layer of SCENARIO: areas per district vs official, land balance, zones, synthetic fields.

    \b
    Example:
      landalloc instance-info instances/cao_bang/scenarios/cao_bang_2030.yaml
    """
    data = summarize_instance(load_scenario(scenario))
    if as_json:
        emit_json(data)
        return
    console.print(f"[bold]{data['scenario']}[/]: {data['parcels']:,} parcels, {data['total_area_ha']:,.2f} ha in {data['crs']}"
                  + (f" (natural area {data['natural_area_ha']:,.0f} ha, {data['difference_to_natural_pct']:+.3f} %)"
                     if data["natural_area_ha"] else ""))
    t = table("districts", ("district", "parcels", "area ha", "official ha", "diff %"))
    for d in data["districts"]:
        t.add_row(d["district"], f"{d['parcels']:,}", f"{d['area_ha']:,.2f}", fmt(d["official_ha"], 2), fmt(d["difference_pct"], 3))
    console.print(t)
    b = table(f"land balance (forest cover {data['forest_cover_pct']:.2f} %)", ("group / code", ("ha", "right")))
    for k, v in data["land_balance_by_group_ha"].items():
        b.add_row(f"[bold]{k}[/]", f"{v:,.2f}")
    for k, v in data["land_balance_by_code_ha"].items():
        b.add_row(f"  {k}", f"{v:,.2f}")
    console.print(b)
    if data["zones"]:
        z = table("zones", ("class", "name", "ha", "within parcels ha"))
        for r in data["zones"]:
            z.add_row(r["zone_class"], r["zone_name"], f"{r['area_ha']:,.2f}", f"{r['in_parcels_ha']:,.2f}")
        console.print(z)
    if data["synthetic_fields"]:
        console.print("[yellow]synthetic fields[/]: " + ", ".join(data["synthetic_fields"]))


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the verification as JSON")
@handle_errors
def verify(run_dir, as_json):
    """Re-check a run from its output geometry and the input files, independently of the solver.

    \b
    Example:
      landalloc verify runs/tiny
    Exits 0 when there are no violations, 1 otherwise.
    """
    _, report = verify_run(run_dir)
    if as_json:
        emit_json({"run_dir": str(run_dir), **report.as_dict(), "quotas": report.figures.get("quotas", [])})
    else:
        if report.ok:
            console.print(f"[green]0 violations[/] — {run_dir} (objective recomputed: {fmt(report.objective)})")
        for v in report.violations:
            console.print(f"[red]violation[/] {v.family} {v.key}: {v.message}", highlight=False)
    sys.exit(0 if report.ok else 1)
