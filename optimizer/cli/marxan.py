"""`landalloc import-marxan` and `landalloc export-marxan`: Marxan projects (classic Marxan and Marxan with
Zones) in and out.

The work is in ``optimizer/workflows/marxan.py`` (import, solve, evaluate, export in order) on top of
``optimizer/marxan/``; an imported project is solved by the same run spine as any scenario.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from pydantic import ValidationError

from optimizer.cli.terminal import (console, emit_json, err_console, fmt, fmt_gap, fmt_timings, handle_errors,
                                    key_value_table)
from optimizer.engine.errors import InputError
from optimizer.engine.scenario import SolverSettings, format_validation_error, load_scenario
from optimizer.engine.solvers import solver_names
from optimizer.workflows.marxan import EXPORT_FLAVOURS, export_project, import_and_solve


def _solver_settings(**options) -> SolverSettings:
    """The command line's solver options, refused with the option's name when out of range."""
    try:
        return SolverSettings(**options)
    except ValidationError as err:
        e = format_validation_error("import-marxan", err)
        raise InputError("command line", f"--{str(e.field).replace('_', '-')}", e.message,
                         "time limit > 0, 0 ≤ gap < 1, threads ≥ 1, seed ≥ 0") from None


def _score_rows(prefix: str, d: dict) -> list[tuple[str, str]]:
    return [(f"{prefix} score", fmt(d["score"])),
            (f"{prefix}  cost / connection / penalty", f"{fmt(d['cost'])} / {fmt(d['connection'])} / {fmt(d['penalty'])}"),
            (f"{prefix}  targets missed", str(d.get("targets_missed", 0)))]


def _breaches(violations: list[dict]) -> str:
    return "ok" if not violations else "[red]" + "; ".join(
        f"{v['message']} (PU {', '.join(map(str, v['planning_units'][:8]))})" for v in violations) + "[/]"


def _import_rows(data: dict) -> list[tuple[str, str]]:
    """The import (and solve / evaluation) as the summary table's rows."""
    kind = "classic Marxan" if data["flavour"] == "classic" else "Marxan with Zones"
    rows = [("scenario", data["scenario"]), ("project", f"{data['project']} ({kind})"),
            ("planning units", str(data["planning_units"]))]
    if "status" in data:
        rows.append(("pu.dat status", ", ".join(f"{n} {k}" for k, n in data["status"].items() if n)))
    else:
        rows.append(("zones", ", ".join(f"{i} {n}" for n, i in data["zones"].items())))
    rows += [("features", str(data["features"])), ("boundary pairs / BLM", f"{data['boundary_pairs']} / {fmt(data['blm'])}"),
             ("targets", data["targets"]), ("penalties", data["penalties"])]
    rows += [("approximation", f"[yellow]{a}[/]") for a in data["approximations"]]
    if "solve" in data:
        s = data["solve"]
        rows += [("status", f"{s['status']} ({s['termination']})"),
                 ("exact objective (Marxan score)", fmt(s.get("objective"))), ("best bound", fmt(s.get("bound"))),
                 ("gap", fmt_gap(s.get("gap"))),
                 ("solver", f"{s['solver']} {s['solver_version']}"),
                 ("model", "{columns} columns, {rows} rows, {nonzeros} nonzeros".format(**s["model"])),
                 ("time", fmt_timings(s.get("timings") or {}))]
        if "score" in s:
            rows += _score_rows("plan", s["score"])
        if "cost_threshold" in s:
            ct = s["cost_threshold"]
            rows.append(("cost + connection vs COSTTHRESH", f"{fmt(ct['cost_plus_connection'])} vs {fmt(ct['costthresh'])}"
                         + (" [yellow](exceeded)[/]" if ct["exceeded"] else "")))
        rows.append(("run", s["run_dir"]))
    if "evaluate" in data:
        ev = data["evaluate"]
        rows += [("evaluated", ev["file"])] + _score_rows("evaluated", ev)
        if "above_optimum" in ev:
            rows.append(("evaluated − exact", f"{fmt(ev['above_optimum'])} ({ev['above_optimum_rel']:.4%})"))
        rows.append(("evaluated locks" if data["flavour"] == "classic" else "evaluated locks / puzone",
                     _breaches(ev["violations"])))
        if "landalloc" in ev:
            la = ev["landalloc"]
            rows.append(("landalloc verify", "—" if la.get("ok") is None else "0 violations" if la["ok"]
                         else f"[red]{len(la.get('violations', []))} violation(s)[/] " + "; ".join(
                             v["message"] for v in la.get("violations", []))[:300]))
            if "landalloc_objective" in la:
                rows.append(("landalloc objective", fmt(la["landalloc_objective"])))
    if "selection_frequency" in data:
        sf = data["selection_frequency"]
        rows += [("selection frequencies", f"{sf['file']} ({sf['runs']} runs)"),
                 ("  always / never selected", f"{sf['always_reserved']} / {sf['never_reserved']} of {sf['units']} units")]
        if "optimum" in sf:
            o = sf["optimum"]
            rows.append(("  mean frequency: optimum's reserve / rest",
                         f"{fmt(o['mean_frequency_reserved'])} / {fmt(o['mean_frequency_not_reserved'])}"))
        rows.append(("  locks", _breaches(sf["violations"])))
    return rows


