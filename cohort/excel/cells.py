"""Reading one cell the way a person meant it, or saying clearly why it cannot be read.

Workbooks come back edited by hand in Excel or LibreOffice: dates typed as text, numbers
stored as text, trailing spaces, ``1 = Yes`` picked from a list or ``yes`` typed. Each
reader returns what the data dictionary expects (codes as text, ISO dates, numbers) or
raises ``CellError`` with words for the person who typed it. Nothing is guessed: a date
that could be read two ways, or a word that is not one of the choices, is refused.

An answer's words are read in any language the dictionary has (a French template's
« Une fois par jour », an English one's ``Once a day``), whatever the reader's language;
words that name two different answers (in one language, or across languages) are refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time

from openpyxl.utils.datetime import to_excel

from cohort.excel.layout import CODE, STAFF, Column, choice_codes, choice_words, words_key
from cohort.messages import Message, msg, text_of
from forms.i18n import LANGUAGES, _, gettext

_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00)?)?$")
_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_SHORT_YEAR = re.compile(r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{2}$")
_CODE_LABEL = re.compile(r"^(\S+?)\s*=\s*(.*)$")
_TICKED = frozenset({"1", "yes", "y", "x", "true", "ticked", "checked", "oui"})
_NOT_TICKED = frozenset({"0", "no", "n", "false", "unticked", "unchecked", "non"})


class CellError(ValueError):
    """A cell that cannot be read; the message says what to type instead."""

    def __init__(self, message: Message | str) -> None:
        super().__init__(text_of(message))
        self.message = message


Reader = Callable[[object], object]


def reader_for(column: Column) -> Reader:
    """The reader of a column, chosen once (reading 10,000 rows calls it for each cell).
    A column whose field takes the project's missing-data codes reads a code (typed, or
    picked from the list as ``UNK = Unknown``) as itself."""
    read = _typed_reader(column)
    if not column.missing:
        return read
    codes = frozenset(column.missing)

    def or_missing(value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            pair = _CODE_LABEL.match(text)
            code = pair.group(1) if pair else text
            if code in codes:
                return code
        return read(value)

    return or_missing


def _typed_reader(column: Column) -> Reader:
    if column.name == CODE:
        return _read_code
    if column.name == STAFF:
        return _read_text
    f = column.field
    if f is None:
        return _read_text
    if column.choice is not None:
        return _tick_reader()
    if f.has_choices:
        return _choice_reader(f.name, choice_words(f))
    kind = f.kind
    if kind == "date":
        return read_date
    if kind in ("integer", "number", "slider"):
        return _read_number
    return _read_text


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _read_code(value: object) -> object:
    if _blank(value):
        return None
    if not isinstance(value, str):
        raise CellError(msg("cell.not_a_code", value=value))
    return value.strip().upper()


def _read_text(value: object) -> object:
    if _blank(value):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _read_number(value: object) -> object:
    if _blank(value):
        return None
    if isinstance(value, bool) or isinstance(value, date | datetime | time):
        raise CellError(msg("cell.number_expected"))
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int | float):
        return value
    text = str(value).strip().replace("\u00a0", "").replace(" ", "")
    if re.fullmatch(r"[-+]?\d+,\d+", text):
        text = text.replace(",", ".")
    return text


def read_date(value: object) -> object:
    """A date: a real date cell, or text as 2026-03-31 or 31/03/2026 (day first)."""
    if _blank(value):
        return None
    if isinstance(value, datetime):
        if value.time() != time(0):
            raise CellError(msg("cell.date_with_time"))
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):
        raise CellError(msg("cell.number_not_date", value=value))
    text = str(value).strip()
    iso = _ISO.match(text)
    dmy = _DMY.match(text)
    try:
        if iso:
            year, month, day = (int(g) for g in iso.groups())
            return date(year, month, day).isoformat()
        if dmy:
            day, month, year = (int(g) for g in dmy.groups())
            if month > 12 >= day:
                raise CellError(msg("cell.month_first_date", text=text))
            return date(year, month, day).isoformat()
    except CellError:
        raise
    except ValueError:
        raise CellError(msg("cell.date_not_in_calendar", text=text)) from None
    if _SHORT_YEAR.match(text):
        raise CellError(msg("cell.two_digit_year", text=text))
    raise CellError(msg("cell.not_a_date", text=text))


def _choice_reader(name: str, choices: dict[str, str]) -> Reader:
    """``choices``: code -> words as the reader's language shows them (for messages)."""
    by_words = choice_codes(name)
    words = "; ".join(f"{code} = {label}" for code, label in choices.items())

    def read(value: object) -> object:
        if _blank(value):
            return None
        if isinstance(value, date | time):
            raise CellError(_date_formatted(value, "choice", words=words))
        if isinstance(value, bool):
            code = "1" if value else "0"
        elif isinstance(value, float) and value.is_integer():
            code = str(int(value))
        elif isinstance(value, int):
            code = str(value)
        else:
            text = str(value).strip()
            pair = _CODE_LABEL.match(text)
            if pair and pair.group(1) in choices:
                said = words_key(pair.group(2))
                if said and pair.group(1) not in by_words.get(said, ()):
                    raise CellError(msg("cell.not_in_list", text=text, words=words))
                code = pair.group(1)
            elif text in choices:
                code = text
            elif len(by_words.get(words_key(text), ())) > 1:
                raise CellError(_ambiguous(text, by_words[words_key(text)], choices))
            elif words_key(text) in by_words:
                code = next(iter(by_words[words_key(text)]))
            else:
                raise CellError(msg("cell.not_a_choice", text=text, words=words))
        if code not in choices:
            raise CellError(msg("cell.not_a_choice", text=value, words=words))
        return code

    return read


