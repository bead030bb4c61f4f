"""Filling templates the way a person does, with openpyxl."""

from __future__ import annotations

from collections.abc import Mapping
from io import BytesIO
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from cohort.dictionary import get_dictionary
from cohort.excel.layout import CODE, FIRST_DATA_ROW, NAME_ROW


def entry_sheet(book: Workbook) -> Worksheet:
    return book.worksheets[1]


def columns(ws: Worksheet) -> dict[str, int]:
    return {str(c.value): c.column for c in ws[NAME_ROW] if c.value}


def as_cells(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Answers as a person types them: one ticked cell per checkbox choice."""
    cells: dict[str, Any] = {}
    for name, value in answers.items():
        f = get_dictionary().fields.get(name)
        if f is not None and f.is_checkbox:
            for code in value:
                cells[f"{name}___{code}"] = "x"
        else:
            cells[name] = value
    return cells


def fill(ws: Worksheet, row: int, values: Mapping[str, Any]) -> None:
    where = columns(ws)
    for name, value in values.items():
        ws.cell(row, where[name], value)


def row_of(ws: Worksheet, code: str) -> int:
    col = columns(ws)[CODE]
    for row in range(FIRST_DATA_ROW, ws.max_row + 1):
        if ws.cell(row, col).value == code:
            return row
    raise KeyError(code)


def load(data: bytes) -> Workbook:
    return load_workbook(BytesIO(data))


def save(book: Workbook) -> bytes:
    out = BytesIO()
    book.save(out)
    return out.getvalue()
