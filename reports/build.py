"""`landalloc report`: one run directory → PDF, DOCX, self-contained HTML and an Excel workbook of its
tables, and where the QGIS style is.

    from reports.build import build_report
    paths = build_report("runs/tiny", lang="vi", formats=("pdf", "docx", "html"))

Files are written to a temporary name beside their target and renamed into place
(``optimizer.engine.files.atomic_write``), so a failed report never leaves a half-written file under
the final name. The QGIS style is the solve's (``rundir.write_run_dir`` stores it in the plan
GeoPackage); the report names the styled GeoPackages and does not write them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from optimizer.engine.errors import InputError
from optimizer.engine.files import atomic_write
from optimizer.engine.rundir import styled_plans
from reports.blocks import LANGS
from reports.data import load_run
from reports.document import build_document
from reports.html import render_html, write_pdf
from reports.mapkit import DPI

FORMATS = ("pdf", "docx", "html", "xlsx")
DEFAULT_FORMATS = ("pdf", "docx", "html")
"""what `landalloc report` writes unless --format says otherwise; the workbook is asked for by name"""


def parse_formats(text: str | Iterable[str]) -> tuple[str, ...]:
    items = [f.strip().lower() for f in (text.split(",") if isinstance(text, str) else text) if f.strip()]
    bad = [f for f in items if f not in FORMATS]
    if bad or not items:
        raise InputError(None, "--format", f"unknown format(s) {bad or items}", f"use a comma-separated list of {', '.join(FORMATS)}")
    return tuple(dict.fromkeys(items))


def _write(path: Path, write) -> Path:
    """Atomically, with a temporary name that keeps the extension (a writer may pick its format by it)."""
    return atomic_write(path, write, suffix=f".tmp{path.suffix}")


def build_report(run_dir: str | Path, lang: str = "vi", formats: str | Iterable[str] = DEFAULT_FORMATS,
                 compare: str | Path | None = None, out: str | Path | None = None, dpi: int = DPI,
                 log: Callable[[str], None] = lambda _: None) -> dict[str, Path]:
    """Write report_<lang>.{pdf,docx,html,xlsx} into ``out`` (default RUN_DIR/report); returns format → path
    (plus ``qgis_style`` → each of the run's GeoPackages that carries the QGIS style). ``dpi``: of the
    static maps (lower is faster, for previews and tests); ``log`` hears each phase as it starts."""
    if lang not in LANGS:
        raise InputError(None, "--lang", f"unknown language {lang!r}", f"use one of {', '.join(LANGS)}")
    fmts = parse_formats(formats)
    run_dir = Path(run_dir)
    log(f"reading the run {run_dir}")
    data = load_run(run_dir)
    other = load_run(Path(compare)) if compare is not None else None
    out = Path(out) if out is not None else run_dir / "report"
    written: dict[str, Path] = {}
    log("drawing the maps and building the tables")
    doc = build_document(data, lang, other, dpi=dpi)
    if "pdf" in fmts:
        log("writing the PDF")
        written["pdf"] = _write(out / f"report_{lang}.pdf", lambda p: write_pdf(doc, p))
    if "docx" in fmts:
        from reports.docx_writer import write_docx  # python-docx, only for this format

        log("writing the DOCX")
        written["docx"] = _write(out / f"report_{lang}.docx", lambda p: write_docx(doc, p))
    if "xlsx" in fmts:
        from reports.xlsx_writer import write_xlsx  # openpyxl, only for this format

        log("writing the Excel workbook")
        written["xlsx"] = _write(out / f"report_{lang}.xlsx", lambda p: write_xlsx(doc, p))
    if "html" in fmts:
        log("writing the HTML")
        written["html"] = _write(out / f"report_{lang}.html", lambda p: p.write_text(render_html(doc, interactive=True),
                                                                                   encoding="utf-8"))
    for i, p in enumerate(styled_plans(run_dir, data.run)):
        written["qgis_style" if i == 0 else f"qgis_style_{i}"] = p
    return written