@click.command("import-marxan")
@click.argument("project", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="scenario directory to write (scenario.yaml, marxan/, parcels.csv, features.csv); replaced atomically")
@click.option("--flavour", type=click.Choice(["auto", "classic", "zones"]), default="auto", show_default=True,
              help="classic: one reserve decision per unit (pu.dat status as locks); zones: Marxan with Zones; "
                   "auto: zones when input.dat names a zones file (ZONESNAME, ZONECOSTNAME, PULOCKNAME, …), else classic")
@click.option("--targets", type=click.Choice(["hard", "soft"]), default="soft", show_default=True,
              help="soft: Marxan's shortfall penalty, as Marxan scores a plan; hard: every target is a constraint")
@click.option("--linearization", type=click.Choice(["auto", "aggregated", "marginal"]), default="auto", show_default=True,
              help="boundary term: auto (aggregated where its LP bound equals the marginal form's for every boundary pair, "
                   "else marginal), aggregated (one variable per boundary pair) or marginal (tighter bound, ≤ Z² "
                   "variables per pair); see optimizer/marxan/model.py")
@click.option("--solve", "do_solve", is_flag=True, help="solve exactly; the run goes to OUT/run")
@click.option("--evaluate", "evaluate", type=click.Path(path_type=Path), multiple=True,
              help="score Marxan's plan (_best / _r file) with the same objective, or compare its selection "
                   "frequencies (_ssoln file) with the optimum; locks checked. Repeatable (one of each)")
