"""`landalloc report`: the appraisal-council report of a run (PDF, DOCX, self-contained HTML).

Registered on the main group by one line at the end of ``optimizer/cli.py``; the work is in
``reports/`` (metrics first, rendering second).
"""

from __future__ import annotations

from pathlib import Path

import click

from optimizer.engine.rundir import dumps


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True,
              help="report language (Vietnamese by default)")
@click.option("--format", "formats", default="pdf,docx,html", show_default=True,
              help="comma-separated formats to write: pdf, docx, html")
@click.option("--compare", type=click.Path(path_type=Path), help="a second run directory to compare with (KPIs and a difference map)")
@click.option("--out", type=click.Path(path_type=Path), help="directory for the report files (default: RUN_DIR/report)")
@click.option("--json", "as_json", is_flag=True, help="print the paths written as JSON (stdout holds only JSON)")
def report(run_dir, lang, formats, compare, out, as_json):
    """Write the appraisal-council report of RUN_DIR: title block, plan summary, indicator table,
    conversion matrix, per-district (and per-commune) tables, sites, binding quotas with marginal
    values, infeasibility diagnosis, optimality certificate, and maps.

    Also stores a QGIS style (categorized by new_use, the report's colours) in RUN_DIR/allocation.gpkg.
    \b
    Example:
      landalloc solve instances/tiny/tiny.yaml --out runs/tiny
      landalloc report runs/tiny                      # runs/tiny/report/report_vi.{pdf,docx,html}
      landalloc report runs/tiny --lang en --format pdf,html --out reports/tiny
      landalloc report runs/tiny --compare runs/tiny-cbc --json
    """
    # imported here, not at the top: optimizer/cli.py imports this module at its end
    from optimizer.cli import console, handle_errors

    handle_errors(_report)(run_dir, lang, formats, compare, out, as_json, console)


def _report(run_dir, lang, formats, compare, out, as_json, console):
    from reports.build import build_report

    written = build_report(run_dir, lang=lang, formats=formats, compare=compare, out=out)
    if as_json:
        click.echo(dumps({k: str(v) for k, v in written.items()}))
    else:
        for kind, path in written.items():
            console.print(f"written {kind}: {path}", highlight=False)
