"""Dictionary fields → what a page template needs, and submitted forms → answers.

The templates never look at the dictionary themselves: they get ``FieldView`` rows with
the input type, choices, current value, error and the branching expression as JSON for
``static/branching.js``. The server validates everything again; the browser only helps.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

INPUT_TYPES = {
    "integer": "number", "number": "number", "date": "date", "datetime": "datetime-local",
    "time": "time", "email": "email", "slider": "number",
}
SKIPPED_KINDS = frozenset({"calc", "file"})


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


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def field_views(
    fields: Iterable[Any],
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[FieldView]:
    """One view per dictionary field, in dictionary order (calc and file fields left out)."""
    values = values or {}
    errors = errors or {}
    views = []
    for f in fields:
        kind = str(f.kind)
        if kind in SKIPPED_KINDS:
            continue
        current = values.get(f.name)
        ast = f.branching_ast
        view = FieldView(
            name=f.name, label=f.label, kind=kind,
            input_type=INPUT_TYPES.get(kind, "text"),
            note=_text(f.note), section_header=_text(f.section_header),
            required=bool(f.required),
            choices=[(str(code), str(label)) for code, label in (f.choices or {}).items()],
            minimum=_text(f.min), maximum=_text(f.max),
            step="any" if kind == "number" else ("1" if kind == "integer" else ""),
            branching=json.dumps(ast, separators=(",", ":")) if ast else "",
            error=errors.get(f.name, ""),
        )
        if kind == "multi":
            view.values = [str(v) for v in current] if isinstance(current, list) else []
        else:
            view.value = _text(current)
        views.append(view)
    return views


def answers_from_form(fields: Iterable[Any], form: FormData) -> dict[str, Any]:
    """The submitted answers of these fields; blank inputs are left out (not answered)."""
    answers: dict[str, Any] = {}
    for f in fields:
        if str(f.kind) in SKIPPED_KINDS or str(f.kind) == "descriptive":
            continue
        if str(f.kind) == "multi":
            chosen = [str(v) for v in form.getlist(f.name) if str(v).strip()]
            if chosen:
                answers[f.name] = chosen
            continue
        raw = form.get(f.name)
        if isinstance(raw, str) and raw.strip():
            answers[f.name] = raw.strip()
    return answers
