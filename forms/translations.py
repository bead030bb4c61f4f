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
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PARTS = ("label", "choice", "note", "section_header", "form")
COLUMNS = ("name", "part", "code", "english", "text")
#: A translation file is a repository file or a data manager's upload: bounded all the same.
MAX_BYTES = 5 * 1024 * 1024

Key = tuple[str, str, str]  # (part, name, code)


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


def translations_path(dictionary_path: Path, lang: str) -> Path:
    """``data_dictionary.fr.csv`` for ``data_dictionary.csv`` and ``fr``."""
    return dictionary_path.with_name(f"{dictionary_path.stem}.{lang}{dictionary_path.suffix}")


def read_translations_text(text: str, lang: str) -> DictionaryTranslations:
    """Parse a translation CSV; lines that cannot be used are kept as ``unreadable`` (the
    check reports them) rather than failing the questionnaire."""
    rows: dict[Key, TranslationRow] = {}
    unreadable: list[tuple[int, str]] = []
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [cell.strip().lower() for cell in next(reader, [])]
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        return DictionaryTranslations(lang, {}, ((1, "missing columns: " + ", ".join(missing)),))
    at = {name: header.index(name) for name in COLUMNS}
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        cells = cells + [""] * (len(header) - len(cells))
        part = cells[at["part"]].strip()
        key = (part, cells[at["name"]].strip(), cells[at["code"]].strip())
        if part not in PARTS:
            unreadable.append((line, f"unknown part {part!r} (one of {', '.join(PARTS)})"))
        elif key in rows:
            unreadable.append((line, f"second translation of {part} {key[1]} {key[2]}".strip()))
        else:
            rows[key] = TranslationRow(key, cells[at["english"]], cells[at["text"]], line)
    return DictionaryTranslations(lang, rows, tuple(unreadable))


def read_translations(path: Path, lang: str) -> DictionaryTranslations:
    if path.stat().st_size > MAX_BYTES:
        return DictionaryTranslations(lang, {}, ((0, f"file larger than {MAX_BYTES} bytes"),))
    return read_translations_text(path.read_text(encoding="utf-8"), lang)
