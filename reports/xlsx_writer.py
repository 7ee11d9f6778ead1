"""The report's tables as an Excel workbook (openpyxl), the form in which councils and departments
exchange a plan's figures: one sheet per table, laid out like the official land-use planning forms
(STT, chỉ tiêu, mã, diện tích hiện trạng / quy hoạch / tăng giảm, cơ cấu %), and a sheet with the
run's certificate and the sha256 of every input.

Cells hold the document's values (``Table.raw``), so numbers are numbers a planner can sum, with a
number format per column; in Vietnamese the formats carry the Vietnamese locale ([$-42A]), which
shows 1.234,56 wherever the spreadsheet follows the format's locale (LibreOffice) and the system's
separators elsewhere (Excel). Header rows repeat on every printed page; panes freeze below them.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from reports.blocks import Document, Table

NUMBER_FORMATS = {"ha": "#,##0.00", "num": "#,##0.00", "km": "#,##0.00", "pct": "0.00", "int": "#,##0",
                  "signed": "+#,##0.00;-#,##0.00;0.00", "text": "@"}
LOCALE = {"vi": "[$-42A]", "en": ""}
FONT = "Times New Roman"
THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEAD_FILL = PatternFill("solid", fgColor="EEEEEE")


def _number_format(kind: str, lang: str) -> str:
    fmt = NUMBER_FORMATS.get(kind, "General")
    return fmt if fmt == "@" else LOCALE.get(lang, "") + fmt


def _header(ws, row: int, t: Table) -> int:
    """The table's header from ``row``: the official two-row header when the table has one. Returns
    the last header row."""
    bold = Font(name=FONT, bold=True, size=11)
    header = t.raw_header or t.header
    rows = 2 if t.header_top and not t.raw_header else 1
    for j, h in enumerate(header, start=1):
        ws.cell(row=row + rows - 1, column=j, value=h)
    if rows == 2:
        col = 1
        for label, span in t.header_top:
            ws.cell(row=row, column=col, value=label)
            if span > 1:
                ws.merge_cells(start_row=row, start_column=col, end_row=row, end_column=col + span - 1)
            else:
                ws.merge_cells(start_row=row, start_column=col, end_row=row + 1, end_column=col)
            col += span
    for r in range(row, row + rows):
        for j in range(1, len(header) + 1):
            c = ws.cell(row=r, column=j)
            c.font, c.fill, c.border = bold, HEAD_FILL, BORDER
            c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    return row + rows - 1


def _sheet(wb: Workbook, t: Table, doc: Document) -> None:
    title = (t.sheet or f"{doc.T['table']} {t.number}")[:31]
    ws = wb.create_sheet(title)
    width = len(t.raw_header or t.header)
    ws.cell(row=1, column=1, value=f"{doc.T['table']} {t.number}. {t.caption}").font = Font(name=FONT, bold=True, size=12)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center", wrap_text=True)
    ws.row_dimensions[1].height = 32
    last_head = _header(ws, 3, t)
    formats = t.formats or ["text"] * width
    for i, values in enumerate(t.raw or [], start=1):
        r = last_head + i
        total = (i - 1) in t.total_rows or (i - 1) in t.heading_rows
        for j, (v, kind) in enumerate(zip(values, formats), start=1):
            c = ws.cell(row=r, column=j, value=v)
            c.border = BORDER
            c.font = Font(name=FONT, size=11, bold=total)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                c.number_format = _number_format(kind, doc.lang)
                c.alignment = Alignment(horizontal="right", vertical="top")
            else:
                c.alignment = Alignment(horizontal="left", vertical="top", wrap_text=True)
        if (i - 1) in t.heading_rows:  # a group's title across the table
            ws.merge_cells(start_row=r, start_column=2, end_row=r, end_column=width)
    if t.note:
        note = ws.cell(row=last_head + len(t.raw or []) + 2, column=1, value=t.note)
        note.font = Font(name=FONT, italic=True, size=10)
    for j in range(1, width + 1):
        kind = formats[j - 1] if j - 1 < len(formats) else "text"
        longest = max([len(str(row[j - 1])) for row in (t.raw or []) if j - 1 < len(row) and row[j - 1] is not None]
                      + [8])
        ws.column_dimensions[get_column_letter(j)].width = min(60, max(10, longest + 2)) if kind == "text" else 15
    ws.freeze_panes = ws.cell(row=last_head + 1, column=1)
    ws.print_title_rows = f"3:{last_head}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _certificate(wb: Workbook, doc: Document) -> None:
    ws = wb.create_sheet(doc.T["sheet_certificate"][:31])
    bold = Font(name=FONT, bold=True, size=11)
    ws.cell(row=1, column=1, value=f"{doc.title} — {doc.scenario_label}").font = Font(name=FONT, bold=True, size=12)
    row = 3
    for j, h in enumerate(doc.T["xlsx_cert_header"], start=1):
        c = ws.cell(row=row, column=j, value=h)
        c.font, c.fill, c.border = bold, HEAD_FILL, BORDER
    for label, value in doc.certificate:
        row += 1
        ws.cell(row=row, column=1, value=label).border = BORDER
        c = ws.cell(row=row, column=2, value=value)
        c.border = BORDER
        if isinstance(value, float):
            c.number_format = _number_format("num", doc.lang).replace("0.00", "0.0000")
    row += 2
    for j, h in enumerate(doc.T["xlsx_inputs_header"], start=1):
        c = ws.cell(row=row, column=j, value=h)
        c.font, c.fill, c.border = bold, HEAD_FILL, BORDER
    for role, path, sha in doc.inputs:
        row += 1
        for j, v in enumerate((role, path, sha), start=1):
            ws.cell(row=row, column=j, value=v).border = BORDER
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width, ws.column_dimensions["C"].width = 38, 70, 68


def write_xlsx(doc: Document, path: Path) -> None:
    """Every table of the document that names a sheet, in document order, then the certificate."""
    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for t in doc.tables():
        if t.sheet is None or t.raw is None:
            continue
        name, k = t.sheet[:31], 2
        while name in used:  # two tables of one kind (e.g. per period without a period name)
            name, k = f"{t.sheet[:28]} ({k})", k + 1
        used.add(name)
        _sheet(wb, Table(**{**t.__dict__, "sheet": name}), doc)
    _certificate(wb, doc)
    wb.properties.title = f"{doc.T['xlsx_title']} — {doc.scenario_label}"
    wb.properties.creator = "landalloc"
    wb.properties.language = {"vi": "vi-VN", "en": "en-GB"}.get(doc.lang, "")
    wb.save(str(path))
