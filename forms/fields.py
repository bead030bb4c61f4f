"""Typed dictionary rows: one ``Field`` per CSV line, with the problems of that line alone.

Problems that need the whole dictionary (duplicate names, references in expressions, forms
split across lines, events) are checked afterwards in ``forms.loader``, once every line has
been read, so that all problems are reported together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from forms import constants as c
from forms import smart
from forms.actiontags import CALC_TAGS, EMPTY, Annotation, TagReport, parse_annotation
from forms.errors import DictionaryProblem, ExpressionError
from forms.evaluate import Compiled, compile_expression
from forms.expressions import Node, parse_with_notes
from forms.i18n import _
from forms.reader import RawRow
from forms.values import BadValue, FieldBound, read_bound

_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Field:
    """One variable of the dictionary, typed. ``min``/``max`` are kept as written."""

    name: str
    form: str
    section_header: str
    field_type: str
    label: str
    choices: dict[str, str]
    note: str
    validation: str | None
    min: str | None
    max: str | None
    identifier: bool
    branching: str | None
    required: bool
    annotation: str
    matrix_group: str
    calculation: str | None = None
    slider_labels: tuple[str, ...] = ()
    alignment: str = ""
    question_number: str = ""
    matrix_ranking: str = ""
    row: int = 0
    raw: tuple[str, ...] = field(default=(), compare=False, repr=False)
    #: The line's text as read, written back unchanged while the field is not edited.
    raw_text: str = field(default="", compare=False, repr=False)
    branching_node: Node | None = field(default=None, compare=False, repr=False)
    calc_node: Node | None = field(default=None, compare=False, repr=False)
    #: The action tags of the Field Annotation, read (``forms.actiontags``).
    tags: Annotation = field(default=EMPTY, compare=False, repr=False)
    bounds: tuple[object, object] = field(default=(None, None), compare=False, repr=False)

    @property
    def field_bounds(self) -> tuple[FieldBound, ...]:
        """The bounds that name another field (``[age]``), checked once answers are read."""
        return tuple(b for b in self.bounds if isinstance(b, FieldBound))

    @property
    def is_checkbox(self) -> bool:
        return self.field_type == "checkbox"

    @property
    def is_calc(self) -> bool:
        return self.field_type == "calc"

    @property
    def has_choices(self) -> bool:
        return bool(self.choices)

    @property
    def plain_label(self) -> str:
        """The label without HTML tags, for messages and codebooks."""
        return " ".join(_TAGS.sub(" ", self.label).split()) or self.name

    @property
    def kind(self) -> str:
        return field_kind(self.field_type, self.validation)

    @property
    def max_length(self) -> int:
        """The longest text answer stored, whatever the answers: ``NOTES_MAX_LENGTH`` for
        notes and ``TEXT_MAX_LENGTH`` for other fields, or more where a ``@CHARLIMIT``
        (plain or inside an ``@IF``) allows more. The tag's own limit, which an ``@IF`` may
        switch on and off with the answers, is checked with the other tags
        (``forms.tagchecks``)."""
        default = c.NOTES_MAX_LENGTH if self.field_type == "notes" else c.TEXT_MAX_LENGTH
        written = [t.number for t in self.tags.every()
                   if t.name == "@CHARLIMIT" and t.number and not t.problem]
        return max([default, *written])

    @property
    def branching_ast(self) -> dict[str, Any] | None:
        return self.branching_node.to_json() if self.branching_node else None

    @property
    def calc_ast(self) -> dict[str, Any] | None:
        return self.calc_node.to_json() if self.calc_node else None

    @property
    def computed_node(self) -> Node | None:
        """What computes this field's value: a calc field's calculation, or the logic of an
        ``@CALCTEXT``/``@CALCDATE`` tag (such a field is computed, never typed)."""
        if self.calc_node is not None:
            return self.calc_node
        for name in CALC_TAGS:
            tag = next((t for t in self.tags.tags if t.name == name and t.acted), None)
            if tag is not None:
                return tag.node
        return None

    @property
    def is_computed(self) -> bool:
        return self.computed_node is not None

    def compiled_branching(self) -> Compiled | None:
        return compile_expression(self.branching_node) if self.branching_node else None

    def export_columns(self) -> list[str]:
        """Column names in a REDCap-style export (checkboxes: ``field___code``)."""
        if self.is_checkbox:
            return [f"{self.name}{c.CHECKBOX_SEPARATOR}{code}" for code in self.choices]
        if self.field_type == "descriptive":
            return []
        return [self.name]


def expression_problem(what: str, error: ExpressionError) -> str:
    """``the branching logic does not parse: … at line 1, column 5 of the cell (a [field];
    REDCap refuses it too).``"""
    about = _("{construct}; {redcap}").format(construct=error.construct,
                                              redcap=_(error.redcap)) \
        if error.construct else _(error.redcap)
    return _("{what} does not parse: {reason} at line {line}, column {column} of the cell "
             "({about}).").format(what=the_part(what), reason=error.reason, line=error.line,
                                  column=error.column, about=about)


def the_part(what: str) -> str:
    """``'branching logic'`` -> ``'the branching logic'`` in the reader's language."""
    return {"branching logic": _("the branching logic"),
            "calculation": _("the calculation")}.get(what, what)


