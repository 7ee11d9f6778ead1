"""`landalloc report`: one run directory → PDF, DOCX and self-contained HTML, plus the QGIS style.

    from reports.build import build_report
    paths = build_report("runs/tiny", lang="vi", formats=("pdf", "docx", "html"))

Files are written to a temporary name beside their target and renamed into place, so a failed
report never leaves a half-written file under the final name.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from optimizer.engine.errors import InputError

from reports.data import load_run
from reports.document import LANGS, build_document
from optimizer.engine.qgis_style import add_style

FORMATS = ("pdf", "docx", "html")


def parse_formats(text: str | Iterable[str]) -> tuple[str, ...]:
    items = [f.strip().lower() for f in (text.split(",") if isinstance(text, str) else text) if f.strip()]
    bad = [f for f in items if f not in FORMATS]
    if bad or not items:
        raise InputError(None, "--format", f"unknown format(s) {bad or items}", f"use a comma-separated list of {', '.join(FORMATS)}")
    return tuple(dict.fromkeys(items))


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def style_run(run_dir: Path, run: dict) -> list[Path]:
    """Store the QGIS style in the run's allocation.gpkg and its alternative plans."""
    land_uses = (run.get("scenario") or {}).get("land_uses") or {}
    styled = []
    for rel in ["allocation.gpkg"] + [a["layer"] for a in run.get("alternatives") or [] if a.get("layer")]:
        p = Path(run_dir) / rel
        if p.is_file():
            add_style(p, land_uses)
            styled.append(p)
    return styled


def build_report(run_dir: str | Path, lang: str = "vi", formats: str | Iterable[str] = FORMATS,
                 compare: str | Path | None = None, out: str | Path | None = None) -> dict[str, Path]:
    """Write report_<lang>.{pdf,docx,html} into ``out`` (default RUN_DIR/report); returns format → path
    (plus ``qgis_style`` → each styled GeoPackage)."""
    if lang not in LANGS:
        raise InputError(None, "--lang", f"unknown language {lang!r}", f"use one of {', '.join(LANGS)}")
    fmts = parse_formats(formats)
    run_dir = Path(run_dir)
    data = load_run(run_dir)
    other = load_run(Path(compare)) if compare is not None else None
    out = Path(out) if out is not None else run_dir / "report"
    written: dict[str, Path] = {}
    doc = build_document(data, lang, other)
    if "pdf" in fmts:
        from reports.html import write_pdf

        written["pdf"] = out / f"report_{lang}.pdf"
        _atomic(written["pdf"], lambda p: write_pdf(doc, p))
    if "docx" in fmts:
        from reports.docx_writer import write_docx

        written["docx"] = out / f"report_{lang}.docx"
        _atomic(written["docx"], lambda p: write_docx(doc, p))
    if "html" in fmts:
        from reports.html import render_html

        written["html"] = out / f"report_{lang}.html"
        text = render_html(doc, interactive=True)
        _atomic(written["html"], lambda p: p.write_text(text, encoding="utf-8"))
    for i, p in enumerate(style_run(run_dir, data.run)):
        written["qgis_style" if i == 0 else f"qgis_style_{i}"] = p
    return written
