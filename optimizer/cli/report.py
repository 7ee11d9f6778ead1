"""`landalloc report`: the appraisal-council report of a run (PDF, DOCX, self-contained HTML).

The work is in ``reports/`` (metrics first, rendering second). ``reports.build`` is imported inside
the verb, not here: it loads matplotlib, which would add about 0.6 s to every `landalloc --help`.
"""

from __future__ import annotations

from pathlib import Path

import click

from optimizer.cli.terminal import emit_json, handle_errors, print_written


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True,
              help="report language (Vietnamese by default)")
@click.option("--format", "formats", default="pdf,docx,html", show_default=True,
              help="comma-separated formats to write: pdf, docx, html")
@click.option("--compare", type=click.Path(path_type=Path), help="a second run directory to compare with (KPIs and a difference map)")
@click.option("--out", type=click.Path(path_type=Path), help="directory for the report files (default: RUN_DIR/report)")
@click.option("--json", "as_json", is_flag=True, help="print the paths written as JSON (stdout holds only JSON)")
@handle_errors
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
    from reports.build import build_report

    written = build_report(run_dir, lang=lang, formats=formats, compare=compare, out=out)
    if as_json:
        emit_json({k: str(v) for k, v in written.items()})
    else:
        print_written(written)
