"""CSV text -> raw dictionary rows, each with the line it starts on and its original text.

Only the shape of the file is checked here (header, number of cells); what the cells mean is
checked in ``forms.fields``. A cell may span lines (a quoted label with a line break), so a
row's number is the physical line where it starts, as a spreadsheet shows it.

Each row keeps the exact text it was read from (quoting, line ending, any blank lines before
it), so that writing an unmodified dictionary gives back the file byte for byte: REDCap and
spreadsheets quote cells differently from Python's ``csv`` module, and a diff that shows only
quoting changes hides the real ones.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from forms.constants import ANNOTATION, API_COLUMNS, COLUMNS, MIN_COLUMNS, VARIABLE
from forms.errors import DictionaryProblem
from forms.i18n import _


@dataclass(frozen=True)
class RawRow:
    line: int
    cells: dict[str, str]
    raw: tuple[str, ...]
    #: The row's text as read (with its line ending); empty when it cannot be written back
    #: as it was (a file without the Field Annotation column is written with all 18).
    text: str = ""


@dataclass
class ReadResult:
    """What ``read_rows`` found: usable rows, errors, warnings, and the header's text."""

    rows: list[RawRow]
    errors: list[DictionaryProblem]
    warnings: list[DictionaryProblem]
    header_text: str = ""
    trailer: str = ""


class _Tap:
    """Feeds lines to ``csv.reader`` and remembers them, so a row's text can be recovered."""

    def __init__(self, text: str) -> None:
        self._lines = iter(io.StringIO(text, newline=""))
        self.taken: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken.append(line)
        return line

    def drain(self) -> str:
        text = "".join(self.taken)
        self.taken.clear()
        return text


def _loose(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_LOOSE = [{_loose(a), _loose(b)} for a, b in zip(COLUMNS, API_COLUMNS, strict=True)]


@dataclass(frozen=True)
class _Header:
    """How a header line is read: its width, and the warnings it deserves."""

    width: int
    warnings: tuple[tuple[str, str, str], ...] = ()  # (column, code, message)


def _read_header(names: tuple[str, ...]) -> _Header | str:
    """REDCap reads a dictionary's columns by position (``Design::excel_to_array``), so a
    header is accepted when its names are REDCap's, in REDCap's order, spelled as in the
    data-dictionary download or in the API's metadata export, or close enough to them
    (punctuation and case aside); a header with only the first columns is read with the
    others empty. Anything else is refused (the reason is returned)."""
    if names in (COLUMNS, API_COLUMNS):
        return _Header(len(names))
    if len(names) > len(COLUMNS) or len(names) < MIN_COLUMNS:
        return ""
    warnings: list[tuple[str, str, str]] = []
    for index, name in enumerate(names):
        if name in (COLUMNS[index], API_COLUMNS[index]):
            continue
        if _loose(name) not in _LOOSE[index]:
            return _("column {number} is headed '{name}', where REDCap has '{column}'; "
                     "REDCap reads the columns by position and would take it as "
                     "'{column}'").format(number=index + 1, name=name, column=COLUMNS[index])
        warnings.append((COLUMNS[index], "renamed_column",
                         _("column {number} is headed '{name}'; it is read as '{column}', "
                           "by its position, as REDCap reads it.").format(
                               number=index + 1, name=name, column=COLUMNS[index])))
    if len(names) == len(COLUMNS) - 1:
        warnings.append((ANNOTATION, "missing_annotation_column",
                         _("the last column, '{column}', is missing; every field is read "
                           "with an empty annotation, and the file is written back with all "
                           "18 columns.").format(column=ANNOTATION)))
    elif len(names) < len(COLUMNS):
        missing = ", ".join(f"'{c}'" for c in COLUMNS[len(names):])
        warnings.append((COLUMNS[len(names)], "missing_columns",
                         _("the header stops after column {number}; {missing} are read "
                           "as empty (REDCap reads such a file the same way), and the file is "
                           "written back with all 18 columns.").format(
                               number=len(names), missing=missing)))
    return _Header(len(names), tuple(warnings))


def _header_problem(names: tuple[str, ...], reason: str, source: str) -> DictionaryProblem:
    missing = [name for name in COLUMNS if name not in names]
    extra = [name for name in names if name not in COLUMNS]
    detail = [reason] if reason else []
    if missing and not reason:
        detail.append(_("missing {columns}").format(
            columns=", ".join(f"'{m}'" for m in missing)))
    if extra and not reason:
        detail.append(_("unexpected {columns}").format(
            columns=", ".join(f"'{e}'" for e in extra)))
    if not detail:
        detail.append(_("the columns are in another order"))
    return DictionaryProblem(
        1, "", "bad_header", _("the header must be REDCap's 18 data-dictionary columns in "
                               "order ({detail}).").format(detail="; ".join(detail)), source)


def read_file(text: str, source: str = "") -> ReadResult:
    """All rows that have the right number of cells, the problems of the others, warnings.

    A header that lacks the last columns (older REDCap versions and hand-made files lack
    ``Field Annotation``) is accepted with a warning; its rows get those cells empty.
    """
    text = text.removeprefix("\ufeff")
    errors: list[DictionaryProblem] = []
    warnings: list[DictionaryProblem] = []
    tap = _Tap(text)
    reader = csv.reader(tap)
    try:
        header = next(reader)
    except StopIteration:
        return ReadResult([], [DictionaryProblem(1, "", "empty_file", _(
            "the file is empty; it needs REDCap's header line."), source)], [])
    except csv.Error as error:
        return ReadResult([], [DictionaryProblem(1, "", "bad_header",
                                                 _("the header cannot be read: {error}.")
                                                 .format(error=error),
                                                 source)], [])
    header_text = tap.drain()
    names = tuple(cell.strip() for cell in header)
    layout = _read_header(names)
    if isinstance(layout, str):
        return ReadResult([], [_header_problem(names, layout, source)], [])
    warnings += [DictionaryProblem(1, column, code, message, source)
                 for column, code, message in layout.warnings]
    width = layout.width
    padded = width < len(COLUMNS)
    rows: list[RawRow] = []
    start = reader.line_num + 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue  # kept in the tap: it becomes part of the next row's text
            row_text = tap.drain()
            if len(cells) != width:
                errors.append(DictionaryProblem(
                    line, VARIABLE, "row_length", _(
                        "this line has {cells} cells; the header has {width} (is a comma "
                        "inside a label not quoted?).").format(cells=len(cells), width=width),
                    source))
                continue
            if padded:
                cells = [*cells, *([""] * (len(COLUMNS) - width))]
                row_text = ""
            rows.append(RawRow(line, dict(zip(COLUMNS, cells, strict=True)), tuple(cells),
                               row_text))
    except csv.Error as error:
        errors.append(DictionaryProblem(start, "", "row_length",
                                        _("the file cannot be read from here: {error}.")
                                        .format(error=error), source))
    return ReadResult(rows, errors, warnings, "" if padded else header_text,
                      "" if padded else tap.drain())


def read_rows(text: str, source: str = "") -> tuple[list[RawRow], list[DictionaryProblem]]:
    """All rows that have the right number of cells, and the problems of the others."""
    result = read_file(text, source)
    return result.rows, result.errors
