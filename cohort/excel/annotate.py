"""The person's own workbook back, with every problem marked where it is.

Each cell to correct is filled red and carries a comment (the question, what is wrong,
what to do, and the rule); rows saved but flagged for review are marked yellow. A
``Summary`` sheet, first in the workbook, lists everything: sheet, row, column, field,
rule, message. A REDCap CSV comes back as a workbook holding its records, marked the same.

Memory: openpyxl holds every cell of a workbook it edits, about 30 kB per styled entry
row (a 20,000-row template takes 600 MB). A workbook whose sheets hold more than
``EDIT_IN_PLACE_BYTES`` of XML, and every CSV, is therefore copied instead, row by row
(read-only in, write-only out): the values, sheets and marks are all there, the formatting
and drop-down lists of the original are not. Either way every cell written from the file
passes ``forms.safe_cells`` where it is text the program did not write itself.

The marks are in the language of whoever imports (``forms.i18n``; a job runs in its
submitter's): the Summary sheet's name and headings, the comments, the question labels
(``DataDictionary.in_language``) and the problems' messages, rendered now. Rule ids,
sheet titles, rows, column letters and variable names are the same in every language.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Sequence
from io import BytesIO
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import column_index_from_string

from cohort.excel.fastrows import rows as sheet_rows
from cohort.excel.layout import SUMMARY_SHEET, sheet_names, shown_dictionary
from cohort.excel.reader import Problem
from cohort.excel.redcap import SHEET as RECORDS  # the sheet its problems name: not translated
from forms.i18n import N_, _
from forms.safe_cells import neutralise, neutralise_row

ERROR_FILL = PatternFill("solid", fgColor="FF9999")
FLAG_FILL = PatternFill("solid", fgColor="FFE699")
HEADER = (N_("Sheet"), N_("Row"), N_("Column"), N_("Field"), N_("Rule"), N_("Kind"),
          N_("Message"))
AUTHOR = "cohort import"
#: Sheet XML above which the workbook is copied row by row rather than edited in place.
EDIT_IN_PLACE_BYTES = 8 * 1024 * 1024
_Marks = dict[tuple[str, int, int], list[Problem]]


def _label(name: str) -> str:
    f = shown_dictionary().fields.get(name)
    return f"{f.plain_label} ({name})" if f is not None else name


def annotate(data: bytes, problems: Sequence[Problem], *, csv_name: str | None = None) -> bytes:
    """Mark ``problems`` in the workbook ``data`` (or in the CSV, turned into a workbook)."""
    if csv_name:
        text = data.decode("utf-8-sig", errors="replace")
        return _copied(problems, [(RECORDS, "visible", csv.reader(io.StringIO(text)))],
                       from_csv=True)
    if _sheet_bytes(data) > EDIT_IN_PLACE_BYTES:
        source = load_workbook(BytesIO(data), read_only=True, data_only=True)
        try:
            return _copied(problems, [(ws.title, ws.sheet_state, sheet_rows(ws))
                                      for ws in source.worksheets
                                      if ws.title not in sheet_names(SUMMARY_SHEET)],
                           from_csv=False)
        finally:
            source.close()
    return _in_place(data, problems)


def _sheet_bytes(data: bytes) -> int:
    with zipfile.ZipFile(BytesIO(data)) as book:
        return sum(p.file_size for p in book.infolist()
                   if p.filename.lower().startswith("xl/worksheets/"))


def _marks(problems: Sequence[Problem], sheets: set[str]) -> _Marks:
    marks: _Marks = {}
    for p in problems:
        if p.row is not None and p.column is not None and p.sheet in sheets:
            key = (p.sheet, p.row, column_index_from_string(p.column))
            marks.setdefault(key, []).append(p)
    return marks


def _note_of(found: list[Problem]) -> tuple[PatternFill, Comment]:
    errors = [p for p in found if p.severity == "error"]
    text = "\n".join(_note(p) for p in (errors or found))
    return (ERROR_FILL if errors else FLAG_FILL), Comment(text, AUTHOR, height=160, width=320)


def _in_place(data: bytes, problems: Sequence[Problem]) -> bytes:
    book = load_workbook(BytesIO(data))
    for (sheet, row, column), found in _marks(problems, set(book.sheetnames)).items():
        cell = book[sheet].cell(row, column)
        cell.fill, cell.comment = _note_of(found)
    for name in sheet_names(SUMMARY_SHEET) & set(book.sheetnames):
        del book[name]
    summary = book.create_sheet(_(SUMMARY_SHEET), 0)
    for line in _summary_rows(problems):
        summary.append(line)
    for cell in summary[1]:
        cell.font = Font(bold=True)
    summary.freeze_panes = "A2"
    for letter, width in zip("ABCDEFG", (18, 6, 8, 22, 26, 22, 100), strict=True):
        summary.column_dimensions[letter].width = width
    book.active = 0
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _summary_rows(problems: Sequence[Problem]) -> Iterator[list[Any]]:
    yield [_(word) for word in HEADER]
    to_correct, flagged = _("to correct"), _("saved, flagged for review")
    for p in problems:  # messages quote what was typed: never a formula
        yield neutralise_row([
            p.sheet, p.row, p.column, p.field, p.rule,
            to_correct if p.severity == "error" else flagged, p.text])


def _copied(problems: Sequence[Problem],
            sheets: Sequence[tuple[str, str, Iterator[Sequence[object]]]],
            *, from_csv: bool) -> bytes:
    """A new workbook streamed row by row: Summary first, then each sheet with its marks.

    From a CSV every text cell is neutralised (it was never a formula); from a workbook
    the values are the cells' own (cached results of formulas)."""
    book = Workbook(write_only=True)
    summary = book.create_sheet(_(SUMMARY_SHEET))
    summary.freeze_panes = "A2"
    for letter, width in zip("ABCDEFG", (18, 6, 8, 22, 26, 22, 100), strict=True):
        summary.column_dimensions[letter].width = width
    for index, line in enumerate(_summary_rows(problems)):
        if index == 0:
            header = []
            for value in line:
                cell = WriteOnlyCell(summary, value)
                cell.font = Font(bold=True)
                header.append(cell)
            summary.append(header)
        else:
            summary.append(line)
    marks = _marks(problems, {title for title, _, _ in sheets})
    columns: dict[tuple[str, int], list[int]] = {}
    for sheet, number, column in marks:
        columns.setdefault((sheet, number), []).append(column)
    for title, state, rows in sheets:
        out = book.create_sheet(title)
        out.sheet_state = state
        for number, values in enumerate(rows, start=1):
            row: list[Any] = [neutralise(v) if from_csv else v for v in values]
            for column in columns.get((title, number), ()):
                row.extend([None] * (column - len(row)))
                cell = WriteOnlyCell(out, row[column - 1])
                cell.fill, cell.comment = _note_of(marks[(title, number, column)])
                row[column - 1] = cell
            out.append(row)
    out_bytes = BytesIO()
    book.save(out_bytes)
    return out_bytes.getvalue()


def _note(p: Problem) -> str:
    if p.severity != "error":
        return _("Saved, but flagged for review: {message} [{rule}]").format(
            message=p.text, rule=p.rule)
    if p.field:
        return _("{question}: {message} [{rule}]").format(
            question=_label(p.field), message=p.text, rule=p.rule)
    return f"{p.text} [{p.rule}]"
