"""Formula-injection ("CSV injection") neutralisation for every spreadsheet cell we write.

Excel, LibreOffice and Google Sheets run a cell whose text begins with ``=``, ``+``, ``-``
or ``@`` as a formula (``=HYPERLINK(…)``, ``=cmd|' /C calc'!A0``), and treat a leading tab
or carriage return the same way once trimmed. Stored text comes from people (session
notes, centre names, a REDCap export being imported), so every writer of CSV or xlsx
cells from stored text passes each value through :func:`neutralise` first: OWASP's rule,
a single quote put in front of such text, so the program shows it as text and never runs
it. openpyxl makes a formula of any string starting with ``=``, so xlsx writers need it as
much as CSV writers.

What is left alone: numbers, dates and other non-text values (they cannot be formulas),
and text that is a plain number such as ``-1`` or ``+33.5`` (a negative choice code or a
signed number is not a formula, and quoting it would change the data). Formats that are
not spreadsheets (Stata, SPSS, Parquet, JSON, the REDCap data dictionary) keep the exact
text and must not call this.

Callers: ``analysis.export`` (CSV and xlsx exports and their codebooks), ``analysis.report``
(estimates as CSV), ``cohort.excel`` (entry templates, the research officers' report,
annotated copies of imported workbooks and REDCap CSVs), ``forms.codebook`` (CSV codebook).
A new writer of spreadsheet cells calls :func:`neutralise` (one value) or
:func:`neutralise_row` (a row) on what it writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

#: Characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: Text that is just a number (optionally signed, decimal, exponent): never a formula.
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
QUOTE = "'"

T = TypeVar("T")


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would read ``text`` as a formula (see the module docstring)."""
    return text.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.match(text)


def neutralise(value: T) -> T | str:
    """``value`` as it is safe to write into a CSV or xlsx cell: formula-like text gets a
    leading single quote; anything else is returned unchanged."""
    if isinstance(value, str) and is_formula_like(value):
        return QUOTE + value
    return value


def neutralise_row(values: Iterable[T]) -> list[T | str]:
    """:func:`neutralise` applied to each value of a row."""
    return [neutralise(value) for value in values]
