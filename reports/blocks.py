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

from reports.data import RunData

TEMPLATES = Path(__file__).resolve().parent / "templates"
LANGS = ("vi", "en")


def strings(lang: str) -> dict[str, Any]:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    return yaml.safe_load((TEMPLATES / f"strings.{lang}.yaml").read_text(encoding="utf-8"))


# --- formatting ----------------------------------------------------------------------------------------

def num(v, lang: str, digits: int = 2) -> str:
    """1234.5 → '1.234,50' (vi) / '1,234.50' (en); None/NaN → '—'."""
    if v is None or (isinstance(v, float) and v != v):
        return "—"
    text = f"{float(v):,.{digits}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]  # no '-0,00'
    if lang == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
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
    key: str
    caption: str
    header: list[str]
    rows: list[list[str]]
    align: list[str]
    total_rows: set[int] = field(default_factory=set)
    note: str | None = None
    number: int = 0


@dataclass
class Figure:
    key: str
    caption: str
    png: bytes
    number: int = 0


@dataclass
class Interactive:
    """The Leaflet map (HTML only): the data payload is built by reports/html.py from these layers."""

    note: str
    data: RunData
    districts: Any
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

    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]

    def table(self, key: str) -> Table | None:
        return next((t for t in self.tables() if t.key == key), None)


def strip_scheme(text: str) -> str:
    """'https://example.org/x' → 'example.org/x': the HTML report references nothing outside itself."""
    return re.sub(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://", "", text)
