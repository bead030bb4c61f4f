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
from dataclasses import dataclass, field
from io import BytesIO
from itertools import chain, islice
from typing import Any
from zipfile import BadZipFile

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from cohort.dictionary import get_dictionary
from cohort.errors import CohortError
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
)
from cohort.schedule import get_schedule
from cohort.vocab import Timepoint

#: How far down a sheet the variable-name row is looked for.
HEADER_SEARCH_ROWS = 6
SKIPPED_SHEETS = frozenset({META_SHEET, LISTS_SHEET, INSTRUCTIONS_SHEET, SUMMARY_SHEET})


class WorkbookUnreadable(CohortError):
    """The file as a whole cannot be read (not a workbook, no entry sheet…)."""


@dataclass(frozen=True)
class Problem:
    """Something to correct, at a cell when known (``row``/``column`` None: whole sheet)."""

    sheet: str
    row: int | None
    column: str | None
    field: str
    rule: str
    message: str
    severity: str = "error"  # error | deviation (saved, and flagged for review)


@dataclass
class Layout:
    """Where one sheet's entries are: its title, its variable-name row, its columns."""

    title: str
    name_row: int = 2
    letters: dict[str, str] = field(default_factory=dict)  # variable name -> column letter

    def letter(self, name: str) -> str | None:
        """The column of a variable (a checkbox field: its first choice column)."""
        if name in self.letters:
            return self.letters[name]
        prefix = name + CHECKBOX_SEPARATOR
        return next((v for k, v in self.letters.items() if k.startswith(prefix)), None)


@dataclass
class EntryRow:
    """One filled row: its answers keyed by variable name, and where each came from."""

    number: int
    ref: str
    code: str | None
    answers: dict[str, Any]
    staff: str | None = None
    timepoint: Timepoint | None = None  # questionnaire rows: their sheet's (REDCap: event's)
    enrolment: dict[str, Any] | None = None  # REDCap M0 rows: the enrolment form
    centre: str | None = None  # REDCap data access group, when it names a centre
    layout: Layout | None = None  # the sheet it is on (None: the first entry sheet)
    instrument: str | None = None  # REDCap rows of a form filled between visits


@dataclass
class EntrySheet:
    """What a workbook (or a REDCap export) holds: one kind of rows, from one or more sheets."""

    kind: Kind
    timepoint: Timepoint | None
    centre: str | None
    layouts: list[Layout]
    rows: list[EntryRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    blank_rows: int = 0
    dictionary_version: str | None = None
    source: str = "workbook"  # what the person calls the file: workbook, export
    # REDCap API imports (``cohort.redcap.importing``): a questionnaire already stored is
    # corrected rather than refused as a duplicate, an enrolment answer that differs goes
    # through its service; ``versions`` are the questionnaire versions the rows were
    # merged with ((code, timepoint) -> version), so a change made meanwhile is refused.
    updates: bool = False
    versions: dict[tuple[str, str], int] = field(default_factory=dict)
    # REDCap's forceAutoNumber: every record of the import is a new participant.
    auto_number: bool = False

    @property
    def title(self) -> str:
        """The entry sheet's title; several sheets: their titles, quoted, in order."""
        if len(self.layouts) == 1:
            return self.layouts[0].title
        return ", ".join(f"'{layout.title}'" for layout in self.layouts)

    def layout_of(self, row: EntryRow) -> Layout:
        return row.layout or self.layouts[0]

    def in_header(self, problem: Problem) -> bool:
        """Whether a problem concerns a header (or a whole sheet), not an entry row."""
        if problem.row is None:
            return True
        rows = {layout.title: layout.name_row for layout in self.layouts}
        return problem.row <= rows.get(problem.sheet, self.layouts[0].name_row)


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
            "This file is not an Excel workbook (.xlsx) that can be read; save it as "
            f"'Excel 2007-365 (.xlsx)' and try again ({type(error).__name__}).") from None
    try:
        return _read(book, limits)
    except DAMAGED as error:
        raise WorkbookUnreadable(
            "Part of this workbook cannot be read (its XML is damaged or unusual); please "
            "open it in Excel or LibreOffice, save it as 'Excel 2007-365 (.xlsx)' and try "
            f"again ({type(error).__name__}).") from None
    finally:
        book.close()


