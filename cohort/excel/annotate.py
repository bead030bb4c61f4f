"""The person's own workbook back, with every problem marked where it is.

Each cell to correct is filled red and carries a comment (the question, what is wrong,
what to do, and the rule); rows saved but flagged for review are marked yellow. A
``Summary`` sheet, first in the workbook, lists everything: sheet, row, column, field,
rule, message. A REDCap CSV comes back as a workbook holding its records, marked the same.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from io import BytesIO
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill

from cohort.dictionary import get_dictionary
from cohort.excel.layout import SUMMARY_SHEET
from cohort.excel.reader import Problem
from forms.safe_cells import neutralise_row

ERROR_FILL = PatternFill("solid", fgColor="FF9999")
FLAG_FILL = PatternFill("solid", fgColor="FFE699")
HEADER = ("Sheet", "Row", "Column", "Field", "Rule", "Kind", "Message")
AUTHOR = "cohort import"


def _label(name: str) -> str:
    f = get_dictionary().fields.get(name)
    return f"{f.plain_label} ({name})" if f is not None else name


def annotate(data: bytes, problems: Sequence[Problem], *, csv_name: str | None = None) -> bytes:
    """Mark ``problems`` in the workbook ``data`` (or in the CSV, turned into a workbook)."""
    book = _csv_book(data, csv_name) if csv_name else load_workbook(BytesIO(data))
    notes: dict[tuple[str, str, int], list[Problem]] = {}
    for problem in problems:
        if problem.row is not None and problem.column is not None \
                and problem.sheet in book.sheetnames:
            notes.setdefault((problem.sheet, problem.column, problem.row), []).append(problem)
    for (sheet, column, row), found in notes.items():
        cell = book[sheet][f"{column}{row}"]
        errors = [p for p in found if p.severity == "error"]
        cell.fill = ERROR_FILL if errors else FLAG_FILL
        text = "\n".join(_note(p) for p in (errors or found))
        cell.comment = Comment(text, AUTHOR, height=160, width=320)
    if SUMMARY_SHEET in book.sheetnames:
        del book[SUMMARY_SHEET]
    summary = book.create_sheet(SUMMARY_SHEET, 0)
    summary.append(HEADER)
    for cell in summary[1]:
        cell.font = Font(bold=True)
    for p in problems:  # messages quote what was typed: never a formula
        summary.append(neutralise_row([
            p.sheet, p.row, p.column, p.field, p.rule,
            "to correct" if p.severity == "error" else "saved, flagged for review",
            p.message]))
    summary.freeze_panes = "A2"
    for letter, width in zip("ABCDEFG", (18, 6, 8, 22, 26, 22, 100), strict=True):
        summary.column_dimensions[letter].width = width
    book.active = 0
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _note(p: Problem) -> str:
    what = _label(p.field) + ": " if p.field else ""
    if p.severity == "error":
        return f"{what}{p.message} [{p.rule}]"
    return f"Saved, but flagged for review: {p.message} [{p.rule}]"


def _csv_book(data: bytes, name: str) -> Any:
    book = Workbook()
    ws = book.active
    assert ws is not None  # noqa: S101
    ws.title = "records"
    text = data.decode("utf-8-sig", errors="replace")
    for record in csv.reader(io.StringIO(text)):
        ws.append(neutralise_row(record))  # a CSV cell '=…' must not become a formula
    del name
    return book
