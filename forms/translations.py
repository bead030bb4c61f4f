"""The questionnaire in other languages: translations of a dictionary's texts, keyed by
field name and choice code, never by position or by the English words.

One CSV per language beside the dictionary (``data_dictionary.fr.csv`` beside
``data_dictionary.csv``), a row per text::

    name,part,code,english,text
    age,label,,Age (years),Âge (années)
    sex,choice,1,Man,Homme
    demographics,form,,Demographics,Données démographiques

``part`` is ``label``, ``choice`` (``code`` is the choice's code), ``note``,
``section_header`` or ``form`` (``name`` is then the form's name). ``english`` is the text
the translator translated: when the dictionary's English changes, the check lists the
translation as stale. The layout is REDCap's Multi-Language Management (a translation per
field label, choice and note, keyed by field and code) and XLSForm's ``label::French (fr)``
columns, flattened into rows so that a translator can work in a spreadsheet.

A text with no translation falls back to the English, so a partly translated questionnaire
still works; ``cohort dictionary check`` lists what is missing. ``DataDictionary.texts``
lists every text with its key, ``DataDictionary.in_language`` gives the translated copy.

:func:`check_translations` is the check. What stops a translation file (an *error*: the
check exits non-zero) and what is only listed (a *warning*):

- errors: a line that cannot be read (unknown part, second translation of the same text, a
  missing or repeated column, a file too large or not UTF-8), a field or form the dictionary
  does not have, a choice code the field does not have, a note or section header for a field
  that has none, and a translation that drops or changes a piping reference (``[age]``): the
  questionnaire would show another answer, or none, in that language;
- warnings: a text with no translation (the English is shown) and a stale translation (its
  ``english`` column is not the dictionary's English any more: the translation is still
  shown, but was made for other words and should be checked).

:func:`template_csv` writes the skeleton a translator starts from; ``forms.translation_exports``
writes the same texts in REDCap's and XLSForm's shapes. A new language's file is used once
the language is in ``forms.i18n.LANGUAGES`` (the loader reads ``data_dictionary.<lang>.csv``
for each of them); until then ``cohort dictionary translations --lang <code>`` already lists,
templates and exports it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from forms.fields import Field
from forms.i18n import _

PARTS = ("label", "choice", "note", "section_header", "form")
COLUMNS = ("name", "part", "code", "english", "text")
#: A translation file is a repository file or a data manager's upload: bounded all the same.
MAX_BYTES = 5 * 1024 * 1024
#: The longest text a translation may hold (a long field note is a few hundred characters).
MAX_TEXT = 10_000
#: How many unreadable lines are kept: past that, the file is not a translation file.
MAX_UNREADABLE = 200

Key = tuple[str, str, str]  # (part, name, code)

ERROR = "error"
WARNING = "warning"
#: Piping and smart variables a translation must keep as they are: ``[age]``,
#: ``[m0_arm_1][age]``, ``[products:label]``.
_PIPING = re.compile(r"\[[A-Za-z0-9_:()\-]+\]")


class _Form(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def fields(self) -> Sequence[Field]: ...


class DataDictionary(Protocol):
    """What this module reads of a dictionary (``forms.dictionary.DataDictionary``, which
    builds on this module and so is not imported here)."""

    @property
    def fields(self) -> Mapping[str, Field]: ...
    @property
    def forms(self) -> Mapping[str, _Form]: ...
    def texts(self) -> Iterator[tuple[Key, str]]: ...


@dataclass(frozen=True)
class TranslationRow:
    key: Key
    english: str
    text: str
    line: int


@dataclass(frozen=True)
class DictionaryTranslations:
    """One language's translations of one dictionary's texts."""

    lang: str
    rows: Mapping[Key, TranslationRow]
    #: Lines that could not be read (unknown part, duplicate key): line number, reason.
    unreadable: tuple[tuple[int, str], ...] = ()

    def text(self, part: str, name: str, code: str = "") -> str | None:
        row = self.rows.get((part, name, code))
        return row.text if row is not None and row.text.strip() else None


@dataclass(frozen=True)
class TranslationProblem:
    """One finding of :func:`check_translations`: ``line`` is the translation file's line
    (0 when the text has no line, as a missing translation), ``rule`` a stable name."""

    lang: str
    severity: str
    rule: str
    line: int
    key: Key | None
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


def translations_path(dictionary_path: Path, lang: str) -> Path:
    """``data_dictionary.fr.csv`` for ``data_dictionary.csv`` and ``fr``."""
    return dictionary_path.with_name(f"{dictionary_path.stem}.{lang}{dictionary_path.suffix}")


def describe(key: Key) -> str:
    """``choice 2 of gender``, ``label of age``, ``form enrolment``: a key for people."""
    part, name, code = key
    words = {"form": _("form {name}"), "choice": _("choice {code} of {name}"),
             "label": _("label of {name}"), "note": _("note of {name}"),
             "section_header": _("section header of {name}")}.get(part)
    if words is None:
        return f"{part.replace('_', ' ')} of {name}"
    return words.format(name=name, code=code)


def the_key(key: Key) -> str:
    """``the choice 2 of gender``: :func:`describe` with its article, for sentences."""
    part, name, code = key
    words = {"form": _("the form {name}"), "choice": _("the choice {code} of {name}"),
             "label": _("the label of {name}"), "note": _("the note of {name}"),
             "section_header": _("the section header of {name}")}.get(part)
    if words is None:
        return "the " + describe(key)
    return words.format(name=name, code=code)


def read_translations_text(text: str, lang: str) -> DictionaryTranslations:
    """Parse a translation CSV; lines that cannot be used are kept as ``unreadable`` (the
    check reports them) rather than failing the questionnaire.

    Hostile input stays bounded: text past :data:`MAX_BYTES` is refused whole, a cell past
    :data:`MAX_TEXT` characters, a NUL character or a line the CSV reader cannot parse is
    one unreadable line, and reading stops after
    :data:`MAX_UNREADABLE` of them."""
    if len(text) > MAX_BYTES:
        return DictionaryTranslations(lang, {}, ((0, _("file larger than {size} bytes").format(
            size=MAX_BYTES)),))
    rows: dict[Key, TranslationRow] = {}
    unreadable: list[tuple[int, str]] = []
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    try:
        header = [cell.strip().lower() for cell in next(reader, [])]
    except csv.Error as error:
        return DictionaryTranslations(lang, {}, ((1, _("header cannot be read: {error}").format(
            error=error)),))
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        return DictionaryTranslations(lang, {}, ((1, _(
            "missing columns: {missing} (the header must be {header})").format(
                missing=", ".join(missing), header=",".join(COLUMNS))),))
    repeated = sorted({name for name in COLUMNS if header.count(name) > 1})
    if repeated:
        return DictionaryTranslations(lang, {}, ((1, _("repeated columns: {columns}").format(
            columns=", ".join(repeated))),))
    at = {name: header.index(name) for name in COLUMNS}
    for line, cells in _records(reader, unreadable):
        if not any(cell.strip() for cell in cells):
            continue
        cells = cells + [""] * (len(header) - len(cells))
        part = cells[at["part"]].strip()
        key = (part, cells[at["name"]].strip(), cells[at["code"]].strip())
        longest = max(len(cells[at["english"]]), len(cells[at["text"]]))
        if part not in PARTS:
            unreadable.append((line, _("unknown part {part} (one of {parts})").format(
                part=repr(part), parts=", ".join(PARTS))))
        elif not key[1]:
            unreadable.append((line, _("no name (the field's or form's name)")))
        elif longest > MAX_TEXT:
            unreadable.append((line, _("a text longer than {size} characters").format(
                size=MAX_TEXT)))
        elif any("\x00" in cell for cell in cells):
            unreadable.append((line, _("a NUL character (is this a text file?)")))
        elif key in rows:
            unreadable.append((line, _("second translation of {what} (first on line "
                                       "{line})").format(what=the_key(key),
                                                         line=rows[key].line)))
        else:
            rows[key] = TranslationRow(key, cells[at["english"]], cells[at["text"]], line)
        if len(unreadable) >= MAX_UNREADABLE:
            unreadable.append((line, _("reading stopped after {count} unreadable lines: is "
                                       "this a translation file?").format(
                                           count=MAX_UNREADABLE)))
            break
    return DictionaryTranslations(lang, rows, tuple(unreadable))


def _records(reader: Any, unreadable: list[tuple[int, str]]) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on (a quoted text may hold line breaks)."""
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            unreadable.append((start, _("line cannot be read ({error}): is a quote opened "
                                        "here and never closed? Nothing after it was "
                                        "read").format(error=error)))
            return
        yield start, cells
        start = reader.line_num + 1


