"""`landalloc` command line. Exit codes: 0 solved, 2 bad input, 3 infeasible, 4 no solution within limits."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from optimizer.engine.solvers import solver_names
from rich.console import Console
from rich.table import Table

from optimizer.engine.errors import EXIT_NO_SOLUTION, LandallocError
from optimizer.engine.rundir import dumps

err_console = Console(stderr=True)
console = Console()


def handle_errors(fn):
    """Planner-facing errors become one clear line on stderr and their exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LandallocError as e:
            err_console.print(f"[bold red]error:[/] {e}", highlight=False, markup=True, soft_wrap=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            err_console.print("interrupted before a solver was running; nothing was written")
            sys.exit(EXIT_NO_SOLUTION)

    return wrapper


def _fmt(v, digits=4):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


class SolveProgress:
    """The solver's progress on stderr while it runs, so a long solve is not a silent one: a status line
    updated in place on a terminal, one line per new incumbent otherwise (logs, CI). Fed from the solver's
    thread by solve_scenario's ``on_progress``; only HiGHS reports progress."""

    def __init__(self, console: Console):
        self.console, self.status, self.last_incumbent = console, None, None

    @staticmethod
    def line(p: dict) -> str:
        gap = "—" if p["gap"] is None else f"{p['gap']:.3%}"
        return f"incumbent {_fmt(p['incumbent'])}  bound {_fmt(p['bound'])}  gap {gap}  t={p['t']:.1f}s"

    def __call__(self, p: dict) -> None:
        if self.console.is_terminal:
            if self.status is None:
                self.status = self.console.status(self.line(p))
                self.status.start()
            else:
                self.status.update(self.line(p))
        elif p["incumbent"] is not None and (self.last_incumbent is None or
                                             abs(p["incumbent"] - self.last_incumbent) > 1e-9 * max(1.0, abs(p["incumbent"]))):
            self.last_incumbent = p["incumbent"]
            self.console.print(self.line(p), highlight=False, markup=False)

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


def print_run_summary(run: dict) -> None:
    t = Table(title=f"landalloc · {run.get('scenario_name')}", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    gap = run.get("gap")
    for label, value in (
        ("status", run.get("status")), ("termination", run.get("termination")),
        ("objective", _fmt(run.get("objective"))), ("best bound", _fmt(run.get("bound"))),
        ("gap", "—" if gap is None else f"{gap:.4%}"),
        ("solver", f"{run.get('solver')} {run.get('solver_version')}"),
        ("seed / threads", f"{run.get('seed')} / {run.get('solver_settings', {}).get('threads')}"),
        ("model", "{columns} columns, {rows} rows, {nonzeros} nonzeros, {parcels} parcels".format(**run["model"])),
        ("time", ", ".join(f"{k[:-2]} {v:.2f}s" for k, v in run.get("timings", {}).items())),
    ):
        t.add_row(label, str(value))
    if "changed_area_ha" in run:
        t.add_row("converted", f"{run['changed_parcels']} parcels, {run['changed_area_ha']:,.2f} ha")
    if "verify" in run:
        v = run["verify"]
        t.add_row("verify", "0 violations" if v["ok"] else f"[red]{len(v['violations'])} violation(s)[/]")
    console.print(t)
    if run.get("quotas"):
        q = Table(title="quotas (ha)", title_justify="left")
        phased = any("period" in r for r in run["quotas"])
        for col in ("period",) * phased + ("key", "use", "lo", "achieved", "hi", "binding"):
            q.add_column(col, justify="right" if col in ("lo", "achieved", "hi") else "left")
        for r in run["quotas"]:
            cells = (r["key"], r["use"], _fmt(r["lo"], 2), _fmt(r["achieved"], 2), _fmt(r["hi"], 2), r.get("binding", ""))
            q.add_row(*((str(r.get("period", "")),) * phased + cells))
        console.print(q)
    if run.get("marginal_values"):
        mv = Table(title="binding rows: objective change for one more unit", title_justify="left")
        for col in ("family", "key", "side", "bound → moved to", "Δ objective / unit", "range (gaps)", "re-solve"):
            mv.add_column(col)
        for r in run["marginal_values"]:
            key = r["key"] + (f" ({r['period']})" if r.get("period") else "")
            mv.add_row(r["family"], key, r["side"], f"{r['bound']:,.2f} → {r['moved_to']:,.2f} {r['unit']}",
                       _fmt(r["marginal_value"]),
                       "—" if not r.get("marginal_range") else f"{_fmt(r['marginal_range'][0])} … {_fmt(r['marginal_range'][1])}",
                       r["termination"])
        console.print(mv)
    for a in run.get("alternatives", []):
        console.print(f"alternative {a['index']}: {a['status']}, objective {_fmt(a['objective'])}"
                      + (f", {a['gap_to_best']:.3%} below the best" if a.get("gap_to_best") is not None else ""))
    print_diagnosis(run)


def print_diagnosis(run: dict) -> None:
    if "diagnosis" not in run:
        return
    err_console.print("[bold red]infeasible[/]: these requirements conflict (elastic re-solve, minimal weighted relaxation):")
    for d in run["diagnosis"]:
        err_console.print(f"  {d['family']} {d['key']} ({d['side']}): requires {d['required']:,.2f} {d['unit']}, "
                          f"achievable {d['achievable']:,.2f}, shortfall {d['shortfall']:,.2f}", highlight=False)
    for r in run.get("reachability", []):
        if not r["reachable"]:
            err_console.print(f"  pre-solve: {r['family']} {r['key']} asks {r['required']:,.2f}, at most "
                              f"{r['achievable']:,.2f} is eligible", highlight=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="landalloc")
def main():
    """landalloc — exact land-use allocation for provincial plans.

    \b
    Exit codes: 0 solved (plan written, optimal within the requested gap),
                2 bad input, 3 infeasible (with a diagnosis),
                4 no proven solution within the limits (time limit, Ctrl-C);
                  the best plan found, if any, is still written with status "feasible".
    """


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), help="run directory to write (replaced atomically)")
@click.option("--solver", type=click.Choice(solver_names()), help="override solver.name")
@click.option("--time-limit", type=float, help="override solver.time_limit (seconds)")
@click.option("--gap", type=float, help="override solver.gap (relative, e.g. 0.001)")
@click.option("--seed", type=int, help="override solver.seed")
@click.option("--threads", type=int, help="override solver.threads")
@click.option("--repair", is_flag=True, default=None, help="repair invalid parcel geometries with make_valid (recorded in run.json notes)")
@click.option("--alternatives", type=int, default=0, show_default=True, help="also find K near-optimal alternative plans")
@click.option("--min-difference", type=float, default=10.0, show_default=True,
              help="alternatives differ pairwise by at least this % of the best plan's converted area")
