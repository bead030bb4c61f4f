"""Dictionary fields → what a page template needs, and submitted forms → answers.

The templates never look at the dictionary themselves: they get ``FieldView`` rows with the
input type, choices offered, current value, error, piped label and note, the branching
expression and computed fields' logic as JSON, and the action tags that shape the input
(``forms.entry`` decides them, the same way for workbooks). ``static/logic.js`` and
``static/branching.js`` show, hide, compute and pipe live; the server validates everything
again and stays authoritative.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from starlette.datastructures import FormData

from forms import DataDictionary, Field
from forms.constants import FIXED_CHOICES
from forms.entry import EntryField, Piece, entry_fields, pipe_fields
from forms.i18n import N_
from forms.i18n import gettext as _
from forms.values import FieldBound, fixed_bound

INPUT_TYPES = {
    "integer": "number", "number": "number", "date": "date", "datetime": "datetime-local",
    "time": "time", "email": "email", "slider": "number",
}
SKIPPED_KINDS = frozenset({"file"})
MISSING_SUFFIX = "__missing"
#: The words of ``FIXED_CHOICES``, marked for the catalogue (see ``choice_label``).
FIXED_WORDS = (N_("Yes"), N_("No"), N_("True"), N_("False"))


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass
class FieldView:
    name: str
    label: str
    kind: str
    input_type: str = "text"
    note: str = ""
    section_header: str = ""
    required: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)
    minimum: str = ""
    maximum: str = ""
    step: str = ""
    branching: str = ""
    value: str = ""
    values: list[str] = field(default_factory=list)
    error: str = ""
    label_parts: list[tuple[str, str]] = field(default_factory=list)
    note_parts: list[tuple[str, str]] = field(default_factory=list)
    section_parts: list[tuple[str, str]] = field(default_factory=list)
    tag_hidden: bool = False
    readonly: bool = False
    computed: str = ""
    placeholder: str = ""
    maxlength: int | None = None
    wordlimit: int | None = None
    exclusive: str = ""
    maxchecked: int | None = None
    missing_choices: list[tuple[str, str]] = field(default_factory=list)
    missing_value: str = ""
    #: Bounds naming another answer (``[age]``): its field, read live in the browser.
    min_field: str = ""
    max_field: str = ""
    bound_label: str = ""
    #: A date input's latest allowed day (``max``), for dates that cannot be in the future.
    latest: str = ""

    @property
    def is_radio(self) -> bool:
        return self.kind == "choice" and len(self.choices) <= 6

    @property
    def is_select(self) -> bool:
        return self.kind == "choice" and len(self.choices) > 6

    @property
    def is_multi(self) -> bool:
        return self.kind == "multi"

    @property
    def is_long_text(self) -> bool:
        return self.kind == "notes"

    @property
    def is_descriptive(self) -> bool:
        return self.kind == "descriptive"

    @property
    def is_computed(self) -> bool:
        return bool(self.computed)


@dataclass
class FormPage:
    """A form's fields, and what the browser needs to evaluate them (``data-env``)."""

    fields: list[FieldView]
    entries: list[EntryField]
    env: str


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def choice_label(f: Field, code: str, label: str) -> str:
    """A choice's words: the dictionary's (already in the reader's language), except the
    fixed Yes/No and True/False of yesno and truefalse fields, which are the system's own
    words and come from the catalogue."""
    fixed = FIXED_CHOICES.get(f.field_type)
    if fixed is not None and fixed.get(code) == label:
        return _(label)
    return label


def _parts(pieces: Sequence[Piece]) -> list[tuple[str, str]]:
    return [(p, "") if isinstance(p, str) else (p[1], _json(p[0].to_json())) for p in pieces]


def _bound(bound: object, text: str | None, record: Mapping[str, Any]) -> tuple[str, str]:
    """(value for data-min/max, field for data-min/max-field): a bound naming another
    field gives that field, and its value when the record already holds it."""
    if isinstance(bound, FieldBound):
        known = record.get(bound.name)
        return ("" if known is None else str(known)), bound.name
    return _text(fixed_bound(text)), ""