def _read(book: Any, limits: WorkbookLimits) -> EntrySheet:
    meta = _meta(book)
    known = _all_names()
    found: list[tuple[Any, int, list[str], Iterator[Sequence[object]]]] = []
    labels: dict[str, dict[str, str]] = {}  # sheet -> variable name -> the label above it
    for ws in book.worksheets:
        if ws.title in SKIPPED_SHEETS:
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
            "No entry sheet found: none has the row of variable names (participant_code, "
            "visit_date, …) under the questions. Please use a template made by "
            "`cohort template` and keep rows 1 and 2 as they are.")
    kinds = [(ws.title, _kind(meta, names, ws.title)) for ws, _, names, _ in found]
    if len({kind for _, kind in kinds}) > 1:
        held = "; ".join(f"'{title}' holds {_KIND_WORDS[kind]}" for title, kind in kinds)
        raise WorkbookUnreadable(
            f"This workbook mixes kinds of rows ({held}). Nothing was read: please put each "
            "kind in its own workbook (a new template) and import them one by one.")
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
        from cohort.excel.versions import meanings_changed

        changed = meanings_changed(book, sheet.layouts, labels)
        if changed:  # cells were read with today's codes: only the header problems count
            sheet.problems = [p for p in sheet.problems if sheet.in_header(p)] + changed
    return sheet


_KIND_WORDS = {Kind.ENROLMENT: "enrolments", Kind.QUESTIONNAIRE: "questionnaires",
               Kind.SESSION: "AERLI sessions"}


def _kind(meta: dict[str, str], names: list[str], title: str) -> Kind:
    if meta.get("kind"):
        try:
            return Kind(meta["kind"])
        except ValueError:
            raise WorkbookUnreadable(f"Unknown workbook kind '{meta['kind']}' in the hidden "
                                     "_meta sheet.") from None
    present = set(names)
    if "session_date" in present:
        return Kind.SESSION
    if "visit_date" in present:
        return Kind.QUESTIONNAIRE
    if {"age", "consent", "inclusion_date"} <= present:
        return Kind.ENROLMENT
    raise WorkbookUnreadable(f"Cannot tell what the sheet '{title}' holds (enrolment, "
                             "questionnaire or AERLI sessions); please use a template.")


def _timepoint(meta: dict[str, str], title: str) -> Timepoint:
    words = title.upper().replace("_", " ").split()
    schedule = get_schedule()
    named = [Timepoint(name) for name in schedule.names if name in words]
    if meta.get("timepoint"):
        try:
            made_for = Timepoint(schedule.parse(meta["timepoint"]))
        except ValueError:
            raise WorkbookUnreadable(f"Unknown timepoint '{meta['timepoint']}' in the hidden "
                                     "_meta sheet.") from None
        if len(named) == 1 and named[0] != made_for:
            raise WorkbookUnreadable(
                f"The sheet '{title}' is named for {named[0].value}, but this workbook was "
                f"made for {made_for.value} questionnaires. Nothing was read: rename the "
                f"sheet, or copy its rows into a {named[0].value} template.")
        return made_for
    if len(named) != 1:
        raise WorkbookUnreadable(
            f"Cannot tell the timepoint of the sheet '{title}'; name it "
            + " or ".join(f"'{name} questionnaire'" for name in schedule.names)
            + ", or use a template.")
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
                f"Columns {seen[name]} and {letter} both hold '{name}'; keep one of them."))
            continue
        column = columns.get(name)
        if column is None:
            sheet.problems.append(Problem(
                layout.title, layout.name_row, letter, name, "import.unknown_column",
                f"'{name}' (row {layout.name_row}, column {letter}) is not a variable of this "
                "workbook; correct the name or delete the column."))
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
                f"The column '{column.label}' ({column.name}) is missing; add it back "
                "(copy it from a new template)."))
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
                    "import.unreadable_value", str(error)))
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
                    f"Column {letter} has no variable name in row {layout.name_row}, so its "
                    "value cannot be read; move it to the right column or delete it."))
        if not filled:
            sheet.blank_rows += 1
            continue
        for name, chosen in ticks.items():
            ticked = [c for c in get_dictionary().field(name).choices if c in chosen]
            answers[name] = missing.get(name, ticked)
        sheet.rows.append(EntryRow(number, f"{layout.title}!{number}", code, answers, staff,
                                   timepoint, layout=layout))