@click.option("--marginals/--no-marginals", default=None, help="re-solve binding quotas moved by one unit (default: scenario explain.marginal_values)")
@click.option("--json", "as_json", is_flag=True, help="print run.json (without the scenario) to stdout only")
@click.option("--store", help="run store to record into: GeoPackage path or postgresql:// URL (default: $LANDALLOC_STORE "
              "or ~/.landalloc/runs.gpkg, skipped with a warning if unwritable; 'none' records nothing)")
@handle_errors
def solve(scenario, out, solver, time_limit, gap, seed, threads, repair, alternatives, min_difference, marginals, as_json,
          store=None):
    """Solve SCENARIO and write DIR/allocation.gpkg and DIR/run.json.

    \b
    Example:
      landalloc solve instances/tiny/tiny.yaml --out runs/tiny
      landalloc solve instances/tiny/tiny.yaml --out runs/tiny-cbc --solver cbc --json
      landalloc solve instances/tiny/tiny.yaml --out runs/tiny-alt --alternatives 3 --min-difference 20
    """
    from optimizer.engine.run import solve_scenario
    from optimizer.engine.scenario import apply_overrides, load_scenario

    loaded = apply_overrides(load_scenario(scenario), {
        "solver.name": solver, "solver.time_limit": time_limit, "solver.gap": gap, "solver.seed": seed,
        "solver.threads": threads, "parcels.repair": repair})
    from optimizer.workflows.store import Recorder  # the run store (optimizer/store.py); opened before solving so a bad --store fails fast
    recorder = Recorder(store, lambda msg: err_console.print(msg, highlight=False, markup=False, style="yellow"))
    progress = SolveProgress(err_console)
    try:
        outcome = solve_scenario(loaded, out, alternatives=alternatives, min_difference=min_difference,
                                 marginals=marginals, log=lambda msg: err_console.print(msg, highlight=False, style="dim"),
                                 on_progress=progress)
    finally:
        progress.close()
    recorder.record(outcome.run, outcome.allocation, kind="solve", run_dir=outcome.out)
    if as_json:
        click.echo(dumps({k: v for k, v in outcome.run.items() if k != "scenario"}))
        print_diagnosis(outcome.run)  # stderr: stdout stays JSON only
    else:
        print_run_summary(outcome.run)
        if outcome.out:
            console.print(f"written: {outcome.out}")
    sys.exit(outcome.exit_code)


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the explanation as JSON")
@handle_errors
def explain(scenario, as_json):
    """Explain SCENARIO before solving: eligible area per quota vs what is asked, and why pairs were excluded.

    \b
    Example:
      landalloc explain instances/tiny/tiny.yaml
    Exits 3 when a quota cannot be reached whatever the solver does, 0 otherwise.
    """
    from optimizer.engine.compile import compile_model
    from optimizer.engine.reachability import reachability
    from optimizer.engine.instance import load_instance
    from optimizer.engine.scenario import load_scenario

    loaded = load_scenario(scenario)
    instance = load_instance(loaded)
    compiled = compile_model(instance, loaded)
    reach = reachability(compiled, instance)
    inel = compiled.model.ineligible
    area = instance.area_ha[inel["parcel"].to_numpy()] if len(inel) else []
    excluded = (inel.assign(area_ha=area).groupby(["family", "reason", "use"], sort=True)
                .agg(parcels=("parcel", "size"), area_ha=("area_ha", "sum")).reset_index()) if len(inel) else None
    data = {"scenario": loaded.scenario.name, "parcels": instance.n, "total_area_ha": float(instance.area_ha.sum()),
            "reachability": reach, "exclusions": [] if excluded is None else excluded.to_dict("records")}
    if as_json:
        click.echo(dumps(data))
    else:
        t = Table(title=f"reachability · {loaded.scenario.name}", title_justify="left")
        for col in ("quota", "lo", "hi", "max eligible", "forced", "status"):
            t.add_column(col)
        for r in reach:
            status = "ok" if r["reachable"] else f"[red]short by {r['shortfall']:,.2f}[/]"
            t.add_row(r["key"], _fmt(r["lo"], 2), _fmt(r["hi"], 2), _fmt(r["max_achievable"], 2), _fmt(r["min_forced"], 2), status)
        console.print(t)
        if excluded is not None:
            e = Table(title="excluded (parcel, use) pairs", title_justify="left")
            for col in ("family", "reason", "use", "parcels", "ha"):
                e.add_column(col)
            for r in excluded.itertuples():
                e.add_row(r.family, r.reason, r.use, str(r.parcels), f"{r.area_ha:,.2f}")
            console.print(e)
    sys.exit(3 if any(not r["reachable"] for r in reach) else 0)


