"""What an entry workbook looks like: kinds, sheet names, header rows and columns.

Templates and the reader share this module so that what one writes the other reads. The
variable-name row (under the labels) is what the reader trusts: columns may be moved, and
sheets renamed, without changing what a cell means.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from hashlib import sha256

from cohort.dictionary import get_dictionary
from cohort.services.questionnaires import questionnaire_forms
from cohort.vocab import Timepoint
from forms import DataDictionary
from forms.fields import Field

META_SHEET = "_meta"
LISTS_SHEET = "_lists"
INSTRUCTIONS_SHEET = "Instructions"
SUMMARY_SHEET = "Summary"
LABEL_ROW = 1
NAME_ROW = 2
FIRST_DATA_ROW = 3
CODE = "participant_code"
STAFF = "workers_present"
FORMAT_VERSION = "1"
CHECKBOX_SEPARATOR = "___"
#: Field types that have no cell: computed, display-only, or uploads.
NO_CELL = frozenset({"calc", "descriptive", "file"})


class Kind(StrEnum):
    ENROLMENT = "enrolment"
    QUESTIONNAIRE = "questionnaire"
    SESSION = "session"


@dataclass(frozen=True)
class Column:
    """One entry column: its variable name (the row under the label) and what it holds."""

    name: str
    label: str
    field: Field | None = None
    choice: str | None = None  # the choice code of a checkbox column ``field___code``
    note: str = ""


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


def field_columns(f: Field) -> list[Column]:
    if f.field_type in NO_CELL:
        return []
    if f.is_checkbox:
        return [Column(f"{f.name}{CHECKBOX_SEPARATOR}{code}", f"{f.plain_label}: {label}", f,
                       code, f.note) for code, label in f.choices.items()]
    return [Column(f.name, f.plain_label, f, None, f.note)]


def choice_entries(column: Column) -> list[str]:
    """Drop-down entries, ``code = label``; the reader takes the code before ``=``."""
    if column.choice is not None:
        return ["1 = Yes", "0 = No"]
    assert column.field is not None  # noqa: S101
    return [f"{code} = {label}" for code, label in column.field.choices.items()]


def columns_for(kind: Kind, timepoint: Timepoint | None = None) -> list[Column]:
    """Every column of a kind of workbook, in template order."""
    dictionary = get_dictionary()
    columns: list[Column] = []
    if kind is not Kind.ENROLMENT:
        columns.append(Column(CODE, "Participant code", note="The study code, e.g. C04-0012."))
    for form in form_names(kind, timepoint):
        for f in dictionary.form(form).fields:
            columns.extend(field_columns(f))
    if kind is Kind.SESSION:
        columns.append(Column(STAFF, "Workers present (staff ids or usernames)",
                              note="Everyone who observed the session, separated by commas."))
    return columns


def sheet_title(kind: Kind, timepoint: Timepoint | None) -> str:
    if kind is Kind.QUESTIONNAIRE:
        assert timepoint is not None  # noqa: S101
        return f"{timepoint.value} questionnaire"
    return {Kind.ENROLMENT: "Enrolment", Kind.SESSION: "AERLI sessions"}[kind]