def _view(entry: EntryField, value: Any, error: str, missing: Mapping[str, str],
          record: Mapping[str, Any]) -> FieldView:
    f: Field = entry.field
    kind = str(f.kind)
    node = f.computed_node
    view = FieldView(
        name=f.name, label=f.label, kind=kind, input_type=INPUT_TYPES.get(kind, "text"),
        note=_text(f.note), section_header=_text(f.section_header), required=bool(f.required),
        choices=[(str(code), choice_label(f, str(code), str(label)))
                 for code, label in entry.choices.items()],
        minimum=_bound(f.bounds[0], f.min, record)[0],
        maximum=_bound(f.bounds[1], f.max, record)[0],
        min_field=_bound(f.bounds[0], f.min, record)[1],
        max_field=_bound(f.bounds[1], f.max, record)[1],
        step="any" if kind == "number" else ("1" if kind == "integer" else ""),
        branching=_json(f.branching_ast) if f.branching_ast else "", error=error,
        label_parts=_parts(entry.label), note_parts=_parts(entry.note),
        section_parts=_parts(entry.section), tag_hidden=entry.hidden,
        readonly=entry.readonly, computed=_json(node.to_json()) if node is not None else "",
        placeholder=entry.placeholder, maxlength=entry.char_limit,
        wordlimit=entry.word_limit, exclusive=_json(list(entry.exclusive))
        if entry.exclusive else "", maxchecked=entry.max_checked,
        missing_choices=list(missing.items()) if entry.accepts_missing else [],
    )
    if isinstance(value, str) and value in missing:
        view.missing_value = value
    elif kind == "multi":
        view.values = [str(v) for v in value] if isinstance(value, list) else []
    else:
        view.value = _text(value)
    return view


def form_page(
    fields: Iterable[Field],
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    *,
    dictionary: DataDictionary,
    new: bool = False,
    event: str | None = None,
    others: Mapping[str, Mapping[str, Any]] | None = None,
    context: Mapping[str, str] | None = None,
    today: date | None = None,
    now: datetime | None = None,
    record: Mapping[str, Any] | None = None,
    until_today: Iterable[str] = (),
) -> FormPage:
    """One view per field, in dictionary order (file fields left out), with defaults on a
    ``new`` form, and the ``data-env`` the page's scripts evaluate logic against.

    ``record``: the record's answers on other forms (bounds such as ``[age]`` read them);
    ``until_today``: date fields a protocol rule keeps out of the future (their input
    stops at today), besides those whose dictionary maximum is ``today``."""
    values = dict(values or {})
    errors = errors or {}
    shown = [f for f in fields if str(f.kind) not in SKIPPED_KINDS]
    now = now or datetime.now().replace(second=0, microsecond=0)
    env = dictionary.env(values, event=event, others=others, context=context, today=today,
                         now=now)
    entries = entry_fields(shown, dictionary.fields, env, new=new, now=now)
    views = []
    for entry in entries:
        value = values.get(entry.name)
        if value in (None, "", []) and entry.default not in (None, "", []):
            value = entry.default
        view = _view(entry, value, errors.get(entry.name, ""), dictionary.missing_codes,
                     record or {})
        named = view.max_field or view.min_field
        if named in dictionary.fields:
            view.bound_label = dictionary.fields[named].plain_label
        if view.kind == "date" and (entry.name in until_today or view.maximum == "today"):
            view.latest = (today or date.today()).isoformat()
        views.append(view)
    page_env = {
        "event": event, "others": others or {}, "context": dict(context or {}),
        "today": (today or date.today()).isoformat(), "now": now.strftime("%Y-%m-%dT%H:%M:%S"),
        "missing": sorted(dictionary.missing_codes), "schedule": dictionary.schedule.to_json(),
        "pipeFields": pipe_fields(entries, dictionary.fields),
    }
    return FormPage(views, entries, _json(page_env))


def answers_from_form(fields: Iterable[Any], form: FormData,
                      locked: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The submitted answers of these fields; blank inputs are left out (not answered).

    Computed fields are never read (the server computes them); a locked (``@READONLY``)
    field keeps the value it was shown with (``locked``), whatever the request says; a
    missing-data code chosen in a field's "missing" list is that field's answer.
    """
    answers: dict[str, Any] = {}
    locked = locked or {}
    for f in fields:
        kind = str(f.kind)
        if kind in SKIPPED_KINDS or kind in ("descriptive", "calc") \
                or getattr(f, "is_computed", False):
            continue
        if f.name in locked:
            if locked[f.name] not in (None, "", []):
                answers[f.name] = locked[f.name]
            continue
        code = form.get(f.name + MISSING_SUFFIX)
        if isinstance(code, str) and code.strip():
            answers[f.name] = code.strip()
            continue
        if kind == "multi":
            chosen = [str(v) for v in form.getlist(f.name) if str(v).strip()]
            if chosen:
                answers[f.name] = chosen
            continue
        raw = form.get(f.name)
        if isinstance(raw, str) and raw.strip():
            answers[f.name] = raw.strip()
    return answers


def locked_values(page: FormPage) -> dict[str, Any]:
    """The values locked fields were shown with (stored answer, or a new form's default)."""
    out: dict[str, Any] = {}
    for view, entry in zip(page.fields, page.entries, strict=True):
        if entry.readonly and not entry.computed:
            out[view.name] = view.values if view.is_multi else (
                view.missing_value or view.value)
    return out
