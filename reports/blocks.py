"""The blocks a report is made of (paragraphs, tables of formatted strings, figures, sections), the
report's strings in each language, and how numbers are formatted.

``reports/document.py`` fills these blocks from a run; ``reports/html.py`` and ``reports/docx_writer.py``
render them, so the three formats always show the same cells. Vietnamese style 1.234,56 for ``vi``,
1,234.56 for ``en``.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from optimizer.engine.text import number
from reports.data import RunData

TEMPLATES = Path(__file__).resolve().parent / "templates"
LANGS = ("vi", "en")


def strings(lang: str, admin_level: str = "district") -> dict[str, Any]:
    """The report's words in ``lang``. Where the parcels' ``district`` field holds communes (scenario
    ``parcels.admin_level: commune``), the words of ``commune_level`` replace those naming districts, so
    a table of communes is never titled by district."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    T = yaml.safe_load((TEMPLATES / f"strings.{lang}.yaml").read_text(encoding="utf-8"))
    commune_words = T.pop("commune_level")
    if admin_level == "commune":
        for key, words in commune_words.items():
            T[key] = {**T[key], **words} if isinstance(words, dict) else words
    return T


# --- formatting ----------------------------------------------------------------------------------------

def num(v, lang: str, digits: int = 2) -> str:
    """1234.5 → '1.234,50' (vi) / '1,234.50' (en); None/NaN → '—'."""
    if v is None or (isinstance(v, float) and v != v):
        return "—"
    text = number(float(v), lang, digits)
    if text.startswith("-") and round(abs(float(v)), digits) == 0:
        text = text[1:]  # no '-0,00'
    return text.replace("-", "−")


def signed(v, lang: str, digits: int = 2) -> str:
    """Change with an explicit sign: '+1,25', '−0,50', '0,00'."""
    text = num(v, lang, digits)
    if text not in ("—",) and not text.startswith("−") and float(v) != 0 and text.strip("0,.") != "":
        text = "+" + text
    return text


def integer(v, lang: str) -> str:
    return num(v, lang, 0)


def percent(v, lang: str, digits: int = 4) -> str:
    return "—" if v is None else num(100 * float(v), lang, digits) + "%"


def cell(v, kind: str, lang: str) -> str:
    """A table cell as printed, by the column's number format (see :class:`Table`)."""
    if v is None or (isinstance(v, float) and v != v):
        return "—"
    if kind == "text":
        return str(v)
    if kind == "int":
        return integer(v, lang)
    if kind == "signed":
        return signed(v, lang)
    return num(v, lang, 2)


ALIGN = {"text": "l", "stt": "c", "code": "c"}


def data_table(key: str, caption: str, header: list[str], raw: list[list], formats: list[str], lang: str,
               **kw) -> "Table":
    """A table from values: the printed rows are formatted from ``raw`` column by column, so the PDF,
    DOCX, HTML and the workbook show the same numbers. Formats 'stt' and 'code' are text, centred."""
    rows = [[cell(v, "text" if f in ("stt", "code") else f, lang) for v, f in zip(r, formats)] for r in raw]
    align = kw.pop("align", None) or [ALIGN.get(f, "r") for f in formats]
    return Table(key, caption, header, rows, align, raw=raw,
                 formats=["text" if f in ("stt", "code") else f for f in formats], **kw)


def records(df: pd.DataFrame) -> list[dict]:
    """Rows as dicts with missing values as None (pandas turns None into NaN in numeric columns)."""
    return df.astype(object).where(df.notna(), None).to_dict("records")


def use_name(lu: pd.DataFrame, code: str, lang: str) -> str:
    col = "name_vi" if lang == "vi" else "name_en"
    return str(lu[col].get(code, code)) if code in lu.index else code


def date_text(iso: str | None, lang: str) -> str:
    if not iso:
        return "—"
    d = _dt.datetime.fromisoformat(iso).date() if "T" in iso else _dt.date.fromisoformat(iso)
    return d.strftime("%d/%m/%Y") if lang == "vi" else d.isoformat()


# --- the document model -------------------------------------------------------------------------------

@dataclass
class Para:
    text: str
    kind: str = "p"  # p | warn | small


@dataclass
class Bullets:
    items: list[str]


@dataclass
class KeyValues:
    rows: list[tuple[str, str]]


@dataclass
class Table:
    """Rows of formatted strings (what the PDF, DOCX and HTML print) and, for the Excel workbook, the
    same cells as values (``raw``: numbers stay numbers) with a number format per column (``formats``:
    'text', 'ha', 'int', 'pct', 'km', 'num'). ``header_top``: an optional first header row of
    (label, span) over ``header``; a span of 1 stands over a single column and takes both rows."""

    key: str
    caption: str
    header: list[str]
    rows: list[list[str]]
    align: list[str]
    total_rows: set[int] = field(default_factory=set)
    note: str | None = None
    number: int = 0
    raw: list[list] | None = None
    formats: list[str] | None = None
    header_top: list[tuple[str, int]] | None = None
    sheet: str | None = None
    """the Excel sheet's name; tables without one are not in the workbook"""
    heading_rows: set[int] = field(default_factory=set)
    """rows that head a group of rows: their number and their title, across the table"""
    raw_header: list[str] | None = None
    """the workbook's header when its columns differ from the printed ones (values split out of a cell)"""


@dataclass
class Figure:
    """A static map or chart: the PNG and, for maps, what a reader sees on it (``texts``) and where the
    map frame is (``frame_px``, ``extent``: its pixels and the world rectangle they show)."""

    key: str
    caption: str
    png: bytes
    number: int = 0
    texts: list[str] = field(default_factory=list)
    frame_px: tuple | None = None
    extent: tuple | None = None
    sites: list[str] = field(default_factory=list)
    """the named sites a detail map shows"""

    @classmethod
    def of_map(cls, key: str, caption: str, image, sites: list[str] | None = None) -> "Figure":
        """From a ``reports.mapkit.MapImage``."""
        return cls(key, caption, image.png, texts=list(image.texts), frame_px=image.frame_px, extent=image.extent,
                   sites=list(sites or []))


@dataclass
class Interactive:
    """The Leaflet map (HTML only): the data payload is built by reports/html.py from these layers."""

    note: str
    data: RunData
    units: Any
    """the administrative units drawn: 2025 communes, or districts when the parcels carry no commune"""
    zones: Any
    places: Any


@dataclass
class Section:
    key: str
    heading: str
    blocks: list = field(default_factory=list)


@dataclass
class Document:
    lang: str
    T: dict
    title: str
    subtitle: str
    meta: list[tuple[str, str]]
    warnings: list[str]
    generated_note: str
    sections: list[Section]
    land_uses: pd.DataFrame
    scenario_label: str
    inputs: list[tuple[str, str, str]] = field(default_factory=list)
    """(role, path, sha256) of every input, in full for the workbook's certificate sheet"""
    certificate: list[tuple[str, Any]] = field(default_factory=list)
    """the certificate as (label, value) with numbers as numbers, for the workbook"""

    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]

    def table(self, key: str) -> Table | None:
        return next((t for t in self.tables() if t.key == key), None)


def strip_scheme(text: str) -> str:
    """'https://example.org/x' → 'example.org/x': the HTML report references nothing outside itself."""
    return re.sub(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://", "", text)