def redcap_name(text: str) -> str:
    """What REDCap makes of a variable or form name on upload (``MetaData::error_checking``)."""
    return re.sub(r"[^a-z_0-9]", "", text.strip().lower().replace(" ", "_"))


def mdy_bound(text: str) -> str | None:
    """``8/1/23 1:01`` -> ``2023-08-01 01:01``: REDCap's reading of a slashed date bound."""
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?",
                         text.strip())
    if match is None:
        return None
    month, day, year = match.group(1), match.group(2), match.group(3)
    year = "20" + year if len(year) == 2 else year
    out = f"{year}-{int(month):02d}-{int(day):02d}"
    if match.group(4) is not None:
        out += f" {int(match.group(4)):02d}:{match.group(5)}"
        if match.group(6) is not None:
            out += f":{match.group(6)}"
    return out


def field_kind(field_type: str, validation: str | None) -> str:
    if field_type in ("dropdown", "radio", "yesno", "truefalse"):
        return "choice"
    if field_type == "checkbox":
        return "multi"
    if field_type in ("calc", "descriptive", "notes", "slider", "file"):
        return field_type
    if validation in c.INTEGER_TYPES:
        return "integer"
    if validation in c.NUMBER_TYPES:
        return "number"
    if validation in c.DATE_TYPES:
        return "date"
    if validation in c.DATETIME_TYPES:
        return "datetime"
    if validation in c.TIME_TYPES:
        return "time"
    if validation == "email":
        return "email"
    return "text"


def parse_choices(text: str) -> tuple[dict[str, str], list[str]]:
    """``'1, Heroin | 2, Cocaine'`` -> ({'1': 'Heroin', '2': 'Cocaine'}, problems)."""
    choices, coded = _parse_choices(text)
    return choices, [message for _code, message in coded]


