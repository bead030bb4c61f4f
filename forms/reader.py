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
from collections.abc import Iterator
from dataclasses import dataclass

from forms.constants import ANNOTATION, API_KEYS, COLUMNS, VARIABLE
from forms.errors import DictionaryProblem


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


def _header_problem(names: tuple[str, ...], source: str) -> DictionaryProblem:
    missing = [name for name in COLUMNS if name not in names]
    extra = [name for name in names if name not in COLUMNS]
    detail = []
    if missing:
        detail.append("missing " + ", ".join(f"'{m}'" for m in missing))
    if extra:
        detail.append("unexpected " + ", ".join(f"'{e}'" for e in extra))
    if not detail:
        detail.append("the columns are in another order")
    return DictionaryProblem(
        1, "", "bad_header", "the header must be REDCap's 18 data-dictionary columns in "
        "order (" + "; ".join(detail) + ").", source)


def read_file(text: str, source: str = "") -> ReadResult:
    """All rows that have the right number of cells, the problems of the others, warnings.

    A header that lacks only the last column, ``Field Annotation`` (older REDCap versions
    and some hand-made files), is accepted with a warning; its rows get an empty annotation.
    The header of REDCap's API metadata export (``field_name,form_name,…``) is read as the
    same 18 columns.
    """
    text = text.removeprefix("\ufeff")
    errors: list[DictionaryProblem] = []
    warnings: list[DictionaryProblem] = []
    tap = _Tap(text)
    reader = csv.reader(tap)
    try:
        header = next(reader)
    except StopIteration:
        return ReadResult([], [DictionaryProblem(1, "", "empty_file", "the file is empty; it "
                                                 "needs REDCap's header line.", source)], [])
    except csv.Error as error:
        return ReadResult([], [DictionaryProblem(1, "", "bad_header",
                                                 f"the header cannot be read: {error}.",
                                                 source)], [])
    header_text = tap.drain()
    names = tuple(cell.strip() for cell in header)
    if names == API_KEYS:
        names = COLUMNS
    padded = False
    if names == COLUMNS[:-1]:
        padded = True
        warnings.append(DictionaryProblem(
            1, ANNOTATION, "missing_annotation_column",
            f"the last column, '{ANNOTATION}', is missing; every field is read with an empty "
            "annotation, and the file is written back with all 18 columns.", source))
    elif names != COLUMNS:
        return ReadResult([], [_header_problem(names, source)], [])
    width = len(names)
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
                    line, VARIABLE, "row_length", f"this line has {len(cells)} cells; "
                    f"REDCap's format needs {width} (is a comma inside a label not quoted?).",
                    source))
                continue
            if padded:
                cells = [*cells, ""]
                row_text = ""
            rows.append(RawRow(line, dict(zip(COLUMNS, cells, strict=True)), tuple(cells),
                               row_text))
    except csv.Error as error:
        errors.append(DictionaryProblem(start, "", "row_length",
                                        f"the file cannot be read from here: {error}.", source))
    return ReadResult(rows, errors, warnings, "" if padded else header_text,
                      "" if padded else tap.drain())


def read_rows(text: str, source: str = "") -> tuple[list[RawRow], list[DictionaryProblem]]:
    """All rows that have the right number of cells, and the problems of the others."""
    result = read_file(text, source)
    return result.rows, result.errors