@main.command("instance-info")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@handle_errors
def instance_info(scenario, as_json):
    """Summarize the parcel layer of SCENARIO: areas per district vs official, land balance, zones, synthetic fields.

    \b
    Example:
      landalloc instance-info instances/cao_bang/scenarios/cao_bang_2030.yaml
    """
    from optimizer.engine.info import instance_info as info
    from optimizer.engine.scenario import load_scenario

    data = info(load_scenario(scenario))
    if as_json:
        click.echo(dumps(data))
        return
    console.print(f"[bold]{data['scenario']}[/]: {data['parcels']:,} parcels, {data['total_area_ha']:,.2f} ha in {data['crs']}"
                  + (f" (natural area {data['natural_area_ha']:,.0f} ha, {data['difference_to_natural_pct']:+.3f} %)"
                     if data["natural_area_ha"] else ""))
    t = Table(title="districts", title_justify="left")
    for col in ("district", "parcels", "area ha", "official ha", "diff %"):
        t.add_column(col)
    for d in data["districts"]:
        t.add_row(d["district"], f"{d['parcels']:,}", f"{d['area_ha']:,.2f}", _fmt(d["official_ha"], 2), _fmt(d["difference_pct"], 3))
    console.print(t)
    b = Table(title=f"land balance (forest cover {data['forest_cover_pct']:.2f} %)", title_justify="left")
    b.add_column("group / code")
    b.add_column("ha", justify="right")
    for k, v in data["land_balance_by_group_ha"].items():
        b.add_row(f"[bold]{k}[/]", f"{v:,.2f}")
    for k, v in data["land_balance_by_code_ha"].items():
        b.add_row(f"  {k}", f"{v:,.2f}")
    console.print(b)
    if data["zones"]:
        z = Table(title="zones", title_justify="left")
        for col in ("class", "name", "ha", "within parcels ha"):
            z.add_column(col)
        for r in data["zones"]:
            z.add_row(r["zone_class"], r["zone_name"], f"{r['area_ha']:,.2f}", f"{r['in_parcels_ha']:,.2f}")
        console.print(z)
    if data["synthetic_fields"]:
        console.print("[yellow]synthetic fields[/]: " + ", ".join(data["synthetic_fields"]))


@main.command()
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
    from optimizer.engine.verify import verify_run

    run, report = verify_run(run_dir)
    data = {"run_dir": str(run_dir), **report.as_dict(), "quotas": report.figures.get("quotas", [])}
    if as_json:
        click.echo(dumps(data))
    else:
        if report.ok:
            console.print(f"[green]0 violations[/] — {run_dir} (objective recomputed: {_fmt(report.objective)})")
        for v in report.violations:
            console.print(f"[red]violation[/] {v.family} {v.key}: {v.message}", highlight=False)
    sys.exit(0 if report.ok else 1)

from optimizer.cli.report import report as _report; main.add_command(_report)  # noqa: E402,E702
from optimizer.cli.marxan import import_marxan as _import_marxan; main.add_command(_import_marxan)  # noqa: E402,E702
from optimizer.cli.marxan import export_marxan as _export_marxan; main.add_command(_export_marxan)  # noqa: E402,E702
from optimizer.cli.workflows import whatif as _whatif; main.add_command(_whatif)  # noqa: E402,E702
from optimizer.cli.workflows import compare as _compare; main.add_command(_compare)  # noqa: E402,E702
from optimizer.cli.workflows import sweep as _sweep; main.add_command(_sweep)  # noqa: E402,E702
from optimizer.cli.workflows import runs as _runs; main.add_command(_runs)  # noqa: E402,E702