def _parse_choices(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The choices and their problems as (problem code, message in the reader's language)."""
    choices: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    for number, item in enumerate(text.split("|"), start=1):
        item = item.strip()
        if not item:
            problems.append(("bad_choices", _("choice {number} is empty (two '|' in a row?)")
                             .format(number=number)))
            continue
        code, comma, label = item.partition(",")
        code, label = code.strip(), label.strip()
        if not comma or not code:
            problems.append(("bad_choices", _("choice {number} '{item}' must be written "
                                              "'code, label'").format(number=number, item=item)))
        elif code in choices:
            problems.append(("duplicate_choice", _("choice code '{code}' is used twice")
                             .format(code=code)))
        else:
            choices[code] = label
    return choices, problems


class _RowBuilder:
    def __init__(self, row: RawRow, source: str) -> None:
        self.row = row
        self.source = source
        self.errors: list[DictionaryProblem] = []
        self.warnings: list[DictionaryProblem] = []

    def error(self, column: str, code: str, message: str) -> None:
        self.errors.append(DictionaryProblem(self.row.line, column, code, message, self.source))

    def warn(self, column: str, code: str, message: str) -> None:
        self.warnings.append(DictionaryProblem(self.row.line, column, code, message, self.source))

    def flag(self, column: str) -> bool:
        value = self.row.cells[column].strip().lower()
        if value not in ("", "y"):
            self.error(column, "bad_flag", _("write 'y' or leave empty, not '{value}'.")
                       .format(value=value))
        return value == "y"

    def expression(self, column: str, text: str, what: str) -> Node | None:
        try:
            node, notes = parse_with_notes(text)
        except ExpressionError as error:
            self.error(column, "bad_expression", expression_problem(what, error))
            return None
        for note in notes:
            self.warn(column, note.code, _("{what}: {message}").format(what=the_part(what),
                                                                        message=note.message))
        blank = sorted({f"[{n.name}{':' + n.param if n.param else ''}]"
                        for n in node.smart_variables() if n.name in smart.BLANK_HERE})
        if blank:
            self.warn(column, "smart_variable_blank", _(
                "{what} reads {variables}, which REDCap fills from surveys, other records or "
                "randomisation; this tool has none of those, so it reads as blank.").format(
                    what=the_part(what), variables=", ".join(blank)))
        return node

    def build(self) -> Field | None:
        cells = self.row.cells
        name = self.name(cells[c.VARIABLE].strip(), c.VARIABLE, "variable")
        form = self.name(cells[c.FORM].strip(), c.FORM, "form")
        ftype = cells[c.FIELD_TYPE].strip().lower()
        if ftype not in c.FIELD_TYPES:
            self.error(c.FIELD_TYPE, "unknown_field_type", _(
                "'{type}' is not a field type; use one of {types}.").format(
                    type=ftype, types=", ".join(sorted(c.FIELD_TYPES - {"sql"}))))
        label = cells[c.LABEL]
        if not label.strip() and ftype not in ("descriptive", "calc"):
            self.warn(c.LABEL, "missing_label", _("field '{name}' has no label.").format(name=name))
        choices, calculation, sliders = self.choices(ftype, cells[c.CHOICES])
        validation = cells[c.VALIDATION].strip() or None
        validation = self.check_validation(ftype, validation)
        bounds = (self.bound(c.MIN, validation), self.bound(c.MAX, validation))
        self.check_order(bounds, validation)
        branching_text = cells[c.BRANCHING].strip() or None
        branching = self.expression(c.BRANCHING, branching_text, "branching logic") \
            if branching_text else None
        calc_node = self.expression(c.CHOICES, calculation, "calculation") \
            if calculation else None
        self.layout(name, ftype)
        identifier, required = self.flag(c.IDENTIFIER), self.flag(c.REQUIRED)
        if self.errors:
            return None
        return Field(
            name=name, form=form, section_header=cells[c.SECTION], field_type=ftype,
            label=label, choices=choices, note=cells[c.NOTE], validation=validation,
            min=cells[c.MIN].strip() or None, max=cells[c.MAX].strip() or None,
            identifier=identifier, branching=branching_text,
            required=required, annotation=cells[c.ANNOTATION],
            matrix_group=cells[c.MATRIX_GROUP].strip(), calculation=calculation,
            slider_labels=sliders, alignment=cells[c.ALIGNMENT].strip(),
            question_number=cells[c.QUESTION_NUMBER].strip(),
            matrix_ranking=cells[c.MATRIX_RANKING].strip(), row=self.row.line,
            raw=self.row.raw, raw_text=self.row.text, branching_node=branching,
            calc_node=calc_node, bounds=bounds, tags=self.action_tags(ftype),
        )

    def name(self, text: str, column: str, what: str) -> str:
        """A variable or form name, renamed as REDCap renames it on upload (lower case,
        spaces made underscores, other characters dropped) with a warning; names REDCap
        refuses (starting with a digit or an underscore) are errors."""
        if not text:
            if what == "variable":
                self.error(column, "missing_name", _("this line has no variable name."))
            else:
                self.error(column, "missing_form", _("this field has no form name."))
            return text
        if c.NAME_PATTERN.match(text):
            return text
        fixed = redcap_name(text)
        if c.NAME_PATTERN.match(fixed) and fixed != text:
            message = _("variable name '{text}' is read as '{fixed}', as REDCap renames it on "
                        "upload (lower case, digits and single underscores only).") \
                if what == "variable" else \
                _("form name '{text}' is read as '{fixed}', as REDCap renames it on upload "
                  "(lower case, digits and single underscores only).")
            self.warn(column, "renamed_variable", message.format(text=text, fixed=fixed))
            return fixed
        if what == "variable":
            self.error(column, "bad_name", _(
                "'{text}' must start with a lower-case letter and use only lower-case "
                "letters, digits and underscores.").format(text=text))
        else:
            self.error(column, "bad_form_name", _(
                "form name '{text}' must use only lower-case letters, digits and "
                "underscores.").format(text=text))
        return text

    def choices(self, ftype: str, text: str) -> tuple[dict[str, str], str | None, tuple[str, ...]]:
        text = text.strip()
        if ftype in c.CHOICE_TYPES:
            if not text:
                self.error(c.CHOICES, "missing_choices", _(
                    "a {type} field needs choices, written '1, Label | 2, Label'.").format(
                        type=ftype))
                return {}, None, ()
            choices, problems = _parse_choices(text)
            for code, problem in problems:
                self.error(c.CHOICES, code, problem + ".")
            for code in choices:
                if not c.CHOICE_CODE_PATTERN.match(code):
                    if c.LOOSE_CHOICE_CODE_PATTERN.match(code):
                        self.warn(c.CHOICES, "odd_choice_code", _(
                            "choice code '{code}' has characters REDCap does not usually "
                            "allow; kept as written.").format(code=code))
                    else:
                        self.error(c.CHOICES, "bad_choices", _(
                            "choice code '{code}' must be letters, digits or "
                            "underscores.").format(code=code))
            return choices, None, ()
        if ftype in c.FIXED_CHOICES:
            if text:
                self.warn(c.CHOICES, "ignored_choices", _(
                    "{type} fields always have the choices {choices}; the ones written here "
                    "are ignored.").format(type=ftype, choices=" | ".join(
                        f"{k}, {v}" for k, v in c.FIXED_CHOICES[ftype].items())))
            return dict(c.FIXED_CHOICES[ftype]), None, ()
        if ftype == "calc":
            if not text:
                self.error(c.CHOICES, "missing_calculation", _(
                    "a calc field needs a calculation in this column, e.g. "
                    "{example}.").format(example="if([a]='1', 1, 0)"))
            return {}, text or None, ()
        if ftype == "slider":
            return {}, None, tuple(part.strip() for part in text.split("|")) if text else ()
        if text and ftype in c.FIELD_TYPES:
            self.warn(c.CHOICES, "ignored_choices", _(
                "a {type} field has no choices; this cell is ignored.").format(type=ftype))
        return {}, None, ()

    def check_validation(self, ftype: str, validation: str | None) -> str | None:
        if validation is None:
            return None
        if ftype == "slider":
            if validation.lower() != "number":
                self.warn(c.VALIDATION, "ignored_validation", _(
                    "for a slider this column may only say 'number' (show the number); "
                    "ignored."))
            return validation
        if ftype not in ("text", "file") and ftype in c.FIELD_TYPES:
            self.warn(c.VALIDATION, "ignored_validation", _(
                "validation '{validation}' is ignored on a {type} field.").format(
                    validation=validation, type=ftype))
            return validation
        if validation not in c.KNOWN_VALIDATION_TYPES:
            self.warn(c.VALIDATION, "unknown_validation", _(
                "validation type '{validation}' is not checked by this tool; values are "
                "accepted as plain text.").format(validation=validation))
        return validation

    def check_order(self, bounds: tuple[object, object], validation: str | None) -> None:
        low, high = bounds
        ordered = c.INTEGER_TYPES | c.NUMBER_TYPES | set(c.DATE_TYPES) | set(c.DATETIME_TYPES) \
            | c.TIME_TYPES
        if validation not in ordered or low is None or high is None:
            return
        if low in ("today", "now") or high in ("today", "now") or type(low) is not type(high) \
                or isinstance(low, FieldBound):
            return
        if low > high:  # type: ignore[operator]
            cells = self.row.cells
            self.error(c.MIN, "min_above_max", _(
                "the minimum {min} is greater than the maximum {max}.").format(
                    min=cells[c.MIN].strip(), max=cells[c.MAX].strip()))

    def bound(self, column: str, validation: str | None) -> object:
        text = self.row.cells[column].strip()
        if not text:
            return None
        if validation is None or validation not in c.KNOWN_VALIDATION_TYPES \
                or self.row.cells[c.FIELD_TYPE].strip().lower() != "text":
            return None
        if "/" in text and (validation in c.DATE_TYPES or validation in c.DATETIME_TYPES):
            converted = mdy_bound(text)
            if converted is not None:
                self.warn(column, "converted_bound", _(
                    "'{text}' is read as {converted} (month/day/year, as REDCap converts a "
                    "date written with slashes).").format(text=text, converted=converted))
                text = converted
        try:
            return read_bound(text, validation)
        except BadValue as error:
            self.error(column, "bad_bound", _(
                "'{text}' is not {expected} (validation '{validation}').").format(
                    text=text, expected=error.expected, validation=validation))
            return None

    def action_tags(self, ftype: str) -> Annotation:
        """The annotation's tags; those this tool will not act on are listed in a warning
        (never an error: REDCap keeps tags it does not know, and so do we)."""
        tags = parse_annotation(self.row.cells[c.ANNOTATION])
        misplaced = {"@CALCTEXT": ftype != "text", "@CALCDATE": ftype != "text",
                     "@NONEOFTHEABOVE": ftype != "checkbox",
                     "@MAXCHECKED": ftype != "checkbox"}
        if any(misplaced.get(t.name) for t in tags.tags):
            tags = Annotation(tuple(
                replace(t, problem=_("{tag} applies to {applies} fields, not {type} fields")
                        .format(tag=t.name, type=ftype,
                                applies="text" if t.name.startswith("@CALC") else "checkbox"))
                if misplaced.get(t.name) else t
                for t in tags.tags), tags.conditionals)
        report = TagReport()
        for tag in tags.every():
            report.add("", tag)
        if report.kept:
            why = "; ".join(f"{name}: {report.reasons[name]}" for name in sorted(report.kept))
            self.warn(c.ANNOTATION, "action_tags", _(
                "action tags {tags} are kept, not acted on ({why}).").format(
                    tags=", ".join(sorted(report.kept)), why=why))
        return tags

    def layout(self, name: str, ftype: str) -> None:
        cells = self.row.cells
        if cells[c.ALIGNMENT].strip() not in c.ALIGNMENTS:
            self.warn(c.ALIGNMENT, "bad_alignment", _(
                "'{alignment}' is not LV, LH, RV or RH; ignored.").format(
                    alignment=cells[c.ALIGNMENT]))
        if cells[c.QUESTION_NUMBER].strip():
            self.warn(c.QUESTION_NUMBER, "not_rendered", _(
                "survey question numbers are kept but not shown."))
        if cells[c.MATRIX_GROUP].strip():
            self.warn(c.MATRIX_GROUP, "not_rendered", _(
                "matrix group '{group}' is shown as separate questions.").format(
                    group=cells[c.MATRIX_GROUP].strip()))
        if cells[c.MATRIX_RANKING].strip():
            self.warn(c.MATRIX_RANKING, "not_rendered", _("matrix ranking is not applied."))
        if ftype in ("slider", "file", "sql"):
            shown = {"slider": _("a number from 0 to 100"),
                     "file": _("nothing (file uploads are not stored)"),
                     "sql": _("plain text")}[ftype]
            self.warn(c.FIELD_TYPE, "not_rendered", _(
                "'{name}' is a {type} field; it is entered as {shown}.").format(
                    name=name, type=ftype, shown=shown))



def build_field(row: RawRow, source: str = "") -> tuple[Field | None, list[DictionaryProblem],
                                                        list[DictionaryProblem]]:
    """The typed field of one line (None if it has errors), its errors and its warnings."""
    builder = _RowBuilder(row, source)
    built = builder.build()
    return built, builder.errors, builder.warnings
