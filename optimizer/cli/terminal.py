"""What every verb shares on the terminal: the two consoles, error handling, number formatting, the
solver's live progress, the run summary and diagnosis, and ``--json`` output.

Kept apart from the verbs so that each verb module imports it and nothing else of the CLI: stdout
carries the result (tables, or JSON only with ``--json``), stderr carries messages, warnings and
progress.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import click
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


def fmt(v: Any, digits: int = 4) -> str:
    """A table cell: thousands separators for floats, a dash for a missing value."""
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


def fmt_gap(gap: float | None, digits: int = 4) -> str:
    return "—" if gap is None else f"{gap:.{digits}%}"


def fmt_timings(timings: Mapping[str, float]) -> str:
    """``{"solve_s": 1.2}`` as ``solve 1.20s``."""
    return ", ".join(f"{k[:-2]} {v:.2f}s" for k, v in timings.items())


def emit_json(data: Any) -> None:
    """``--json``: the result alone on stdout, so it can be piped."""
    click.echo(dumps(data))


def warn(msg: str) -> None:
    err_console.print(msg, highlight=False, markup=False, style="yellow")


def log(msg: str) -> None:
    """A progress message of the run (loading, compiling, re-solves): dim, on stderr."""
    err_console.print(msg, highlight=False, style="dim")


def print_written(files: Mapping[str, Any]) -> None:
    for kind, path in files.items():
        console.print(f"written {kind}: {path}", highlight=False)


def table(title: str, columns: Iterable[str | tuple[str, str]]) -> Table:
    """A titled table; a column is a name, or (name, justify)."""
    t = Table(title=title, title_justify="left")
    for col in columns:
        name, justify = (col, "left") if isinstance(col, str) else col
        t.add_column(name, justify=justify)
    return t


def key_value_table(title: str, rows: Iterable[tuple[str, str]]) -> Table:
    """A two-column summary (bold labels, no header), as for a run or an imported project."""
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    for label, value in rows:
        t.add_row(label, value)
    return t


class SolveProgress:
    """The solver's progress on stderr while it runs, so a long solve is not a silent one: a status line
    updated in place on a terminal, one line per new incumbent otherwise (logs, CI). Fed from the solver's
    thread by solve_scenario's ``on_progress``; only HiGHS reports progress."""

    def __init__(self, console: Console):
        self.console, self.status, self.last_incumbent = console, None, None

    @staticmethod
    def line(p: dict) -> str:
        return f"incumbent {fmt(p['incumbent'])}  bound {fmt(p['bound'])}  gap {fmt_gap(p['gap'], 3)}  t={p['t']:.1f}s"

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
    """A run.json as the planner reads it: certificate, model, timings, quotas, marginal values, alternatives."""
    rows = [
        ("status", run.get("status")), ("termination", run.get("termination")),
        ("objective", fmt(run.get("objective"))), ("best bound", fmt(run.get("bound"))),
        ("gap", fmt_gap(run.get("gap"))),
        ("solver", f"{run.get('solver')} {run.get('solver_version')}"),
        ("seed / threads", f"{run.get('seed')} / {run.get('solver_settings', {}).get('threads')}"),
        ("model", "{columns} columns, {rows} rows, {nonzeros} nonzeros, {parcels} parcels".format(**run["model"])),
        ("time", fmt_timings(run.get("timings", {}))),
    ]
    if "changed_area_ha" in run:
        rows.append(("converted", f"{run['changed_parcels']} parcels, {run['changed_area_ha']:,.2f} ha"))
    if "verify" in run:
        v = run["verify"]
        rows.append(("verify", "0 violations" if v["ok"] else f"[red]{len(v['violations'])} violation(s)[/]"))
    console.print(key_value_table(f"landalloc · {run.get('scenario_name')}", ((k, str(v)) for k, v in rows)))
    if run.get("quotas"):
        phased = any("period" in r for r in run["quotas"])
        q = table("quotas (ha)", [(col, "right" if col in ("lo", "achieved", "hi") else "left")
                                  for col in ("period",) * phased + ("key", "use", "lo", "achieved", "hi", "binding")])
        for r in run["quotas"]:
            cells = (r["key"], r["use"], fmt(r["lo"], 2), fmt(r["achieved"], 2), fmt(r["hi"], 2), r.get("binding", ""))
            q.add_row(*((str(r.get("period", "")),) * phased + cells))
        console.print(q)
    if run.get("marginal_values"):
        mv = table("binding rows: objective change for one more unit",
                   ("family", "key", "side", "bound → moved to", "Δ objective / unit", "range (gaps)", "re-solve"))
        for r in run["marginal_values"]:
            key = r["key"] + (f" ({r['period']})" if r.get("period") else "")
            mv.add_row(r["family"], key, r["side"], f"{r['bound']:,.2f} → {r['moved_to']:,.2f} {r['unit']}",
                       fmt(r["marginal_value"]),
                       "—" if not r.get("marginal_range") else f"{fmt(r['marginal_range'][0])} … {fmt(r['marginal_range'][1])}",
                       r["termination"])
        console.print(mv)
    for a in run.get("alternatives", []):
        console.print(f"alternative {a['index']}: {a['status']}, objective {fmt(a['objective'])}"
                      + (f", {a['gap_to_best']:.3%} below the best" if a.get("gap_to_best") is not None else ""))
    print_diagnosis(run)


def print_diagnosis(run: dict) -> None:
    """Why an infeasible run is infeasible, on stderr (so ``--json`` keeps stdout clean)."""
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