@click.option("--solver", type=click.Choice(solver_names()), default="highs", show_default=True)
@click.option("--time-limit", type=float, default=300.0, show_default=True, help="seconds")
@click.option("--gap", type=float, default=0.0, show_default=True, help="relative MIP gap (0 = prove optimality)")
@click.option("--threads", type=int, default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the import (and solve / evaluation) as JSON on stdout")
@handle_errors
def import_marxan(project, out, flavour, targets, linearization, do_solve, evaluate, solver, time_limit, gap, threads,
                  seed, as_json):
    """Import a Marxan PROJECT (directory with input.dat) — classic Marxan or Marxan with Zones — as a
    landalloc scenario directory.

    Classic: pu.dat (cost, status: 1 initial reserve, 2 locked in, 3 locked out), spec.dat (target or
    prop, targetocc, spf), puvspr.dat (or MATRIXSPORDERNAME), bound.dat with self-boundaries, BLM and
    MISSLEVEL; penalties estimated as Marxan does. Marxan with Zones: every file input.dat names (pu,
    costs, zones, zonecost, spec/feat, puvspr, bound, zonetarget(2), zonecontrib(2,3), zoneboundcost,
    pulock, puzone, penalty). Any Marxan separator. With --solve, minimizes Marxan's own score exactly
    (cost + BLM·boundary + shortfall penalty; --targets hard makes every target a constraint) and
    prints objective, bound and gap. With --evaluate, prints the score of Marxan's plan next to it, or
    how often Marxan's runs chose the optimum's units; lock breaches are reported separately (exit 1).
    What the import cannot honour exactly is an error (exit 2) or a stated approximation.

    \b
    Example:
      landalloc import-marxan tests/data/marxan/classic_csv --out /tmp/classic --solve \\
          --evaluate tests/data/marxan/classic_csv/output/classic_best.csv \\
          --evaluate tests/data/marxan/classic_csv/output/classic_ssoln.csv
      landalloc import-marxan tests/data/marxan/small3_csv --out /tmp/small3 --solve --targets soft \\
          --evaluate tests/data/marxan/small3_csv/output/small3_best.csv
      landalloc solve /tmp/classic/scenario.yaml --out /tmp/classic-run && landalloc verify /tmp/classic-run
    Exit codes: 0 imported (and solved), 1 an evaluated plan or frequency breaks a lock or puzone,
    2 bad input, 3 hard targets infeasible, 4 no solution within the limits.
    """
    settings = (_solver_settings(name=solver, time_limit=time_limit, gap=gap, threads=threads, seed=seed)
                if do_solve else None)
    data, exit_code, imported = import_and_solve(project, out, targets=targets, linearization=linearization,
                                                 flavour=flavour, settings=settings, evaluate=evaluate)
    if as_json:
        emit_json(data)
        sys.exit(exit_code)
    console.print(key_value_table(f"import-marxan · {imported.project.name}", _import_rows(data)))
    for w in data["warnings"]:
        err_console.print(f"[yellow]warning:[/] {w}", highlight=False)
    for d in data.get("solve", {}).get("diagnosis", []):
        err_console.print(f"  target {d['key']}: requires {d['required']:,.4g}, at most {d['achievable']:,.4g} "
                          "is reachable", highlight=False)
    sys.exit(exit_code)


@click.command("export-marxan")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="Marxan project directory to write (input.dat, input/, README.md); replaced atomically")
@click.option("--flavour", type=click.Choice(list(EXPORT_FLAVOURS)), default="auto", show_default=True,
              help="classic: reserve = the scenario's one allocated use; zones: Marxan with Zones, zones = uses; "
                   "auto: classic when the scenario allocates one use, else zones")
@click.option("--json", "as_json", is_flag=True, help="print what was written as JSON on stdout")
@handle_errors
def export_marxan(scenario, out, flavour, as_json):
    """Write SCENARIO as a Marxan project: classic Marxan when it allocates one use (reserve = take that
    use, status 2 / 3 for parcels that must / cannot take it), else Marxan with Zones (PUs = parcels,
    zones = uses); costs = the objective's change, negated when it maximizes.

    Quota upper bounds and families other than quota_area / allowed_uses cannot be expressed in
    Marxan; the project's README.md lists what was left out. A Marxan-imported scenario is written back
    as its (canonical) project. Read Marxan's plan back with `landalloc import-marxan PROJECT --out DIR
    --evaluate PROJECT/output/NAME_best.csv`: it is scored and, for an exported landalloc scenario,
    verified against the scenario.

    \b
    Example:
      landalloc export-marxan instances/tiny/tiny.yaml --out /tmp/tiny-marxan
      landalloc import-marxan /tmp/tiny-marxan --out /tmp/tiny-back --solve
      landalloc export-marxan tests/data/marxan/tiny_skk.yaml --out /tmp/tiny-classic
      landalloc import-marxan /tmp/tiny-classic --out /tmp/tiny-classic-back --solve --targets hard
    """
    loaded = load_scenario(scenario)
    data = export_project(loaded, out, flavour)
    if as_json:
        emit_json(data)
        return
    rows = [("project", f"{data['project']} ({'classic Marxan' if data['flavour'] == 'classic' else 'Marxan with Zones'})"),
            ("planning units", str(data["planning_units"])),
            ("zones", ", ".join(data["zones"])), ("features", ", ".join(data["features"]) or "—"),
            ("boundary pairs", str(data["boundary_pairs"])), ("files", ", ".join(data["files"]))]
    console.print(key_value_table(f"export-marxan · {loaded.scenario.name}", rows))
    for x in data["not_exported"]:
        err_console.print(f"[yellow]not exported:[/] {x}", highlight=False)
