"""Piping: ``[field]``, ``[field:label]``, ``[event][field]`` and smart variables in the
text of labels, notes, section headers and ``@DEFAULT`` values, as REDCap pipes them.

What a reference shows (REDCap's ``Piping::replaceVariablesInLabel``): a choice field its
answer's *label* (``:value`` the code), a checkbox the labels of the ticked choices
(``:checked``, ``:unchecked``, ``:value`` the codes; ``[field(code)]`` Checked/Unchecked),
a date in the field's own order (``date_dmy`` as 31-12-2025), anything else as stored;
a blank answer shows ``______`` (``:hideunderscore`` shows nothing). A bracket that names no
field nor smart variable is left as written. ``pieces`` keeps each reference apart so that a
page can show the value now and update it live (``static/branching.js``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from forms import smart
from forms.constants import DATE_TYPES, DATETIME_TYPES
from forms.evaluate import answers_for, smart_value
from forms.fields import Field
from forms.functions import Env, as_text

BLANK = "______"
MODIFIERS = frozenset({"value", "label", "checked", "unchecked", "hideunderscore", "ampm",
                       "inline", "link"})
_REF = re.compile(
    r"(?:\[(?P<event>[a-z0-9][a-z0-9_]*|(?:previous|next|first|last)-event-name|event-name)\])?"
    r"\[(?P<inner>[A-Za-z][A-Za-z0-9_\-]*(?:\([A-Za-z0-9._\-]+\))?(?::[A-Za-z0-9_,:\-]+)?)\]"
    r"(?:\[(?P<instance>\d+|(?:current|previous|next|first|last)-instance)\])?")
_INNER = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9_]*)(?:\((?P<code>[A-Za-z0-9._\-]+)\))?"
                    r"(?::(?P<mods>[a-z,:]+))?$")


@dataclass(frozen=True)
class PipeRef:
    """One piped reference: a field (with event, choice code, modifiers, instance) or a
    smart variable (``smart`` set, ``param`` after its colon)."""

    source: str
    name: str
    event: str = ""
    code: str = ""
    modifiers: tuple[str, ...] = ()
    instance: str = ""
    smart: bool = False
    param: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        for key in ("event", "code", "instance", "param"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.modifiers:
            out["modifiers"] = list(self.modifiers)
        if self.smart:
            out["smart"] = True
        return out


def references(text: str, fields: Mapping[str, Field]) -> Iterator[tuple[int, int, PipeRef]]:
    """(start, end, reference) of every piped reference REDCap would replace."""
    for match in _REF.finditer(text):
        event, inner, instance = match.group("event") or "", match.group("inner"), \
            match.group("instance") or ""
        if smart.is_smart(inner) and not instance:
            name, param = smart.split(inner)
            yield match.start(), match.end(), PipeRef(match.group(), name, event,
                                                      smart=True, param=param)
            continue
        parsed = _INNER.match(inner)
        if parsed is None or parsed.group("name") not in fields:
            continue
        if event and event not in smart.EVENT_PREFIXES and event in fields:
            continue  # "[a][b]" where a is a field: not an event prefix
        mods = tuple(m for m in (parsed.group("mods") or "").split(":") if m in MODIFIERS)
        yield match.start(), match.end(), PipeRef(
            match.group(), parsed.group("name"), event, parsed.group("code") or "", mods,
            instance)


def render(ref: PipeRef, fields: Mapping[str, Field], env: Env) -> str:
    """What a reference shows with these answers."""
    if ref.smart:
        return as_text(smart_value(env, ref.name, ref.event)) or (
            "" if "hideunderscore" in ref.modifiers else BLANK)
    f = fields[ref.name]
    raw = answers_for(env, ref.name, ref.event, ref.instance).get(ref.name)
    blank = "" if "hideunderscore" in ref.modifiers else BLANK
    if f.is_checkbox:
        ticked = _ticked(raw, f, answers_for(env, ref.name, ref.event, ref.instance))
        if ref.code:
            return "Checked" if ref.code in ticked else "Unchecked"
        if isinstance(raw, str) and raw in env.missing:
            return raw
        if "value" in ref.modifiers:
            shown = [c for c in f.choices if c in ticked]
        elif "unchecked" in ref.modifiers:
            shown = [label for c, label in f.choices.items() if c not in ticked]
        else:
            shown = [label for c, label in f.choices.items() if c in ticked]
        return ", ".join(shown) or blank
    if raw is None or raw == "" or raw == []:
        return blank
    text = as_text(raw) if isinstance(raw, str | int | float | bool) else str(raw)
    if f.has_choices and "value" not in ref.modifiers:
        return f.choices.get(text, text)
    return _dated(text, f.validation)


def _ticked(raw: object, f: Field, answers: Mapping[str, Any]) -> set[str]:
    if isinstance(raw, list | tuple | set | frozenset):
        return {str(v) for v in raw}
    return {code for code in f.choices
            if str(answers.get(f"{f.name}___{code}", "")) in ("1", "True")}


def _dated(text: str, validation: str | None) -> str:
    order = DATE_TYPES.get(validation or "") or DATETIME_TYPES.get(validation or "", ("",))[0]
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})(?:[ T](.*))?", text)
    if not order or order == "ymd" or match is None:
        return text.replace("T", " ") if match is not None else text
    year, month, day, clock = match.groups()
    day_first = f"{day}-{month}-{year}" if order == "dmy" else f"{month}-{day}-{year}"
    return f"{day_first} {clock}" if clock else day_first


def pipe(text: str, fields: Mapping[str, Field], env: Env) -> str:
    """The text with every reference replaced by what it shows."""
    return "".join(p if isinstance(p, str) else p[1] for p in pieces(text, fields, env))


def pieces(text: str, fields: Mapping[str, Field], env: Env) -> list[str | tuple[PipeRef, str]]:
    """The text split into plain parts and (reference, what it shows now) parts."""
    out: list[str | tuple[PipeRef, str]] = []
    last = 0
    for start, end, ref in references(text, fields):
        if start > last:
            out.append(text[last:start])
        out.append((ref, render(ref, fields, env)))
        last = end
    if last < len(text):
        out.append(text[last:])
    return out


def has_piping(text: str, fields: Mapping[str, Field]) -> bool:
    return next(references(text, fields), None) is not None
