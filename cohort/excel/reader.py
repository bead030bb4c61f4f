"""Reading a filled entry workbook back: which sheet, which columns, which rows.

Entry sheets are found by their variable-name row, not by their name, so a renamed sheet
is read; columns are matched by that row too, so moved columns are read. *Every* sheet with
that row is read: a person who copied the entry sheet and filled the copy (or both) has
every filled row imported, each row and problem naming the sheet it is on. The hidden
``_meta`` sheet says what kind of workbook it is; without it (a sheet made by hand) the
kind is recognised from the columns, and a questionnaire's timepoint from the sheet name.
Sheets holding different kinds of rows are refused as a whole. Anything that cannot be
read with certainty becomes a ``Problem`` on that cell; nothing is guessed.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from io import BytesIO
from itertools import chain, islice
from typing import Any
from zipfile import BadZipFile

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from cohort.dictionary import get_dictionary
from cohort.excel.cells import CellError, Reader, reader_for
from cohort.excel.fastrows import rows as sheet_rows
from cohort.excel.guard import WorkbookLimits, check_workbook, workbook_limits
from cohort.excel.layout import (
    CHECKBOX_SEPARATOR,
    CODE,
    INSTRUCTIONS_SHEET,
    LISTS_SHEET,
    META_SHEET,
    STAFF,
    SUMMARY_SHEET,
    Column,
    Kind,
    columns_for,
    dictionary_version,
    sheet_names,
    sheet_title,
)
from cohort.excel.rows import EntryRow, EntrySheet, Layout, Problem, WorkbookUnreadable
from cohort.excel.versions import meanings_changed
from cohort.messages import msg
from cohort.schedule import get_schedule
from cohort.vocab import Timepoint
from forms.i18n import _

__all__ = ["EntryRow", "EntrySheet", "Layout", "Problem", "WorkbookUnreadable",
           "read_workbook"]

#: How far down a sheet the variable-name row is looked for.
HEADER_SEARCH_ROWS = 6
#: Our own sheets, by their names in every language (a French Résumé is skipped too).
SKIPPED_SHEETS = frozenset({META_SHEET, LISTS_SHEET})


def _skipped() -> frozenset[str]:
    return SKIPPED_SHEETS | sheet_names(INSTRUCTIONS_SHEET) | sheet_names(SUMMARY_SHEET)


def _all_names() -> set[str]:
    names = {CODE, STAFF}
    for f in get_dictionary().fields.values():
        names.add(f.name)
        names.update(f"{f.name}{CHECKBOX_SEPARATOR}{c}" for c in f.choices if f.is_checkbox)
    return names


def _norm(value: object) -> str:
    return str(value).strip().lower() if value is not None else ""


def _meta(book: Any) -> dict[str, str]:
    if META_SHEET not in book.sheetnames:
        return {}
    meta: dict[str, str] = {}
    for row in book[META_SHEET].iter_rows(min_row=1, max_col=2, values_only=True):
        if row and row[0] is not None:
            meta[str(row[0]).strip()] = "" if len(row) < 2 or row[1] is None else str(row[1])
    return meta


#: What openpyxl and the XML parser raise on a damaged or hostile file (defusedxml's
#: refusals are ValueErrors).
DAMAGED = (BadZipFile, KeyError, OSError, ValueError, TypeError, IndexError,
           EOFError, SyntaxError, zlib.error)


def read_workbook(data: bytes, limits: WorkbookLimits | None = None) -> EntrySheet:
    """Read the entry sheet of a workbook; problems with cells are collected, not raised.

    The file is checked against ``limits`` (``cohort.excel.guard``) before any sheet is
    parsed; a file that cannot be read raises ``WorkbookUnreadable`` or ``WorkbookRefused``
    (both ``CohortError``: a one-line answer, never a traceback)."""
    limits = limits or workbook_limits()
    check_workbook(data, limits)
    try:
        book = load_workbook(BytesIO(data), read_only=True, data_only=True)
    except DAMAGED as error:
        raise WorkbookUnreadable(
            msg("workbook.not_xlsx", error=type(error).__name__)) from None
    try:
        return _read(book, limits)
    except DAMAGED as error:
        raise WorkbookUnreadable(
            msg("workbook.damaged_xml", error=type(error).__name__)) from None
    finally:
        book.close()


def _read(book: Any, limits: WorkbookLimits) -> EntrySheet:
    meta = _meta(book)
    known = _all_names()
    found: list[tuple[Any, int, list[str], Iterator[Sequence[object]]]] = []
    labels: dict[str, dict[str, str]] = {}  # sheet -> variable name -> the label above it
    skipped = _skipped()
    for ws in book.worksheets:
        if ws.title in skipped:
            continue
        rows = sheet_rows(ws, max_row=limits.max_row_number, max_column=limits.max_columns)
        head = list(islice(rows, HEADER_SEARCH_ROWS))
        scores = [sum(1 for v in values if _norm(v) in known) for values in head]
        if scores and max(scores) >= 2:
            best = scores.index(max(scores))
            names = [_norm(v) for v in head[best]]
            found.append((ws, best + 1, names, chain(head[best + 1:], rows)))
            above = head[best - 1] if best else ()
            labels[ws.title] = {name: str(label).strip() for name, label in zip(
                names, above, strict=False) if name and label is not None}
    if not found:
        raise WorkbookUnreadable(
            msg("workbook.no_entry_sheet"))
    kinds = [(ws.title, _kind(meta, names, ws.title)) for ws, _, names, _ in found]
    if len({kind for _, kind in kinds}) > 1:
        held = "; ".join(f"'{title}': {kind.value}" for title, kind in kinds)
        raise WorkbookUnreadable(msg("workbook.mixed_kinds", sheets=held))
    kind = kinds[0][1]
    timepoints = [_timepoint(meta, ws.title) if kind is Kind.QUESTIONNAIRE else None
                  for ws, *_ in found]
    sheet = EntrySheet(kind, timepoints[0], meta.get("centre") or None, [],
                       dictionary_version=meta.get("dictionary_version"))
    for (ws, name_row, names, data_rows), timepoint in zip(found, timepoints, strict=True):
        layout = Layout(ws.title, name_row)
        sheet.layouts.append(layout)
        readers = _header(sheet, layout, names, timepoint)
        with_name = {index for index, name in enumerate(names) if name}
        _rows(sheet, layout, timepoint, readers, with_name, data_rows)
    if sheet.dictionary_version and sheet.dictionary_version != dictionary_version():
        changed = meanings_changed(book, sheet.layouts, labels)
        if changed:  # cells were read with today's codes: only the header problems count
            sheet.problems = [p for p in sheet.problems if sheet.in_header(p)] + changed
    return sheet


def _kind(meta: dict[str, str], names: list[str], title: str) -> Kind:
    if meta.get("kind"):
        try:
            return Kind(meta["kind"])
        except ValueError:
            raise WorkbookUnreadable(msg("workbook.unknown_kind", kind=meta['kind'])) from None
    present = set(names)
    if "session_date" in present:
        return Kind.SESSION
    if "visit_date" in present:
        return Kind.QUESTIONNAIRE
    if {"age", "consent", "inclusion_date"} <= present:
        return Kind.ENROLMENT
    raise WorkbookUnreadable(msg("workbook.unknown_sheet_kind", sheet=title))


def _timepoint(meta: dict[str, str], title: str) -> Timepoint:
    words = title.upper().replace("_", " ").split()
    schedule = get_schedule()
    named = [Timepoint(name) for name in schedule.names if name in words]
    if meta.get("timepoint"):
        try:
            made_for = Timepoint(schedule.parse(meta["timepoint"]))
        except ValueError:
            raise WorkbookUnreadable(msg("workbook.unknown_timepoint",
                                         timepoint=meta['timepoint'])) from None
        if len(named) == 1 and named[0] != made_for:
            raise WorkbookUnreadable(msg("workbook.sheet_timepoint_mismatch", sheet=title,
                                         named=named[0], made_for=made_for))
        return made_for
    if len(named) != 1:
        raise WorkbookUnreadable(msg("workbook.sheet_timepoint_unknown", sheet=title,
                                     names=_(" or ").join(
                                         f"'{sheet_title(Kind.QUESTIONNAIRE, Timepoint(name))}'"
                                         for name in schedule.names)))
    return named[0]


def _header(sheet: EntrySheet, layout: Layout, names: list[str],
            timepoint: Timepoint | None) -> list[tuple[int, Column, Reader]]:
    columns = {c.name: c for c in columns_for(sheet.kind, timepoint)}
    readers: list[tuple[int, Column, Reader]] = []
    seen: dict[str, str] = {}
    for index, name in enumerate(names):
        if not name:
            continue
        letter = get_column_letter(index + 1)
        if name in seen:
            sheet.problems.append(Problem(
                layout.title, layout.name_row, letter, name, "import.duplicate_column",
                msg("workbook.duplicate_column", first=seen[name], second=letter, name=name)))
            continue
        column = columns.get(name)
        if column is None:
            sheet.problems.append(Problem(
                layout.title, layout.name_row, letter, name, "import.unknown_column",
                msg("workbook.unknown_column", name=name, row=layout.name_row, column=letter)))
            continue
        seen[name] = letter
        readers.append((index, column, reader_for(column)))
    layout.letters = seen
    needed = [c for c in columns.values()
              if c.name == CODE or (c.field is not None and c.field.required
                                    and not c.field.branching and c.choice is None)]
    for column in needed:
        if column.name not in seen:
            sheet.problems.append(Problem(
                layout.title, layout.name_row, None, column.name, "import.missing_column",
                msg("workbook.missing_column", label=column.label, name=column.name)))
    return readers


def _is_default(column: Column, default: object, value: object) -> bool:
    """Whether a cell still holds what the template pre-filled (``@DEFAULT``)."""
    if column.choice is not None:
        return value is True
    return str(value).strip() == str(default).strip()


def _rows(sheet: EntrySheet, layout: Layout, timepoint: Timepoint | None,
          readers: list[tuple[int, Column, Reader]], named: set[int],
          rows: Iterator[Sequence[object]]) -> None:
    width = max(named, default=-1) + 1
    unnamed = [index for index in range(width) if index not in named]
    defaults = {index: column.default for index, column, _ in readers
                if column.default is not None}
    for number, values in enumerate(rows, start=layout.name_row + 1):
        answers: dict[str, Any] = {}
        ticks: dict[str, list[str]] = {}
        missing: dict[str, str] = {}
        code: str | None = None
        staff: str | None = None
        filled = False
        for index, column, read in readers:
            raw = values[index] if index < len(values) else None
            if raw is None:
                continue
            try:
                value = read(raw)
            except CellError as error:
                sheet.problems.append(Problem(
                    layout.title, number, get_column_letter(index + 1),
                    column.field.name if column.field else column.name,
                    "import.unreadable_value", error.message))
                filled = True
                continue
            if value is None:
                continue
            name = column.name
            if name == CODE:
                code = str(value)
                continue
            if index not in defaults or not _is_default(column, defaults[index], value):
                filled = True  # a new row's pre-filled defaults alone do not fill it
            if name == STAFF:
                staff = str(value)
            elif column.choice is not None and column.field is not None:
                chosen = ticks.setdefault(column.field.name, [])
                if isinstance(value, str):
                    missing[column.field.name] = value
                elif value:
                    chosen.append(column.choice)
            else:
                answers[name] = value
        for index in [*unnamed, *range(width, len(values))]:
            if index < len(values) and values[index] is not None and str(values[index]).strip():
                filled = True
                letter = get_column_letter(index + 1)
                sheet.problems.append(Problem(
                    layout.title, number, letter, "", "import.unnamed_column",
                    msg("workbook.unnamed_column", column=letter, row=layout.name_row)))
        if not filled:
            sheet.blank_rows += 1
            continue
        for name, chosen in ticks.items():
            ticked = [c for c in get_dictionary().field(name).choices if c in chosen]
            answers[name] = missing.get(name, ticked)
        sheet.rows.append(EntryRow(number, f"{layout.title}!{number}", code, answers, staff,
                                   timepoint, layout=layout))
