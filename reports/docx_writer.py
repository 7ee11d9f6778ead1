"""DOCX rendering of the report document (python-docx): A4, Times New Roman, margins per Decree
30/2020 (top/bottom 20 mm, left 30 mm, right 15 mm), body 13 pt, tables 11 pt (9 pt when wide),
table header rows repeated on every page, page numbers in the footer.
"""

from __future__ import annotations

import io
from pathlib import Path

from docx import Document as new_docx
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from reports.blocks import Bullets, Document, Figure, Interactive, KeyValues, Para, Table

FONT = "Times New Roman"
LANG_TAG = {"vi": "vi-VN", "en": "en-GB"}
_ALIGN = {"l": WD_ALIGN_PARAGRAPH.LEFT, "r": WD_ALIGN_PARAGRAPH.RIGHT, "c": WD_ALIGN_PARAGRAPH.CENTER}


def _set_font(style_or_run, size: float | None = None, bold: bool | None = None, lang: str | None = None) -> None:
    font = style_or_run.font
    font.name = FONT
    if size is not None:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    font.color.rgb = RGBColor(0, 0, 0)
    rpr = style_or_run.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        rfonts.set(qn(attr), FONT)
    if lang:
        el = rpr.find(qn("w:lang"))
        if el is None:
            el = OxmlElement("w:lang")
            rpr.append(el)
        el.set(qn("w:val"), lang)


def _page_number_footer(section) -> None:
    p = section.footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run()
    for tag, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if tag:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), tag)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)
    _set_font(run, 10)


def _repeat_header(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)


def _cell_text(cell, text: str, align: str = "l", bold: bool = False, size: float = 11) -> None:
    cell.text = ""
    p = cell.paragraphs[0]
    p.alignment = _ALIGN.get(align, WD_ALIGN_PARAGRAPH.LEFT)
    p.paragraph_format.space_after = Pt(0)
    for i, line in enumerate(str(text).split("\n")):
        run = p.add_run(line)
        _set_font(run, size, bold)
        if i < len(str(text).split("\n")) - 1:
            run.add_break()


def _caption(d, text: str) -> None:
    p = d.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.paragraph_format.keep_with_next = True
    p.paragraph_format.space_before = Pt(6)
    _set_font(p.add_run(text), 12, True)


def _table(d, t: Table, T: dict) -> None:
    _caption(d, f"{T['table']} {t.number}. {t.caption}")
    size = 9 if len(t.header) > 7 else 11
    top = 1 if t.header_top else 0
    table = d.add_table(rows=1 + top + len(t.rows), cols=len(t.header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for j, h in enumerate(t.header):
        _cell_text(table.rows[top].cells[j], h, "c", True, size)
    if top:  # the official forms' two-row header: a group over its columns, single columns merged down
        col = 0
        for label, span in t.header_top:
            first = table.rows[0].cells[col]
            merged = first.merge(table.rows[0].cells[col + span - 1]) if span > 1 else first.merge(table.rows[1].cells[col])
            _cell_text(merged, label, "c", True, size)
            col += span
    for r in range(top + 1):
        _repeat_header(table.rows[r])
    for i, row in enumerate(t.rows, start=1 + top):
        if (i - 1 - top) in t.heading_rows:  # a group's heading: its number, then its title across the table
            _cell_text(table.rows[i].cells[0], row[0], "c", True, size)
            _cell_text(table.rows[i].cells[1].merge(table.rows[i].cells[len(row) - 1]), row[1], "l", True, size)
            continue
        for j, value in enumerate(row):
            _cell_text(table.rows[i].cells[j], value, t.align[j], (i - 1 - top) in t.total_rows, size)
    if t.note:
        p = d.add_paragraph()
        _set_font(p.add_run(t.note), 10.5)
        p.runs[0].italic = True


def _keyvalues(d, kv: KeyValues) -> None:
    table = d.add_table(rows=len(kv.rows), cols=2)
    table.style = "Table Grid"
    for i, (k, v) in enumerate(kv.rows):
        _cell_text(table.rows[i].cells[0], k, "l", True, 11)
        _cell_text(table.rows[i].cells[1], v, "l", False, 11)
        table.rows[i].cells[0].width = Mm(50)
        table.rows[i].cells[1].width = Mm(115)
    d.add_paragraph()


def write_docx(doc: Document, path: Path) -> None:
    d = new_docx()
    lang = LANG_TAG.get(doc.lang, "vi-VN")
    sec = d.sections[0]
    sec.orientation = WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = Mm(20), Mm(20), Mm(30), Mm(15)
    _page_number_footer(sec)
    _set_font(d.styles["Normal"], 13, lang=lang)
    d.styles["Normal"].paragraph_format.space_after = Pt(4)
    for name, size in (("Heading 1", 14), ("Heading 2", 13), ("Title", 15)):
        _set_font(d.styles[name], size, True, lang)
    d.core_properties.title = f"{doc.title} — {doc.scenario_label}"
    d.core_properties.language = lang
    d.core_properties.author = "landalloc"

    for text, size, bold, italic in ((doc.title, 15, True, False), (doc.subtitle, 13, False, True),
                                     (doc.scenario_label, 13, True, False)):
        p = d.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(text)
        _set_font(run, size, bold)
        run.italic = italic
    for s in doc.sections:
        h = d.add_heading(s.heading, level=1)
        h.paragraph_format.keep_with_next = True
        for b in s.blocks:
            if isinstance(b, Para):
                p = d.add_paragraph()
                p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
                run = p.add_run(b.text)
                _set_font(run, 11 if b.kind == "small" else 13, b.kind == "warn")
                run.italic = b.kind in ("warn", "small")
            elif isinstance(b, Bullets):
                for item in b.items:
                    _set_font(d.add_paragraph(style="List Bullet").add_run(item), 11)
            elif isinstance(b, KeyValues):
                _keyvalues(d, b)
            elif isinstance(b, Table):
                _table(d, b, doc.T)
            elif isinstance(b, Figure):
                p = d.add_paragraph()
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER
                p.paragraph_format.keep_with_next = True
                p.add_run().add_picture(io.BytesIO(b.png), width=Mm(140 if b.sites else 160))
                _caption(d, f"{doc.T['figure']} {b.number}. {b.caption}")
            elif isinstance(b, Interactive):
                continue
    p = d.add_paragraph()
    _set_font(p.add_run(doc.generated_note), 10)
    d.save(str(path))
