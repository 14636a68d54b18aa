"""A kept chat table as a file: CSV, or an Excel workbook with typed cells.

Both start with the same header block (the question, who asked, the as-of date and time zone,
the query-log entries of the answer and of this download), then the table exactly as the chat
showed it. Text a spreadsheet would run as a formula stays text: CSV cells go through
`tools.spreadsheet.csv_cell`, and workbook strings are written as strings, never formulas.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from chat_ui.exports import TableExport, caller_lines
from chat_ui.present import Cell
from tools.spreadsheet import FORMULA_START, csv_cell

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Excel keeps at most this many characters in a cell.
_EXCEL_CELL_MAX = 32_767
_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_MONEY = re.compile(r"^-?\$\d{1,3}(,\d{3})*\.\d{2}$")  # present.money: '$1,234.56', '-$5.00'
_PERCENT = re.compile(r"^-?\d+(\.\d+)?%$")  # present.percent: '93.4%'


def header_block(table: TableExport, download_seq: int) -> list[tuple[str, Any]]:
    """The lines above the table: (label, value), the same in both formats."""
    context = table.context
    person, roles = caller_lines(context.whoami)
    zone = context.at.tzname() or "UTC"
    shown = len(table.rows)
    rows = f"{shown}" if table.total <= shown else f"{shown} of {table.total} matching (the rows the chat showed)"
    return [
        ("Table", table.title),
        ("Question", context.question),
        ("Asked by", person),
        ("Roles", roles),
        ("As of", context.as_of),
        ("Answered at", f"{context.at:%Y-%m-%d %H:%M:%S} {zone}"),
        ("Time zone", f"{zone} (the server's; dates and times in this file are in it)"),
        ("Answer", f"{table.tool}, query log #{table.answer_seq}"),
        ("Download", f"query log #{download_seq}"),
        ("Rows", rows),
    ]


def to_csv(table: TableExport, download_seq: int) -> bytes:
    """The header block, an empty line, then the table's header row and rows (UTF-8 with a BOM for Excel)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for label, value in header_block(table, download_seq):
        writer.writerow([csv_cell(label), csv_cell(value.isoformat() if isinstance(value, dt.date) else value)])
    writer.writerow([])
    writer.writerow([csv_cell(c) for c in table.columns])
    for row in table.rows:
        writer.writerow([csv_cell(c) for c in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _text(value: str) -> str:
    """`value` as Excel can hold it (no control characters, at most 32,767 characters)."""
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)[:_EXCEL_CELL_MAX]


def _local(value: str, zone: dt.tzinfo | None) -> dt.datetime:
    """An ISO timestamp as a naive time in the file's time zone (Excel has no time zones)."""
    moment = dt.datetime.fromisoformat(value)
    return moment.astimezone(zone).replace(tzinfo=None) if moment.tzinfo else moment


# Column kinds: how a column's display text becomes a typed cell, and the number format it shows with.
_KINDS: list[tuple[str, re.Pattern[str], Callable[[str, dt.tzinfo | None], Any], str]] = [
    ("date", _DATE, lambda v, _: dt.date.fromisoformat(v), "yyyy-mm-dd"),
    ("datetime", _DATETIME, _local, "yyyy-mm-dd hh:mm:ss"),
    ("money", _MONEY, lambda v, _: Decimal(v.replace("$", "").replace(",", "")), '"$"#,##0.00'),
    ("percent", _PERCENT, lambda v, _: Decimal(v[:-1]) / 100, "0.0%"),
]


def _column_kind(values: Sequence[Cell]) -> int | None:
    """The index in _KINDS of the one pattern every text cell of a column matches, or None (kept as text)."""
    texts = [v for v in values if isinstance(v, str) and v != ""]
    if not texts:
        return None
    for index, (_, pattern, _, _) in enumerate(_KINDS):
        if all(pattern.match(v) for v in texts):
            return index
    return None


def _put(sheet: Worksheet, row: int, column: int, value: Any, *, number_format: str | None = None) -> None:
    """One cell: numbers and dates typed, every string written as a string (never a formula)."""
    cell = sheet.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = _text(value)
        cell.data_type = "s"  # openpyxl would otherwise store '=…' as a formula
        if value.startswith(FORMULA_START):
            cell.quotePrefix = True  # and Excel shows it as typed text, even after an edit
    else:
        cell.value = value
    if number_format:
        cell.number_format = number_format


def to_xlsx(table: TableExport, download_seq: int) -> bytes:
    """A one-sheet workbook: the header block, then the table with typed cells, fitted widths and a frozen header."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _SHEET_NAME.sub(" ", table.title).strip()[:31] or "Answer"
    book.properties.title = table.title
    book.properties.creator = "SIS chat"
    bold = Font(bold=True)
    for line, (label, value) in enumerate(header_block(table, download_seq), start=1):
        _put(sheet, line, 1, label)
        sheet.cell(row=line, column=1).font = bold
        _put(sheet, line, 2, value, number_format="yyyy-mm-dd" if isinstance(value, dt.date) else None)
        sheet.cell(row=line, column=2).alignment = Alignment(horizontal="left")
    top = sheet.max_row + 2
    fill = PatternFill("solid", fgColor="DDE4EE")
    for column, name in enumerate(table.columns, start=1):
        _put(sheet, top, column, name)
        sheet.cell(row=top, column=column).font = bold
        sheet.cell(row=top, column=column).fill = fill
    zone = table.context.at.tzinfo
    kinds = [_column_kind([row[i] for row in table.rows]) for i in range(len(table.columns))]
    for offset, row in enumerate(table.rows, start=1):
        for column, (value, kind) in enumerate(zip(row, kinds, strict=True), start=1):
            if kind is not None and isinstance(value, str) and value:
                _, _, convert, number_format = _KINDS[kind]
                _put(sheet, top + offset, column, convert(value, zone), number_format=number_format)
            else:
                _put(sheet, top + offset, column, value)
    sheet.freeze_panes = f"A{top + 1}"
    if table.rows:
        sheet.auto_filter.ref = f"A{top}:{get_column_letter(len(table.columns))}{top + len(table.rows)}"
    for column, name in enumerate(table.columns, start=1):
        longest = max([len(name)] + [len(str(row[column - 1])) for row in table.rows if row[column - 1] is not None])
        sheet.column_dimensions[get_column_letter(column)].width = min(60, max(10, longest + 2))
    sheet.column_dimensions["A"].width = max(sheet.column_dimensions["A"].width or 0, 14)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render(table: TableExport, extension: str, download_seq: int) -> bytes:
    """The file of `table` in format `extension` ('csv' or 'xlsx')."""
    return to_csv(table, download_seq) if extension == "csv" else to_xlsx(table, download_seq)
