"""What an entry workbook looks like: kinds, sheet names, header rows and columns.

Templates and the reader share this module so that what one writes the other reads. The
variable-name row (under the labels) is what the reader trusts: columns may be moved, and
sheets renamed, without changing what a cell means.

Languages: row 1 (the labels), the drop-down lists, the sheet titles and every word of
help are in the reader's language (``forms.i18n.current_language``): the questionnaire's
texts from ``DataDictionary.in_language``, the rest from the ``excel`` catalogue. Row 2
(variable names), choice codes and the hidden ``_meta`` and ``_lists`` sheet names never
change, so a workbook made in French is read like one made in English, and the reader
takes an answer's words in any language the dictionary has (:func:`choice_codes`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from hashlib import sha256
from typing import Any

from cohort.dictionary import get_dictionary
from cohort.services.questionnaires import questionnaire_forms
from cohort.vocab import Timepoint
from forms import DataDictionary
from forms.constants import FIXED_CHOICES
from forms.entry import EntryField, entry_fields
from forms.fields import Field
from forms.i18n import LANGUAGES, N_, _, current_language, gettext

META_SHEET = "_meta"
LISTS_SHEET = "_lists"
#: Sheet names in English; shown with ``_()`` (:func:`sheet_names` gives every language's).
INSTRUCTIONS_SHEET = N_("Instructions")
SUMMARY_SHEET = N_("Summary")
#: The words of yes/no and true/false fields (fixed by REDCap, not in the dictionary's
#: choices column): shown in the reader's language when the translation has none.
FIXED_WORDS = (N_("Yes"), N_("No"), N_("True"), N_("False"))
LABEL_ROW = 1
NAME_ROW = 2
FIRST_DATA_ROW = 3
CODE = "participant_code"
STAFF = "workers_present"
FORMAT_VERSION = "1"
CHECKBOX_SEPARATOR = "___"
#: Field types that have no cell: computed, display-only, or uploads.
NO_CELL = frozenset({"calc", "descriptive", "file"})
_TAGS = re.compile(r"<[^>]+>")


class Kind(StrEnum):
    ENROLMENT = "enrolment"
    QUESTIONNAIRE = "questionnaire"
    SESSION = "session"


@dataclass(frozen=True)
class Column:
    """One entry column: its variable name (the row under the label) and what it holds.

    ``entry`` says how the field is offered (``forms.entry``: choices after
    ``@HIDECHOICE``/``@SHOWCHOICE``, ``@READONLY``, ``@DEFAULT``, limits), ``missing`` the
    missing-data codes a cell may hold instead of an answer."""

    name: str
    label: str
    field: Field | None = None
    choice: str | None = None  # the choice code of a checkbox column ``field___code``
    note: str = ""
    entry: EntryField | None = None
    missing: tuple[str, ...] = ()

    @property
    def missing_choice(self) -> bool:
        """A REDCap export's column for a checkbox's missing-data code (``race___unk``)."""
        return self.choice is not None and self.field is not None \
            and self.choice not in self.field.choices

    @property
    def locked(self) -> bool:
        return self.entry is not None and self.entry.readonly

    @property
    def default(self) -> object:
        """What a new row shows in this column (a checkbox column: ticked or not)."""
        if self.entry is None or self.entry.default in (None, "", []):
            return None
        if self.choice is not None:
            chosen = self.entry.default
            return 1 if isinstance(chosen, list) and self.choice in chosen else None
        return self.entry.default


def sheet_names(name: str) -> frozenset[str]:
    """``name`` (``SUMMARY_SHEET``…) in every language we speak: a Summary sheet added in
    French is still recognised when the workbook is imported by an English reader."""
    return frozenset(gettext(name, lang) for lang in LANGUAGES)


def shown_dictionary(lang: str | None = None) -> DataDictionary:
    """The dictionary with its texts in ``lang`` (default: the reader's language)."""
    return get_dictionary().in_language(lang or current_language())


def choice_words(f: Field, choices: dict[str, str] | None = None,
                 lang: str | None = None) -> dict[str, str]:
    """Code -> words of ``f``'s choices (or of ``choices``, a translated subset) as shown:
    a yes/no or true/false field's fixed English words, untranslated by the dictionary,
    come from the catalogue (« Oui », « Non »)."""
    shown = dict(f.choices if choices is None else choices)
    fixed = FIXED_CHOICES.get(f.field_type)
    if fixed:
        for code, label in shown.items():
            if fixed.get(code) == label:
                shown[code] = gettext(label, lang)
    return shown


def choice_codes(name: str) -> dict[str, set[str]]:
    """The answer words of field ``name`` in every language of the dictionary (as
    :func:`words_key` gives them) -> the codes they name: English, each translation, and
    the fixed yes/no words of each language we speak. Two codes or more: words that are
    ambiguous between answers, which the reader refuses rather than guess."""
    dictionary = get_dictionary()
    base = dictionary.fields.get(name)
    if base is None:
        return {}
    labels = [base.choices, *(choice_words(dictionary.in_language(lang).fields[name],
                                           lang=lang) for lang in dictionary.translations),
              *(choice_words(base, lang=lang) for lang in LANGUAGES)]
    found: dict[str, set[str]] = {}
    for choices in labels:
        for code, label in choices.items():
            found.setdefault(words_key(label), set()).add(code)
    return found


def words_key(text: str) -> str:
    """How a typed answer is compared with the list's words: case and spaces ignored."""
    return " ".join(str(text).split()).lower()


def dictionary_version(dictionary: DataDictionary | None = None) -> str:
    """A short fingerprint of the dictionary, written into templates to spot old ones."""
    text = (dictionary or get_dictionary()).to_csv()
    return sha256(text.encode()).hexdigest()[:12]


def form_names(kind: Kind, timepoint: Timepoint | None) -> list[str]:
    if kind is Kind.ENROLMENT:
        return ["enrolment"]
    if kind is Kind.SESSION:
        return ["aerli_session"]
    assert timepoint is not None  # noqa: S101
    return questionnaire_forms(timepoint)


def field_columns(f: Field, entry: EntryField | None = None,
                  missing: tuple[str, ...] = ()) -> list[Column]:
    """The columns of a field (a checkbox: one per choice offered; none for a computed
    field). Without ``entry``, every choice: what a REDCap export holds."""
    if f.field_type in NO_CELL or f.is_computed:
        return []
    label = _plain(entry.label) if entry is not None else f.plain_label
    note = _plain(entry.note) if entry is not None else f.note
    codes = missing if entry is None or entry.accepts_missing else ()
    if f.is_checkbox:
        choices = entry.choices if entry is not None else f.choices
        columns = [Column(f"{f.name}{CHECKBOX_SEPARATOR}{code}",
                          _("{question}: {answer}").format(question=label, answer=text), f,
                          code, note, entry, codes) for code, text in choices.items()]
        if entry is None:  # REDCap exports a checkbox's missing-data codes as columns too
            columns += [Column(f"{f.name}{CHECKBOX_SEPARATOR}{code.lower()}",
                               _("{question}: {answer}").format(question=label, answer=code),
                               f, code, note, None, ())
                        for code in codes if code not in f.choices]
        return columns
    return [Column(f.name, label, f, None, note, entry, codes)]


def _plain(pieces: list[Any]) -> str:
    """A piped text as one line (``______`` where an answer is not known yet)."""
    text = "".join(p if isinstance(p, str) else p[1] for p in pieces)
    return " ".join(_TAGS.sub(" ", text).split())


def entry_columns(fields: list[Field], dictionary: DataDictionary) -> list[Column]:
    """The entry columns of a new workbook: ``@HIDDEN``/``@HIDDEN-FORM`` fields left out,
    the rest offered as ``forms.entry`` says (defaults, locks, narrowed choices)."""
    env = dictionary.env({})
    entries = entry_fields(fields, dictionary.fields, env, new=True)
    missing = tuple(dictionary.missing_codes)
    return [column for e in entries if not e.hidden
            for column in field_columns(e.field, e, missing)]


def choice_entries(column: Column) -> list[str]:
    """Drop-down entries, ``code = label``; the reader takes the code before ``=``. The
    project's missing-data codes come last, when the field takes them."""
    labels = get_dictionary().missing_codes
    codes = [f"{code} = {labels.get(code, code)}" for code in column.missing]
    if column.choice is not None:
        return [f"1 = {_('Yes')}", f"0 = {_('No')}", *codes]
    assert column.field is not None  # noqa: S101
    choices = choice_words(column.field, column.entry.choices if column.entry is not None
                           else None)
    return [f"{code} = {label}" for code, label in choices.items()] + codes


def columns_for(kind: Kind, timepoint: Timepoint | None = None, *,
                entry: bool = True) -> list[Column]:
    """Every column of a kind of workbook, in template order; with ``entry=False``, every
    column a REDCap export of those forms holds (hidden fields too)."""
    dictionary = shown_dictionary()
    columns: list[Column] = []
    if kind is not Kind.ENROLMENT:
        columns.append(Column(CODE, _("Participant code"),
                              note=_("The study code, e.g. C04-0012.")))
    missing = tuple(dictionary.missing_codes)
    for form in form_names(kind, timepoint):
        fields = dictionary.form(form).fields
        columns.extend(entry_columns(fields, dictionary) if entry else
                       [c for f in fields for c in field_columns(f, None, missing)])
    if kind is Kind.SESSION:
        columns.append(Column(STAFF, _("Workers present (staff ids or usernames)"),
                              note=_("Everyone who observed the session, separated by "
                                     "commas.")))
    return columns


def sheet_title(kind: Kind, timepoint: Timepoint | None) -> str:
    if kind is Kind.QUESTIONNAIRE:
        assert timepoint is not None  # noqa: S101
        return _("{timepoint} questionnaire").format(timepoint=timepoint.value)
    return {Kind.ENROLMENT: _("Enrolment"), Kind.SESSION: _("AERLI sessions")}[kind]
