"""`landalloc` command line. Exit codes: 0 solved, 2 bad input, 3 infeasible, 4 no solution within limits."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from .errors import EXIT_BAD_INPUT, LandallocError
from .runio import dumps

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

    return wrapper


def _fmt(v, digits=4):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


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
        for col in ("key", "use", "lo", "achieved", "hi", "binding"):
            q.add_column(col, justify="right" if col in ("lo", "achieved", "hi") else "left")
        for r in run["quotas"]:
            binding = "lo" if r.get("at_lo") else "hi" if r.get("at_hi") else ""
            q.add_row(r["key"], r["use"], _fmt(r["lo"], 2), _fmt(r["achieved"], 2), _fmt(r["hi"], 2), binding)
        console.print(q)
    for d in run.get("diagnosis", []):
        err_console.print(f"[red]cannot meet[/] {d['family']} {d['key']}: requires {d['required']:,.2f}, "
                          f"achievable {d['achievable']:,.2f}, shortfall {d['shortfall']:,.2f}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="landalloc")
def main():
    """landalloc — exact land-use allocation for provincial plans.

    \b
    Exit codes: 0 solved (a plan was written; see `termination` for proof),
                2 bad input, 3 infeasible (with a diagnosis),
                4 no solution within the limits.
    """


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), help="run directory to write (replaced atomically)")
@click.option("--solver", type=click.Choice(["highs", "cbc", "scip", "cpsat"]), help="override solver.name")
@click.option("--time-limit", type=float, help="override solver.time_limit (seconds)")
@click.option("--gap", type=float, help="override solver.gap (relative, e.g. 0.001)")
@click.option("--seed", type=int, help="override solver.seed")
@click.option("--threads", type=int, help="override solver.threads")
@click.option("--json", "as_json", is_flag=True, help="print run.json (without the scenario) to stdout only")
@handle_errors
def solve(scenario, out, solver, time_limit, gap, seed, threads, as_json):
    """Solve SCENARIO and write DIR/allocation.gpkg and DIR/run.json.

    \b
    Example:
      landalloc solve instances/tiny/tiny.yaml --out runs/tiny
      landalloc solve instances/tiny/tiny.yaml --out runs/tiny-cbc --solver cbc --json
    """
    from .run import solve_scenario, with_solver_overrides
    from .scenario import load_scenario

    loaded = with_solver_overrides(load_scenario(scenario), name=solver, time_limit=time_limit, gap=gap,
                                   seed=seed, threads=threads)
    outcome = solve_scenario(loaded, out)
    if as_json:
        click.echo(dumps({k: v for k, v in outcome.run.items() if k != "scenario"}))
    else:
        print_run_summary(outcome.run)
        if outcome.out:
            console.print(f"written: {outcome.out}")
    sys.exit(outcome.exit_code)


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
    from .verify import verify_run

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


if __name__ == "__main__":  # pragma: no cover
    main()