def read_translations(path: Path, lang: str) -> DictionaryTranslations:
    """A translation file; one that cannot be read at all (too large, not UTF-8, not
    readable) gives no translations and one unreadable "line 0" saying why, so the
    questionnaire still loads, in English, and the check says what is wrong."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return DictionaryTranslations(lang, {}, ((0, _("file larger than {size} bytes")
                                                      .format(size=MAX_BYTES)),))
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        return DictionaryTranslations(lang, {}, ((0, _(
            "not UTF-8 text ({reason} at byte {byte})").format(
                reason=error.reason, byte=error.start)),))
    except OSError as error:
        return DictionaryTranslations(lang, {}, ((0, _("cannot be read: {reason}").format(
            reason=error.strerror)),))
    return read_translations_text(text, lang)


# The check ------------------------------------------------------------------------------

def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _unknown(dictionary: DataDictionary, key: Key) -> tuple[str, str] | None:
    """(rule, message) when the key names nothing of this dictionary, else None."""
    part, name, code = key
    if part == "form":
        if name not in dictionary.forms:
            return "unknown_form", _("form {name} is not a form of the dictionary").format(
                name=repr(name))
        return ("code_not_expected", _("a form has no code (found {code})").format(
            code=repr(code))) if code else None
    field = dictionary.fields.get(name)
    if field is None:
        close = _("a form's name: write part 'form'") if name in dictionary.forms else \
            _("check the spelling")
        return "unknown_field", _("{name} is not a field of the dictionary ({hint})").format(
            name=repr(name), hint=close)
    if part == "choice":
        if code not in field.choices:
            codes = ", ".join(field.choices) or _("none")
            return "unknown_code", _("field {name} has no choice code {code} (its codes: "
                                     "{codes})").format(name=repr(name), code=repr(code),
                                                        codes=codes)
        return None
    if code:
        return "code_not_expected", _("only choices have a code; the {part} has {code}").format(
            part=part, code=repr(code))
    if part == "note" and not field.note:
        return "no_such_text", _("field {name} has no field note to translate").format(
            name=repr(name))
    if part == "section_header" and not field.section_header:
        return "no_such_text", _("field {name} has no section header to translate").format(
            name=repr(name))
    return None


def check_translations(dictionary: DataDictionary,
                       translations: DictionaryTranslations) -> list[TranslationProblem]:
    """Every problem of one language's translations of ``dictionary`` (the source-language
    dictionary, not an ``in_language`` copy), errors and warnings as the module's
    docstring says, in file order then dictionary order."""
    lang = translations.lang
    problems: list[TranslationProblem] = []

    def add(severity: str, rule: str, line: int, key: Key | None, message: str) -> None:
        problems.append(TranslationProblem(lang, severity, rule, line, key, message))

    for line, reason in translations.unreadable:
        add(ERROR, "unreadable", line, None, reason)
    english = dict(dictionary.texts())
    for key, row in sorted(translations.rows.items(), key=lambda item: item[1].line):
        unknown = _unknown(dictionary, key)
        if unknown is not None:
            add(ERROR, unknown[0], row.line, key, unknown[1])
            continue
        current = english[key]
        if not row.text.strip():
            continue  # listed below as missing
        if row.english.strip() and not _same(row.english, current):
            add(WARNING, "stale", row.line, key,
                _("{what} was translated from {old}; the dictionary now says {new}: check "
                  "the translation and copy the new English in").format(
                      what=the_key(key), old=repr(row.english), new=repr(current)))
        lost = sorted(set(_PIPING.findall(current)) - set(_PIPING.findall(row.text)))
        if lost:
            add(ERROR, "piping", row.line, key,
                _("the translation of {what} drops {lost}; keep piping references exactly "
                  "as in the English").format(what=the_key(key), lost=", ".join(lost)))
    for key, text in english.items():
        if translations.text(*key) is None:
            found = translations.rows.get(key)
            add(WARNING, "missing", found.line if found else 0, key,
                _("no translation of {what} ({text}): shown in English").format(
                    what=the_key(key), text=repr(text)))
    return problems


def left_to_translate(dictionary: DataDictionary,
                      translations: DictionaryTranslations | None) -> list[tuple[Key, str, str]]:
    """What a translator still has to do, in dictionary order: (key, English, why), why
    being ``missing`` or ``stale``."""
    todo = []
    for key, english in dictionary.texts():
        row = translations.rows.get(key) if translations is not None else None
        if row is None or not row.text.strip():
            todo.append((key, english, "missing"))
        elif row.english.strip() and not _same(row.english, english):
            todo.append((key, english, "stale"))
    return todo


# Writing --------------------------------------------------------------------------------

def template_csv(dictionary: DataDictionary,
                 translations: DictionaryTranslations | None = None) -> str:
    """The translation file's skeleton: a line per text of ``dictionary`` with its English
    filled in and ``text`` empty, or kept from ``translations`` so that a file is brought up
    to date with a changed dictionary without losing work (a kept translation keeps the
    English it was made from, so the check still lists it as stale). Lines of
    ``translations`` for texts the dictionary no longer has are dropped. Not neutralised for
    spreadsheets: the loader reads the file back, and a leading quote would become part of
    a text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for key, english in dictionary.texts():
        row = translations.rows.get(key) if translations is not None else None
        part, name, code = key
        if row is not None and row.text.strip():
            writer.writerow([name, part, code, row.english or english, row.text])
        else:
            writer.writerow([name, part, code, english, ""])
    return out.getvalue()
