"""Checking one set of answers against the forms it belongs to.

Everything that depends only on the dictionary (readers, ranges, branching and calc
closures) is prepared once per field in a ``FieldPlan``; validating an answer set is then a
single pass of dictionary-order work with no parsing. Messages are for the outreach worker
who typed the answer, on a phone: what is wrong with which question, and what to do — in the
reader's language (``forms.i18n``), made when the answers are checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from forms import constants as c
from forms import tagchecks
from forms.evaluate import Compiled, compile_expression
from forms.fields import Field
from forms.functions import Env, as_text, truthy
from forms.i18n import N_, _, format_decimal
from forms.schedule import Schedule
from forms.values import BadValue, FieldBound, read_number, read_typed

_SPLIT = re.compile(r"[,|;\s]+")
#: Field types that take no answer, so no missing-data code either.
NO_ANSWER = frozenset({"calc", "descriptive", "file"})
_CHECKED = frozenset({"1", "true", "checked", "yes"})
_UNCHECKED = frozenset({"0", "false", "unchecked", "no", ""})
#: What an answer of each kind is, for "… must be {expected}".
_KIND_WORDS = {"integer": N_("a whole number"), "number": N_("a number"),
               "date": N_("a date"), "datetime": N_("a date and time"), "time": N_("a time")}
_A_VALUE = N_("a value")


@dataclass(frozen=True)
class FieldProblem:
    field: str
    label: str
    code: str
    message: str


@dataclass
class ValidationResult:
    ok: bool
    problems: list[FieldProblem] = field(default_factory=list)
    clean: dict[str, object] = field(default_factory=dict)
    #: Share of the questions shown that have an answer, from the same pass (so a caller
    #: storing both does not validate twice); see ``DataDictionary.completeness``.
    completeness: float = 1.0


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | set | frozenset):
        return not value
    return False


def _quote(value: object) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(v) for v in value)
    return str(value).strip()


def _shown(value: object, limit: int = 60) -> str:
    """The refused value as quoted back in a message: shortened, NUL made visible."""
    text = _quote(value).replace("\x00", "\\0")
    return text if len(text) <= limit else text[: limit - 1] + "…"


class FieldPlan:
    """A field with everything validation needs, prepared once."""

    __slots__ = ("branching", "calc", "field", "label", "missing", "name", "read",
                 "references", "references_all", "shown_as")

    def __init__(self, f: Field, missing: frozenset[str] = frozenset()) -> None:
        self.field = f
        self.name = f.name
        self.label = f.plain_label
        self.missing = missing
        self.branching: Compiled | None = (
            compile_expression(f.branching_node) if f.branching_node else None)
        computed = f.computed_node
        self.calc: Compiled | None = compile_expression(computed) if computed else None
        self.references = list(dict.fromkeys(
            n.name for n in f.branching_node.references())) if f.branching_node else []
        self.references_all = list(dict.fromkeys(
            n.name for node in (f.branching_node, computed) if node is not None
            for n in node.references()))
        typed = self._reader()
        self.read: Callable[[object, date], object] = (
            self._or_missing(typed) if missing and f.field_type not in NO_ANSWER else typed)
        self.shown_as = f.field_type not in ("calc", "descriptive") and computed is None

    def _or_missing(self, typed: Callable[[object, date], object]
                    ) -> Callable[[object, date], object]:
        """A missing-data code is an answer to any question (REDCap accepts it whatever
        the field's type or range); ``@NOMISSING`` is checked with the other tags."""
        def read(value: object, today: date) -> object:
            code = value[0] if isinstance(value, list | tuple) and len(value) == 1 else value
            if isinstance(code, str) and code.strip() in self.missing:
                return code.strip()
            return typed(value, today)
        return read

    def _reader(self) -> Callable[[object, date], object]:
        f = self.field
        if f.is_checkbox:
            return self._read_checkbox
        if f.has_choices:
            return self._read_choice
        if f.field_type == "slider":
            return self._read_slider
        if f.field_type == "text" and f.validation in c.KNOWN_VALIDATION_TYPES:
            return self._read_validated
        return self._read_text

    def _with_range(self, what: str) -> str:
        """``what`` (a whole number, a date like …) with the field's fixed bounds."""
        low, high = (None if isinstance(bound, FieldBound) else _bound_word(text)
                     for bound, text in
                     zip(self.field.bounds, (self.field.min, self.field.max), strict=True))
        amount = self.field.kind in ("integer", "number")
        if low and high:
            return _("{what} between {low} and {high}").format(what=what, low=low, high=high)
        if low:
            return (_("{what} of at least {low}") if amount
                    else _("{what} on or after {low}")).format(what=what, low=low)
        if high:
            return (_("{what} of at most {high}") if amount
                    else _("{what} on or before {high}")).format(what=what, high=high)
        return what

    def _read_validated(self, value: object, today: date) -> object:
        validation = self.field.validation
        try:
            clean = read_typed(value, validation)
        except BadValue as error:
            raise BadValue(self._with_range(error.expected)) from None
        clean = self._bounded(clean)
        low, high = (None if isinstance(b, FieldBound) else b for b in self.field.bounds)
        if low is not None or high is not None:
            if not _within(clean, _resolve(low, today, validation),
                           _resolve(high, today, validation)):
                raise _OutOfRange(self._expected_words(clean))
        return clean

    def _expected_words(self, clean: object) -> str:
        return self._with_range(_(_KIND_WORDS.get(self.field.kind, _A_VALUE)))

    def _read_text(self, value: object, today: date) -> object:
        text = value.strip() if isinstance(value, str) else read_typed(value, None)
        return self._bounded(text)

    def _bounded(self, clean: object) -> object:
        """Text within the field's length (``Field.max_length``) and without NUL, which no
        database stores in text; other values pass."""
        if not isinstance(clean, str):
            return clean
        if "\x00" in clean:
            raise BadValue(_("text without the NUL character (\\0)"))
        limit = self.field.max_length
        if len(clean) > limit:
            raise _TooLong(_("at most {limit} characters long (this one has {length})").format(
                limit=format_decimal(limit), length=format_decimal(len(clean))))
        return clean

    def _read_slider(self, value: object, today: date) -> object:
        number = read_number(value)
        low = _float_or(self.field.min, 0.0)
        high = _float_or(self.field.max, 100.0)
        if not low <= number <= high:
            raise _OutOfRange(_("{what} between {low} and {high}").format(
                what=_("a number"), low=f"{low:g}", high=f"{high:g}"))
        return int(number) if number.is_integer() else number

    def _read_choice(self, value: object, today: date) -> object:
        if isinstance(value, bool):
            code = "1" if value else "0"
        elif isinstance(value, float) and value.is_integer():
            code = str(int(value))
        else:
            code = str(value).strip()
        if code not in self.field.choices:
            raise _NotAChoice(self._choice_words())
        return code

    def _choice_words(self) -> str:
        return _("one of: {choices}").format(
            choices="; ".join(f"{k} = {v}" for k, v in self.field.choices.items()))

    def _read_checkbox(self, value: object, today: date) -> object:
        if isinstance(value, list | tuple | set | frozenset):
            codes = [str(v).strip() for v in value if str(v).strip()]
        elif isinstance(value, int) and not isinstance(value, bool):
            codes = [str(value)]
        else:
            codes = [part for part in _SPLIT.split(str(value).strip()) if part]
        unknown = [code for code in codes if code not in self.field.choices]
        if unknown:
            raise _NotAChoice(self._choice_words())
        chosen = set(codes)
        return [code for code in self.field.choices if code in chosen]

    def checkbox_from_columns(self, answers: Mapping[str, object]) -> object:
        """A checkbox answered REDCap-export style: ``products___1 = 1`` (and, for a
        missing-data code, REDCap's extra column ``products___unk = 1``)."""
        for code in sorted(self.missing):
            key = f"{self.name}{c.CHECKBOX_SEPARATOR}{code.lower()}"
            flag = answers.get(key, answers.get(f"{self.name}{c.CHECKBOX_SEPARATOR}{code}"))
            if flag is not None and str(flag).strip().lower() in _CHECKED:
                return code
        chosen: list[str] = []
        seen = False
        for code in self.field.choices:
            key = f"{self.name}{c.CHECKBOX_SEPARATOR}{code}"
            if key not in answers:
                continue
            seen = True
            flag = answers[key]
            text = str(flag).strip().lower() if flag is not None else ""
            if text in _CHECKED:
                chosen.append(code)
            elif text not in _UNCHECKED:
                raise BadValue(_("ticked (1) or not ticked (0) for each choice, not "
                                 "'{value}'").format(value=flag))
        return chosen if seen else None


class _OutOfRange(BadValue):
    pass


class _NotAChoice(BadValue):
    pass


class _TooLong(BadValue):
    pass


def _bound_word(text: str | None) -> str | None:
    """A fixed bound as the reader reads it ('today' in their language)."""
    if text is None:
        return None
    word = text.strip().lower()
    if word not in ("today", "now"):
        return text
    shown = _("today") if word == "today" else _("now")
    return text if shown == word else shown


def _float_or(text: str | None, default: float) -> float:
    try:
        return float(text) if text else default
    except ValueError:
        return default


def _resolve(bound: object, today: date, validation: str | None) -> object:
    if bound == "today":
        if validation in c.DATETIME_TYPES:
            return today.isoformat() + "T00:00"
        return today.isoformat()
    if bound == "now":
        return datetime.now().strftime("%Y-%m-%dT%H:%M")
    return bound


def _within(value: object, low: object, high: object) -> bool:
    try:
        if low is not None and value < low:  # type: ignore[operator]
            return False
        if high is not None and value > high:  # type: ignore[operator]
            return False
    except TypeError:
        return True
    return True


def tidy_number(value: object) -> object:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    return value


@dataclass
class Outcome:
    """What one pass over the answers found: clean values, problems, and shown fields."""

    clean: dict[str, object]
    problems: list[FieldProblem]
    shown: set[str]


def run(
    plans: Iterable[FieldPlan],
    answers: Mapping[str, object],
    *,
    event: str | None = None,
    other_events: Mapping[str, Mapping[str, object]] | None = None,
    today: date | None = None,
    form_label: str | None = None,
    check_unknown: bool = True,
    missing: frozenset[str] = frozenset(),
    schedule: Schedule | None = None,
    record: Mapping[str, object] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Outcome:
    """Normalise, check branching, required fields, ranges and the action tags that change
    entry, and compute calc fields (and ``@CALCTEXT``/``@CALCDATE`` ones).

    ``record`` holds the record's answers on other forms of this event (the enrolment form
    at M0), which bounds naming a field (``[age]``) read when it is not on these forms;
    ``labels`` names those fields in messages."""
    plans = list(plans)
    today = today or date.today()
    problems: list[FieldProblem] = []
    by_name = {p.name: p for p in plans}
    if check_unknown:
        for key in answers:
            if key in by_name:
                continue
            base, sep, code = key.partition(c.CHECKBOX_SEPARATOR)
            if sep and base in by_name and by_name[base].field.is_checkbox and (
                    code in by_name[base].field.choices
                    or code in {m.lower() for m in missing} or code in missing):
                continue
            problems.append(FieldProblem(
                key, key, "unknown_field", _("'{name}' is not a question of {form}.").format(
                    name=key, form=form_label or _("this form"))))
    clean: dict[str, object] = {}
    pending: dict[str, FieldProblem] = {}
    given: set[str] = set()
    for plan in plans:
        if plan.calc is not None or plan.field.field_type == "descriptive":
            continue
        raw = answers.get(plan.name)
        try:
            if raw is None and plan.field.is_checkbox:
                raw = plan.checkbox_from_columns(answers)
            if _blank(raw):
                continue
            given.add(plan.name)
            clean[plan.name] = plan.read(raw, today)
        except BadValue as error:
            given.add(plan.name)
            code = "out_of_range" if isinstance(error, _OutOfRange) else (
                "not_a_choice" if isinstance(error, _NotAChoice) else (
                    "too_long" if isinstance(error, _TooLong) else "invalid"))
            pending[plan.name] = FieldProblem(
                plan.name, plan.label, code,
                _("{label} must be {expected}; you entered '{value}'.").format(
                    label=plan.label, expected=error.expected, value=_shown(raw)))
    env = Env(clean, others=other_events, event=event, today=today, missing=missing,
              schedule=schedule)
    calcs = [p for p in plans if p.calc is not None]
    compute_into(calcs, env, clean)
    shown: set[str] = set()
    for plan in plans:
        visible = plan.branching is None or bool(_truth(plan.branching, env))
        if not visible:
            clean.pop(plan.name, None)
            if plan.name in given:
                pending.pop(plan.name, None)
                problems.append(FieldProblem(
                    plan.name, plan.label, "hidden_has_value",
                    _("This question does not apply given the answer to {questions}; leave "
                      "it empty.").format(questions=_names(plan.references, by_name))))
            continue
        shown.add(plan.name)
        if plan.name in clean and plan.field.tags:
            broken = tagchecks.check(plan.field, clean[plan.name], env)
            if broken is not None:
                clean.pop(plan.name)
                pending[plan.name] = FieldProblem(
                    plan.name, plan.label, broken[0],
                    _("{label} must be {expected}.").format(label=plan.label,
                                                            expected=broken[1]))
        if plan.name in clean and plan.field.field_bounds:
            crossed = _crossed_bound(plan, clean, record or {}, labels or {})
            if crossed is not None:
                pending[plan.name] = FieldProblem(
                    plan.name, plan.label, "out_of_range",
                    _("{label} must be {expected}; you entered '{value}'.").format(
                        label=plan.label, expected=crossed,
                        value=_shown(clean.pop(plan.name))))
        if plan.name in pending:
            problems.append(pending.pop(plan.name))
        elif plan.field.required and plan.shown_as and plan.name not in clean:
            problems.append(FieldProblem(
                plan.name, plan.label, "required",
                _("{label}: this question needs an answer.").format(label=plan.label)))
    compute_into(calcs, env, clean, shown)
    return Outcome(clean, problems, shown)


def _crossed_bound(plan: FieldPlan, clean: Mapping[str, object],
                   record: Mapping[str, object], labels: Mapping[str, str]) -> str | None:
    """What the answer should be when it is outside a bound naming another answer, or
    None (also when that answer is not known: nothing to compare with)."""
    value = clean[plan.name]
    for bound, above in zip(plan.field.bounds, (False, True), strict=True):
        if not isinstance(bound, FieldBound):
            continue
        other = clean.get(bound.name, record.get(bound.name))
        if other in (None, "") or isinstance(other, list | tuple):
            continue
        try:
            limit = read_typed(other, plan.field.validation)
        except BadValue:
            continue
        if _within(value, None, limit) if above else _within(value, limit, None):
            continue
        what = labels.get(bound.name, bound.name)
        return (_("at most {limit}, the answer to '{question}'") if above
                else _("at least {limit}, the answer to '{question}'")).format(
                    limit=_shown(limit), question=what)
    return None


def _truth(compiled: Compiled, env: Env) -> bool:
    try:
        return truthy(compiled(env))
    except (ArithmeticError, ValueError, TypeError):
        return True


def compute_into(calcs: list[FieldPlan], env: Env, clean: dict[str, object],
             shown: set[str] | None = None) -> None:
    for plan in calcs:
        assert plan.calc is not None  # noqa: S101 - filtered by the caller
        clean.pop(plan.name, None)
        if shown is not None and plan.name not in shown:
            continue
        try:
            value: Any = plan.calc(env)
        except (ArithmeticError, ValueError, TypeError):
            continue
        if isinstance(value, str) and value == "":
            continue
        if plan.field.field_type != "calc":
            value = _as_typed(plan.field, value)
            if value is None:
                continue
        clean[plan.name] = tidy_number(value)


def _as_typed(f: Field, value: object) -> object:
    """An ``@CALCTEXT``/``@CALCDATE`` result stored as the field's type stores answers
    (a date as ``Y-M-D``, a number as a number); None when it does not fit."""
    if f.validation in c.DATE_TYPES or f.validation in c.DATETIME_TYPES:
        try:
            return read_typed(str(value).replace(" ", "T", 1) if f.validation in
                              c.DATETIME_TYPES and " " in str(value) else value,
                              f.validation)
        except BadValue:
            if f.validation in c.DATETIME_TYPES:
                try:
                    return read_typed(f"{value} 00:00", f.validation)
                except BadValue:
                    return None
            return None
    if f.validation in c.INTEGER_TYPES or f.validation in c.NUMBER_TYPES:
        try:
            return read_typed(value, f.validation)
        except BadValue:
            return None
    return value if isinstance(value, str) else as_text(value)  # type: ignore[arg-type]


def _names(references: list[str], by_name: Mapping[str, FieldPlan]) -> str:
    # The quotes around a question's label, as the reader's language writes them.
    labels = [_("'{question}'").format(question=by_name[r].label if r in by_name else r)
              for r in references]
    if not labels:
        return _("an earlier question")
    if len(labels) == 1:
        return labels[0]
    return _("{first} and {last}").format(first=", ".join(labels[:-1]), last=labels[-1])
