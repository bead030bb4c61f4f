"""The catalogue of problems a dictionary or an expression can have.

Every problem has a stable code (for tests and tools) and a message written for the data
manager who will fix the CSV in a spreadsheet: what is wrong, on which line and column,
and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from forms.i18n import N_, _, ngettext

#: code -> what it means (the message of each problem says it for the row at hand).
PROBLEM_CODES: Final[dict[str, str]] = {
    "empty_file": "the file has no header line",
    "bad_header": "the columns are not REDCap's data-dictionary columns in REDCap's order",
    "row_length": "a line has more or fewer cells than the header",
    "missing_name": "a line has no variable name",
    "bad_name": "a variable name is not lower-case letters, digits and underscores",
    "duplicate_name": "the same variable name is used twice",
    "missing_form": "a field has no form name",
    "bad_form_name": "a form name is not lower-case letters, digits and underscores",
    "form_split": "the fields of one form are not on consecutive lines",
    "unknown_field_type": "the field type is not one REDCap knows",
    "missing_choices": "a radio, dropdown or checkbox field lists no choices",
    "bad_choices": "the choices are not written as `1, Label | 2, Label`",
    "duplicate_choice": "the same choice code is used twice in one field",
    "odd_choice_code": "a choice code has characters REDCap does not usually allow",
    "ignored_choices": "choices are given for a field type that has none",
    "missing_calculation": "a calc field has no calculation",
    "bad_expression": "a calculation or branching logic does not parse",
    "unknown_reference": "an expression names a field that is not in the dictionary",
    "bad_checkbox_reference": "an expression uses [field(code)] on a non-checkbox or unknown code",
    "unknown_event": "an expression or mapping names an event that is not declared",
    "unknown_validation": "the validation type is not one this tool checks (validated as text)",
    "ignored_validation": "a validation type is set on a field type that does not use it",
    "bad_bound": "a minimum or maximum cannot be read for the validation type",
    "min_above_max": "the minimum is greater than the maximum",
    "bad_flag": "Identifier? or Required Field? is neither empty nor `y`",
    "bad_alignment": "Custom Alignment is not LV, LH, RV or RH",
    "not_rendered": "a REDCap feature this tool reads but does not render",
    "action_tags": "action tags in Field Annotation are kept but not applied",
    "missing_label": "a field has no label",
    "missing_annotation_column": "the header lacks only the last column, Field Annotation",
    "missing_columns": "the header lacks its last columns; they are read as empty",
    "renamed_column": "a column is headed differently from REDCap; it is read by position",
    "renamed_variable": "a variable or form name REDCap would rename (lower case, no spaces)",
    "bad_missing_code": "a missing-data code is not letters, digits, '.', '_' or '-', or twice",
    "smart_variable_blank": "a smart variable REDCap fills from surveys, other records…",
    "chained_comparison": "two comparisons in a row, read left to right as REDCap does",
    "converted_bound": "a date minimum or maximum written M/D/Y, converted as REDCap does",
    "field_not_in_event": "an expression reads a field at an event where its form is not filled",
    "events_header": "the event mapping file does not have the expected columns",
    "unknown_form": "the event mapping names a form that is not in the dictionary",
    "duplicate_mapping": "the same form is mapped twice to one event",
}


@dataclass(frozen=True)
class DictionaryProblem:
    """One problem of a dictionary, located by CSV line (header = line 1) and column."""

    row: int
    column: str
    code: str
    message: str
    source: str = ""

    def __str__(self) -> str:
        return self.text()

    def text(self, *, with_source: bool = True) -> str:
        """The problem with its place, in the reader's language; ``with_source=False``
        where the reader already knows which file it is."""
        where = f"{self.source}: " if self.source and with_source else ""
        if self.column:
            return where + _("line {row}, column '{column}': {message}").format(
                row=self.row, column=self.column, message=self.message)
        return where + _("line {row}: {message}").format(row=self.row, message=self.message)


class DictionaryError(Exception):
    """A dictionary that cannot be used; ``problems`` lists every problem found at once."""

    def __init__(self, problems: list[DictionaryProblem]) -> None:
        self.problems = list(problems)
        super().__init__(self.report())

    def report(self) -> str:
        count = len(self.problems)
        head = ngettext("The data dictionary has {count} problem:",
                        "The data dictionary has {count} problems:", count).format(count=count)
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])

    def __str__(self) -> str:
        return self.report()


#: What REDCap itself does with a construct this tool refuses (``ExpressionError.redcap``).
#: Kept in English on the error; shown with ``_(error.redcap)`` in the reader's language.
REDCAP_REFUSES: Final = N_("REDCap refuses it too")
REDCAP_ACCEPTS: Final = N_("REDCap accepts it; this tool does not")
REDCAP_FAILS: Final = N_("REDCap accepts it when saved but cannot evaluate it")


class ExpressionError(ValueError):
    """A branching logic or calculation that does not parse, located by line and column.

    Both are 1-based and counted inside the expression text, so that a data manager can find
    the spot in the spreadsheet cell. ``construct`` names what was being read (a function,
    a ``[field]``, a comment…) and ``redcap`` says what REDCap itself does with it (one of
    the ``REDCAP_*`` sentences), so the person knows whether the file works in REDCap.
    """

    def __init__(self, message: str, *, line: int, column: int, text: str = "",
                 construct: str = "", redcap: str = REDCAP_REFUSES) -> None:
        self.reason = message
        self.line = line
        self.column = column
        self.text = text
        self.construct = construct
        self.redcap = redcap
        super().__init__(_("{message} (line {line}, column {column})").format(
            message=message, line=line, column=column))

    def describe(self) -> str:
        """The whole story in one sentence: what, where, which construct, and REDCap's view."""
        what = f"{self.construct}: " if self.construct else ""
        return what + _("{reason} at line {line}, column {column} ({redcap})").format(
            reason=self.reason, line=self.line, column=self.column, redcap=_(self.redcap))
