"""What every verb shares on the terminal: the two consoles, error handling, number formatting, the
solver's live progress, the run summary and diagnosis, and ``--json`` output.

Kept apart from the verbs so that each verb module imports it and nothing else of the CLI: stdout
carries the result (tables, or JSON only with ``--json``), stderr carries messages, warnings and
progress.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from optimizer.engine import interrupts
from optimizer.engine.errors import EXIT_NO_SOLUTION, LandallocError
from optimizer.engine.files import written_since
from optimizer.engine.layers import LayerWarning
from optimizer.engine.rundir import dumps

err_console = Console(stderr=True)
console = Console()


def handle_errors(fn):
    """Planner-facing errors become one clear line on stderr and their exit code, never a traceback;
    layer warnings (``layers.LayerWarning``) one line each. A Ctrl-C that stops the verb says where it
    stopped and what this verb had written by then (a run keeps a plan its solver found: ``interrupts``)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        mark = len(written_since())
        with warnings.catch_warnings():
            warnings.simplefilter("default", LayerWarning)
            show = warnings.showwarning
            warnings.showwarning = lambda message, category, *a, **k: (
                err_console.print(str(message), highlight=False, markup=False, style="yellow", soft_wrap=True)
                if issubclass(category, LayerWarning) else show(message, category, *a, **k))
            try:
                return fn(*args, **kwargs)
            except LandallocError as e:
                err_console.print(f"[bold red]error:[/] {e}", highlight=False, markup=True, soft_wrap=True)
                sys.exit(e.exit_code)
            except KeyboardInterrupt:
                phase = interrupts.take_interrupted_phase()
                written = written_since(mark)
                when = ("before a solver was running" if phase == interrupts.PREPARING else
                        f"while {phase}" if phase else "")
                what = ("nothing was written" if not written else
                        "written before it: " + ", ".join(str(p) for p in dict.fromkeys(written)))
                err_console.print(f"interrupted{' ' + when if when else ''}; {what}", highlight=False, soft_wrap=True)
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
    """A progress message of the run (loading, compiling, re-solves): dim, on stderr, one line each."""
    err_console.print(msg, highlight=False, style="dim", soft_wrap=True)


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
    updated in place on a terminal, one line per new plan otherwise (logs, CI). Fed from the solver's
    thread by solve_scenario's ``on_progress`` (adapters with the ``progress`` feature). It names the
    phase — searching for a first plan, improving it, proving it — and who found the plan (``start``,
    ``heuristic:<name>``, ``mip``), and never shows a gap over 100 % as a percentage; ``finish`` prints
    the final line, the same figures as the summary."""

    def __init__(self, console: Console):
        self.console, self.status, self.last_incumbent = console, None, None

    @staticmethod
    def line(p: dict, phase: str) -> str:
        head = f"{p['t']:7.1f} s  {phase:<22}"
        if p["incumbent"] is None:
            return head + ("" if p["bound"] is None else f"bound {fmt(p['bound'])}")
        by = f"  found by {p['found_by']}" if p.get("found_by") else ""
        if p["bound"] is None or p["gap"] is None:
            return head + f"plan {fmt(p['incumbent'])}  no bound yet{by}"
        gap = "over 100 %" if p["gap"] > 1 else fmt_gap(p["gap"], 3)
        return head + f"plan {fmt(p['incumbent'])}  bound {fmt(p['bound'])}  gap {gap}{by}"

    def phase(self, p: dict) -> str:
        if p["incumbent"] is None:
            return "searching for a plan"
        if self.last_incumbent is None:
            return "first plan found"
        return "improving the plan" if self._new_plan(p) else "proving the plan"

    def _new_plan(self, p: dict) -> bool:
        return p["incumbent"] is not None and (self.last_incumbent is None or abs(p["incumbent"] - self.last_incumbent)
                                               > 1e-9 * max(1.0, abs(p["incumbent"])))

    def __call__(self, p: dict) -> None:
        text = self.line(p, self.phase(p))
        if self.console.is_terminal:
            if self.status is None:
                self.status = self.console.status(text)
                self.status.start()
            else:
                self.status.update(text)
        elif self._new_plan(p):
            self.console.print(text, highlight=False, markup=False, soft_wrap=True)
        if p["incumbent"] is not None:
            self.last_incumbent = p["incumbent"]

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def finish(self, run: dict) -> None:
        """The last line: how the run ended, with the summary's objective, bound and gap."""
        self.close()
        t = (run.get("timings") or {}).get("solve_s")
        self.console.print(f"{'' if t is None else f'{t:7.1f} s  '}{run.get('status')} ({run.get('termination')}): "
                           f"objective {fmt(run.get('objective'))}  bound {fmt(run.get('bound'))}  "
                           f"gap {fmt_gap(run.get('gap'))}", highlight=False, markup=False, soft_wrap=True)


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
    if run.get("objective_terms"):
        phased = any("period" in t for t in run["objective_terms"])
        t = table("objective: what it is made of", [("period", "left")] * phased + [
            ("term", "left"), ("weight", "right"), ("quantity", "right"), ("unit", "left"), ("contribution", "right")])
        for term in run["objective_terms"]:
            t.add_row(*([str(term.get("period", ""))] * phased), term["name"], fmt(term["weight"], 4),
                      fmt(term["quantity"], 2), term["unit"], fmt(term["contribution"], 2))
        t.add_row(*([""] * phased), "total", "", "", "", fmt(run.get("objective"), 2))
        console.print(t)
    print_marginal_values(run)
    for a in run.get("alternatives", []):
        console.print(f"alternative {a['index']}: {a['status']}, objective {fmt(a['objective'])}"
                      + (f", {a['gap_to_best']:.3%} below the best" if a.get("gap_to_best") is not None else ""))
    print_diagnosis(run)


def print_marginal_values(run: dict) -> None:
    """The binding rows priced by the next parcel: a table, then each in a sentence."""
    if run.get("marginal_values"):
        mv = table("binding rows priced by the next parcel", ("family", "key", "side", "bound → relaxed to",
                                                              "next parcel: Δ activity", "Δ objective / unit", "range (gaps)"))
        for r in run["marginal_values"]:
            key = r["key"] + (f" ({r['period']})" if r.get("period") else "")
            if "skipped" in r:
                mv.add_row(r["family"], key, r["side"], "—", "—", f"skipped: {r['skipped']}", "")
                continue
            value = fmt(r["marginal_value"]) if r.get("conclusive") else "inconclusive"
            rng = r.get("marginal_range")
            mv.add_row(r["family"], key, r["side"], f"{r['bound']:,.2f} → {r['moved_to']:,.2f} {r['unit']}",
                       "—" if r.get("step") is None else f"{r['step']:+,.2f} {r['unit']}", value,
                       "—" if not rng or None in rng else f"{fmt(rng[0])} … {fmt(rng[1])}")
        console.print(mv)
        for r in run["marginal_values"]:
            if r.get("explanation_en"):
                console.print(f"  {r['explanation_en']}", highlight=False)
    if run.get("marginal_values_skipped"):
        err_console.print(f"[yellow]marginal values:[/] {run['marginal_values_skipped']}", highlight=False)


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
