"""`landalloc report`: the appraisal-council report of a run (PDF, DOCX, self-contained HTML).

The work is in ``reports/`` (metrics first, rendering second). ``reports.build`` is imported inside
the verb, not here: it loads matplotlib, which would add about 0.6 s to every `landalloc --help`.
"""

from __future__ import annotations

from pathlib import Path

import click

from optimizer.cli.terminal import emit_json, handle_errors, log, print_written


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True,
              help="report language (Vietnamese by default)")
@click.option("--format", "formats", default="pdf,docx,html", show_default=True,
              help="comma-separated formats to write: pdf, docx, html, xlsx (the tables as an Excel workbook)")
@click.option("--compare", type=click.Path(path_type=Path), help="a second run directory to compare with (KPIs and a difference map)")
@click.option("--out", type=click.Path(path_type=Path), help="directory for the report files (default: RUN_DIR/report)")
@click.option("--json", "as_json", is_flag=True, help="print the paths written as JSON (stdout holds only JSON)")
@handle_errors
def report(run_dir, lang, formats, compare, out, as_json):
    """Write the appraisal-council dossier of RUN_DIR: every figure of the plan checked (quotas, land
    balance, forest cover, resettlement, site windows and anchors, excluded zones) with its source,
    the land-use table by code in the official layout, conversions by 2025 commune, the list of works
    and projects, displaced households, binding quotas with marginal values, the diagnosis, the
    optimality certificate, and maps: the plan, a detail map per site, rice and forest land.
    --format xlsx writes the tables as an Excel workbook (one sheet per table, certificate and hashes).

    Names the run's GeoPackages that carry the QGIS style (categorized by new_use, the report's colours).

    \b
    Example:
      landalloc solve instances/tiny/tiny.yaml --out runs/tiny
      landalloc report runs/tiny                      # runs/tiny/report/report_vi.{pdf,docx,html}
      landalloc report runs/tiny --format pdf,xlsx    # … and report_vi.xlsx
      landalloc report runs/tiny --lang en --format pdf,html --out reports/tiny
      landalloc report runs/tiny --compare runs/tiny-cbc --json
    """
    from reports.build import build_report

    written = build_report(run_dir, lang=lang, formats=formats, compare=compare, out=out, log=log)
    if as_json:
        emit_json({k: str(v) for k, v in written.items()})
    else:
        print_written(written)
