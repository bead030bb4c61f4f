"""Reading one typed value, from whatever a form, a workbook or Python code gives.

Each reader returns the normalised, JSON-able value (int, float, ISO date text…) or raises
``BadValue`` with the plain-words description of what was expected, in the reader's language
(``forms.i18n``); the validator turns that into a message for the person who typed it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time

from forms.constants import (
    DATE_TYPES,
    DATETIME_TYPES,
    INTEGER_TYPES,
    NUMBER_TYPES,
    PATTERN_TYPES,
)
from forms.i18n import _


class BadValue(ValueError):
    """A value that is not of the expected type; ``expected`` says what would be."""

    def __init__(self, expected: str) -> None:
        self.expected = expected
        super().__init__(expected)


_INTEGER = re.compile(r"^[-+]?\d+(\.0*)?$")
_DECIMAL = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_OTHER_DATE = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_DATETIME = re.compile(r"^(.+?)[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")
_HH_MM = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")

DATE_EXAMPLE = {"ymd": "2025-03-31", "dmy": "31-03-2025", "mdy": "03-31-2025"}


def read_integer(value: object) -> int:
    def expected() -> str:  # worded only when a value is refused (reads are hot)
        return _("a whole number")
    if isinstance(value, bool):
        raise BadValue(expected())
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise BadValue(expected())
    text = str(value).strip()
    if not _INTEGER.match(text):
        raise BadValue(expected())
    return int(text.split(".")[0])


def read_number(value: object, *, comma: bool = False) -> float:
    def expected() -> str:
        return _("a number (a comma for decimals is fine)") if comma else _("a number")
    if isinstance(value, bool):
        raise BadValue(expected())
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        if comma:
            text = text.replace(",", ".")
        if not _DECIMAL.match(text):
            raise BadValue(expected())
        number = float(text)
    if number != number or number in (float("inf"), float("-inf")):
        raise BadValue(expected())
    return number


def read_date(value: object, order: str = "ymd") -> str:
    def expected() -> str:
        return _("a date like {example}").format(
            example=DATE_EXAMPLE.get(order, DATE_EXAMPLE["ymd"]))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    match = _ISO_DATE.match(text.replace("/", "-"))
    try:
        if match:
            year, month, day = (int(g) for g in match.groups())
            return date(year, month, day).isoformat()
        other = _OTHER_DATE.match(text)
        if other and order in ("dmy", "mdy"):
            first, second, year = (int(g) for g in other.groups())
            day, month = (first, second) if order == "dmy" else (second, first)
            return date(year, month, day).isoformat()
    except ValueError:
        raise BadValue(_("{expected} that exists in the calendar").format(
            expected=expected())) from None
    raise BadValue(expected())


def read_time(value: object, validation: str = "time") -> str:
    def expected() -> str:
        if validation == "time_mm_ss":
            return _("minutes and seconds like {example}").format(example="04:30")
        if validation == "time_hh_mm_ss":
            return _("a time like {example}").format(example="14:30:00")
        return _("a time like {example}").format(example="14:30")
    if isinstance(value, time | datetime):
        if validation == "time_hh_mm_ss":
            return value.strftime("%H:%M:%S")
        return value.strftime("%H:%M")
    match = _HH_MM.match(str(value).strip())
    if match is None:
        raise BadValue(expected())
    first, second = int(match.group(1)), int(match.group(2))
    seconds = match.group(3)
    if validation == "time_mm_ss":
        if seconds is not None or first > 59 or second > 59:
            raise BadValue(expected())
        return f"{first:02d}:{second:02d}"
    if first > 23 or second > 59 or (seconds is not None and int(seconds) > 59):
        raise BadValue(expected())
    if validation == "time_hh_mm_ss":
        return f"{first:02d}:{second:02d}:{int(seconds or 0):02d}"
    return f"{first:02d}:{second:02d}"


def read_datetime(value: object, order: str = "ymd", *, seconds: bool = False) -> str:
    example = DATE_EXAMPLE.get(order, DATE_EXAMPLE["ymd"]) + (" 14:30:00" if seconds else " 14:30")
    def expected() -> str:
        return _("a date and time like {example}").format(example=example)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S" if seconds else "%Y-%m-%dT%H:%M")
    match = _DATETIME.match(str(value).strip())
    if match is None:
        raise BadValue(expected())
    try:
        day = read_date(match.group(1), order)
        clock = read_time(":".join(g for g in match.groups()[1:] if g is not None),
                          "time_hh_mm_ss" if seconds else "time")
    except BadValue:
        raise BadValue(expected()) from None
    return f"{day}T{clock}"


def read_typed(value: object, validation: str | None) -> object:
    """Read a text field's value according to its validation type (unknown: plain text)."""
    if validation in INTEGER_TYPES:
        return read_integer(value)
    if validation in NUMBER_TYPES:
        return read_number(value, comma=bool(validation and "comma" in validation))
    if validation in DATE_TYPES:
        return read_date(value, DATE_TYPES[validation])
    if validation in DATETIME_TYPES:
        order, seconds = DATETIME_TYPES[validation]
        return read_datetime(value, order, seconds=seconds)
    if validation in ("time", "time_hh_mm_ss", "time_mm_ss"):
        return read_time(value, validation)
    text = value if isinstance(value, str) else _plain_text(value)
    text = text.strip()
    if validation in PATTERN_TYPES:
        pattern, expected = PATTERN_TYPES[validation]
        if not pattern.match(text):
            raise BadValue(_(expected))
    return text


def _plain_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    return str(value)


#: A Text Validation Min/Max naming another field, written with REDCap's piping brackets.
FIELD_BOUND = re.compile(r"^\[([a-z][a-z0-9_]*)\]$")


@dataclass(frozen=True)
class FieldBound:
    """A bound taken from another answer of the record (``[age]`` as the maximum of
    ``age_first_injection``): consistency checks live in the dictionary, not in code."""

    name: str

    def __str__(self) -> str:
        return f"[{self.name}]"


def fixed_bound(text: str | None) -> str | None:
    """A Min/Max cell when it is a fixed value (a number, a date, 'today'), else None: the
    places that cannot follow another answer (a workbook's cell rule) leave it out."""
    return None if text is None or FIELD_BOUND.match(text.strip()) else text


def read_bound(text: str, validation: str | None) -> object:
    """A Text Validation Min/Max: dates are written Y-M-D whatever the display order, and
    'today'/'now' are kept as words to resolve when validating."""
    if text.strip().lower() in ("today", "now"):
        return text.strip().lower()
    ref = FIELD_BOUND.match(text.strip())
    if ref:
        return FieldBound(ref.group(1))
    if validation in DATE_TYPES:
        try:
            return read_date(text, "ymd")
        except BadValue:
            return read_date(text, DATE_TYPES[validation])
    if validation in DATETIME_TYPES:
        order, seconds = DATETIME_TYPES[validation]
        try:
            return read_datetime(text, "ymd", seconds=seconds)
        except BadValue:
            return read_datetime(text, order, seconds=seconds)
    if validation in INTEGER_TYPES:
        return read_number(text)
    return read_typed(text, validation)
