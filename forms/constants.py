"""Names fixed by REDCap's data-dictionary format, kept in one place.

Every other module refers to columns, field types and validation types through these
constants so that a spelling difference with REDCap shows up here and nowhere else.
"""

from __future__ import annotations

import re
from typing import Final

from forms.i18n import N_

VARIABLE: Final = "Variable / Field Name"
FORM: Final = "Form Name"
SECTION: Final = "Section Header"
FIELD_TYPE: Final = "Field Type"
LABEL: Final = "Field Label"
CHOICES: Final = "Choices, Calculations, OR Slider Labels"
NOTE: Final = "Field Note"
VALIDATION: Final = "Text Validation Type OR Show Slider Number"
MIN: Final = "Text Validation Min"
MAX: Final = "Text Validation Max"
IDENTIFIER: Final = "Identifier?"
BRANCHING: Final = "Branching Logic (Show field only if...)"
REQUIRED: Final = "Required Field?"
ALIGNMENT: Final = "Custom Alignment"
QUESTION_NUMBER: Final = "Question Number (surveys only)"
MATRIX_GROUP: Final = "Matrix Group Name"
MATRIX_RANKING: Final = "Matrix Ranking?"
ANNOTATION: Final = "Field Annotation"

#: REDCap's columns, in REDCap's order. A dictionary must have exactly these.
COLUMNS: Final[tuple[str, ...]] = (
    VARIABLE, FORM, SECTION, FIELD_TYPE, LABEL, CHOICES, NOTE, VALIDATION, MIN, MAX,
    IDENTIFIER, BRANCHING, REQUIRED, ALIGNMENT, QUESTION_NUMBER, MATRIX_GROUP,
    MATRIX_RANKING, ANNOTATION,
)

#: The same columns as REDCap's API exports them (``content=metadata``), in the same order.
API_COLUMNS: Final[tuple[str, ...]] = (
    "field_name", "form_name", "section_header", "field_type", "field_label",
    "select_choices_or_calculations", "field_note", "text_validation_type_or_show_slider_number",
    "text_validation_min", "text_validation_max", "identifier", "branching_logic",
    "required_field", "custom_alignment", "question_number", "matrix_group_name",
    "matrix_ranking", "field_annotation",
)
#: A header needs at least name, form, section header and field type.
MIN_COLUMNS: Final = 4

FIELD_TYPES: Final = frozenset({
    "text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse", "calc",
    "descriptive", "slider", "file", "sql",
})
CHOICE_TYPES: Final = frozenset({"dropdown", "radio", "checkbox"})
FIXED_CHOICES: Final[dict[str, dict[str, str]]] = {
    "yesno": {"1": "Yes", "0": "No"},
    "truefalse": {"1": "True", "0": "False"},
}

#: Validation type -> the kind of value it holds. Types not listed here load with a warning
#: and validate as plain text.
DATE_TYPES: Final = {"date_ymd": "ymd", "date_dmy": "dmy", "date_mdy": "mdy"}
DATETIME_TYPES: Final = {
    "datetime_ymd": ("ymd", False), "datetime_dmy": ("dmy", False),
    "datetime_mdy": ("mdy", False), "datetime_seconds_ymd": ("ymd", True),
    "datetime_seconds_dmy": ("dmy", True), "datetime_seconds_mdy": ("mdy", True),
}
TIME_TYPES: Final = frozenset({"time", "time_hh_mm_ss", "time_mm_ss"})
NUMBER_TYPES: Final = frozenset({
    "number", "number_1dp", "number_2dp", "number_3dp", "number_4dp",
    "number_comma_decimal", "number_1dp_comma_decimal", "number_2dp_comma_decimal",
    "number_3dp_comma_decimal", "number_4dp_comma_decimal", "float",
})
INTEGER_TYPES: Final = frozenset({"integer", "int"})

#: Text validation types checked with a pattern (the value stays text); what is expected,
#: in English (shown with ``forms.i18n.gettext``).
PATTERN_TYPES: Final[dict[str, tuple[re.Pattern[str], str]]] = {
    "email": (re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
              N_("an e-mail address like name@example.org")),
    "alpha_only": (re.compile(r"^[A-Za-z]+$"), N_("letters only")),
    "phone": (re.compile(r"^\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(\s*x\d+)?$"),
              N_("a phone number like 555-867-5309")),
    "phone_australia": (re.compile(r"^(\(0\d\)|0\d)[\s-]?\d{4}[\s-]?\d{4}$"),
                        N_("an Australian phone number")),
    "phone_uk": (re.compile(r"^(\+44\s?\d{4}|\(?0\d{4}\)?)\s?\d{3}\s?\d{3}$"),
                 N_("a UK phone number")),
    "zipcode": (re.compile(r"^\d{5}(-\d{4})?$"), N_("a US ZIP code")),
    "postalcode_french": (re.compile(r"^\d{5}$"), N_("a French postal code (5 digits)")),
    "postalcode_australia": (re.compile(r"^\d{4}$"), N_("an Australian postcode (4 digits)")),
    "postalcode_canada": (re.compile(r"^[A-Za-z]\d[A-Za-z]\s?\d[A-Za-z]\d$"),
                          N_("a Canadian postal code like A0A 0A0")),
    "mrn_10d": (re.compile(r"^\d{10}$"), N_("a 10-digit number")),
    "mrn_generic": (re.compile(r"^[A-Za-z0-9-_]+$"), N_("letters, digits and dashes")),
    "ssn": (re.compile(r"^\d{3}-\d\d-\d{4}$"), N_("a number like 123-12-1234")),
    "vmrn": (re.compile(r"^[0-9]{4,9}$"), N_("4 to 9 digits")),
}

#: Validation types that are not about text at all (the value is ignored).
IGNORED_TYPES: Final = frozenset({"signature"})

KNOWN_VALIDATION_TYPES: Final = (
    frozenset(DATE_TYPES) | frozenset(DATETIME_TYPES) | TIME_TYPES | NUMBER_TYPES
    | INTEGER_TYPES | frozenset(PATTERN_TYPES) | IGNORED_TYPES
)

KINDS: Final = frozenset({
    "text", "integer", "number", "date", "datetime", "time", "email", "choice", "multi",
    "calc", "descriptive", "notes", "slider", "file",
})

ALIGNMENTS: Final = frozenset({"", "LV", "LH", "RV", "RH"})

NAME_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_]*$")
CHOICE_CODE_PATTERN: Final = re.compile(r"^-?[A-Za-z0-9_]+$")
LOOSE_CHOICE_CODE_PATTERN: Final = re.compile(r"^[A-Za-z0-9_.\-]+$")
ACTION_TAG_PATTERN: Final = re.compile(r"@[A-Z][A-Z0-9_-]*")

#: The Field Note every free-text field of our own dictionary carries.
NO_IDENTIFIERS_NOTE: Final = (
    "Please do not write names, nicknames, addresses or other details that could "
    "identify someone."
)

#: Longest answer a free-text field stores unless a ``@CHARLIMIT=N`` action tag allows
#: more: a short text, and a ``notes`` box (a few paragraphs). The API, pages, workbooks and
#: REDCap imports all validate through here (``Field.max_length``).
TEXT_MAX_LENGTH: Final = 500
NOTES_MAX_LENGTH: Final = 5000

#: REDCap's checkbox export column: ``products___1``.
CHECKBOX_SEPARATOR: Final = "___"
