"""Cell values of a read-only worksheet, row by row, without a cell object per cell.

Templates style every entry cell (unlocked, number format), so a 10,000-row workbook holds
half a million ``<c>`` elements, most of them empty. openpyxl's read-only parser builds a
dictionary for each; this reader skips empty cells at once and decodes the others exactly
as openpyxl does (shared and inline strings, booleans, ISO dates, numbers, and numbers in a
date format as dates; formulas give their cached value, as with ``data_only=True``).
``tests/excel/test_fastrows.py`` checks it against openpyxl's own ``iter_rows``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from openpyxl.cell.text import Text
from openpyxl.utils import column_index_from_string
from openpyxl.utils.datetime import from_excel, from_ISO8601
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import _cast_number
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse

from cohort.excel.guard import WorkbookRefused
from cohort.messages import msg

ROW = f"{{{SHEET_MAIN_NS}}}row"
VALUE = f"{{{SHEET_MAIN_NS}}}v"
INLINE = f"{{{SHEET_MAIN_NS}}}is"
TEXT = f"{{{SHEET_MAIN_NS}}}t"
_DIGITS = "0123456789"
_WHOLE = re.compile(r"^\d{1,12}(\.0*)?$")


def _row_number(number: str | None, expected: int, title: str, max_row: int) -> int:
    """A row's ``r`` attribute: digits (``5.0`` tolerated), at most ``max_row``."""
    if not number:
        index = expected
    elif _WHOLE.match(number):
        index = int(number.split(".")[0])
    else:
        raise WorkbookRefused(msg("workbook.bad_row_number", title=title, value=number[:20]))
    if index > max_row:
        raise WorkbookRefused(msg("workbook.sheet_too_many_rows", title=title, index=index,
                                  max_row=max_row))
    return index


def _column_number(letters: str, title: str, max_column: int) -> int:
    try:
        column = int(column_index_from_string(letters))
    except ValueError:
        column = max_column + 1
    if column > max_column:
        raise WorkbookRefused(msg("workbook.sheet_too_many_columns", title=title,
                                  value=letters[:8], max_column=max_column))
    return column


def rows(ws: Any, *, max_row: int = 2**31, max_column: int = 16_384
         ) -> Iterator[tuple[object, ...]]:
    """Like ``ws.iter_rows(values_only=True)`` (trailing empty cells left off); a row
    numbered past ``max_row`` or a cell past ``max_column`` is refused (``WorkbookRefused``)
    before any empty row is made up to reach it."""
    if not isinstance(ws, ReadOnlyWorksheet):
        yield from ws.iter_rows(values_only=True)
        return
    book = ws.parent
    strings = ws._shared_strings
    dates = book._date_formats
    durations = book._timedelta_formats
    epoch = book.epoch
    columns: dict[str, int] = {}
    expected = 1
    with ws._get_source() as source:
        for _, element in iterparse(source):
            if element.tag != ROW:
                continue
            index = _row_number(element.get("r"), expected, ws.title, max_row)
            while expected < index:
                expected += 1
                yield ()
            found: dict[int, object] = {}
            column = 0
            for cell in element:
                ref = cell.get("r")
                if ref:
                    letters = ref.rstrip(_DIGITS)
                    column = columns.get(letters) or columns.setdefault(
                        letters, _column_number(letters, ws.title, max_column))
                else:
                    column += 1
                kind = cell.get("t", "n")
                if kind == "inlineStr":
                    child = cell.find(INLINE)
                    if child is None:
                        continue
                    if len(child) == 1 and child[0].tag == TEXT:  # plain text, no runs
                        found[column] = child[0].text or ""
                    else:
                        found[column] = Text.from_tree(child).content
                    continue
                text = cell.findtext(VALUE)
                if not text:
                    continue
                value: object
                if kind == "n":
                    value = _cast_number(text)
                    style = cell.get("s")
                    if style and int(style) in dates:
                        value = from_excel(value, epoch, timedelta=int(style) in durations)
                elif kind == "s":
                    value = strings[int(text)]
                elif kind == "b":
                    value = bool(int(text))
                elif kind == "d":
                    value = from_ISO8601(text)
                else:  # "str" (a formula's text) and "e" (an error such as #N/A)
                    value = text
                found[column] = value
            element.clear()
            expected = index + 1
            if not found:
                yield ()
                continue
            values: list[object] = [None] * max(found)
            for col, value in found.items():
                values[col - 1] = value
            yield tuple(values)