def _ambiguous(text: str, codes: set[str], choices: dict[str, str]) -> str:
    """Words that name more than one answer (two choices worded alike, in one language
    or across the dictionary's languages): refused, with the answers they could be."""
    could_be = "; ".join(f"{code} = {choices.get(code, code)}"
                         for code in choices if code in codes)
    return _("'{text}' could be more than one answer ({could_be}): pick the answer from "
             "the list, or type its number.").format(text=text, could_be=could_be)


def _date_formatted(value: date | time, wanted: str, **params: object) -> Message:
    """Why a number typed in a cell formatted as a date came back as a date, and what to do.

    Excel and LibreOffice keep the number typed but show (and save) it through the cell's
    format, so ``2`` typed in a date-formatted cell is read back as 1900-01-02. Turning it
    back into 2 would be a guess (the person may have meant a date), so the cell is
    refused with the number it probably was.
    """
    if isinstance(value, time):
        kind, shown, serial = "time", value.isoformat(), -1.0
    else:
        moment = value if isinstance(value, datetime) else datetime.combine(value, time(0))
        kind = "date"
        shown = str(moment.date()) if moment.time() == time(0) else str(moment)
        serial = float(to_excel(moment))
    typed = serial.is_integer() and 0 <= serial < 1000
    return msg(f"cell.{kind}_formatted{'.typed' if typed else ''}.{wanted}", shown=shown,
               typed=int(serial), **params)


def _tick_reader() -> Reader:
    """A checkbox choice column: ticked (True), not ticked (False) or left empty (None).
    Yes and no are read in every language we speak (« oui », « non »)."""
    ticked = _TICKED | {gettext(word, lang).lower() for word in ("Yes", "True")
                        for lang in LANGUAGES}
    not_ticked = _NOT_TICKED | {gettext(word, lang).lower() for word in ("No", "False")
                                for lang in LANGUAGES}

    def read(value: object) -> object:
        if _blank(value):
            return None
        if isinstance(value, date | time):
            raise CellError(_date_formatted(value, "tick"))
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            if value in (0, 1):
                return bool(value)
            raise CellError(msg("cell.not_a_tick_number", value=value))
        text = str(value).strip().lower()
        pair = _CODE_LABEL.match(text)
        if pair:
            text = pair.group(1)
        if text in ticked:
            return True
        if text in not_ticked:
            return False
        raise CellError(msg("cell.not_a_tick", value=str(value).strip()))

    return read
