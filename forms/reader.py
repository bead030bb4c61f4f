"""CSV text -> raw dictionary rows, each with the line it starts on.

Only the shape of the file is checked here (header, number of cells); what the cells mean is
checked in ``forms.fields``. A cell may span lines (a quoted label with a line break), so a
row's number is the physical line where it starts, as a spreadsheet shows it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from forms.constants import COLUMNS, VARIABLE
from forms.errors import DictionaryProblem


@dataclass(frozen=True)
class RawRow:
    line: int
    cells: dict[str, str]
    raw: tuple[str, ...]


def read_rows(text: str, source: str = "") -> tuple[list[RawRow], list[DictionaryProblem]]:
    """All rows that have the right number of cells, and the problems of the others."""
    text = text.removeprefix("\ufeff")
    problems: list[DictionaryProblem] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], [DictionaryProblem(1, "", "empty_file", "the file is empty; it needs "
                                      "REDCap's header line.", source)]
    except csv.Error as error:
        return [], [DictionaryProblem(1, "", "bad_header", f"the header cannot be read: {error}.",
                                      source)]
    names = tuple(cell.strip() for cell in header)
    if names != COLUMNS:
        missing = [name for name in COLUMNS if name not in names]
        extra = [name for name in names if name not in COLUMNS]
        detail = []
        if missing:
            detail.append("missing " + ", ".join(f"'{m}'" for m in missing))
        if extra:
            detail.append("unexpected " + ", ".join(f"'{e}'" for e in extra))
        if not detail:
            detail.append("the columns are in another order")
        return [], [DictionaryProblem(
            1, "", "bad_header", "the header must be REDCap's 18 data-dictionary columns in "
            "order (" + "; ".join(detail) + ").", source)]
    rows: list[RawRow] = []
    start = reader.line_num + 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(COLUMNS):
                problems.append(DictionaryProblem(
                    line, VARIABLE, "row_length", f"this line has {len(cells)} cells; REDCap's "
                    f"format needs {len(COLUMNS)} (is a comma inside a label not quoted?).",
                    source))
                continue
            rows.append(RawRow(line, dict(zip(COLUMNS, cells, strict=True)), tuple(cells)))
    except csv.Error as error:
        problems.append(DictionaryProblem(start, "", "row_length",
                                          f"the file cannot be read from here: {error}.", source))
    return rows, problems
