"""How each field of a form is offered for entry, once its action tags and piping apply.

Pages (``api.formview``) and workbooks (``cohort.excel``) both ask this module, so a tag
means the same in both: ``@HIDDEN``/``@HIDDEN-FORM`` hide a field, ``@READONLY``/
``@READONLY-FORM`` (and being computed by ``@CALCTEXT``/``@CALCDATE``) lock it,
``@DEFAULT``/``@TODAY``/``@NOW`` (and their ``-SERVER``/``-UTC`` variants) pre-fill a new
form, ``@HIDECHOICE``/``@SHOWCHOICE`` narrow the choices offered (an answer already saved
stays offered, as in REDCap), ``@PLACEHOLDER``, ``@CHARLIMIT``, ``@WORDLIMIT``,
``@NONEOFTHEABOVE`` and ``@MAXCHECKED`` shape the input; ``@IF`` is resolved from the
answers at hand when the form is shown (REDCap resolves it when the page loads, too).
Labels, notes and section headers are piped (``forms.piping``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as _default
from datetime import UTC, datetime
from typing import Any

from forms import piping
from forms.actiontags import Tag
from forms.fields import Field
from forms.functions import Env
from forms.tagchecks import in_force

HIDING = ("@HIDDEN", "@HIDDEN-FORM")
LOCKING = ("@READONLY", "@READONLY-FORM")
Piece = str | tuple[piping.PipeRef, str]


@dataclass(frozen=True)
class EntryField:
    """One field as it is offered for entry."""

    field: Field
    hidden: bool = False
    readonly: bool = False
    computed: bool = False
    default: object = None
    placeholder: str = ""
    char_limit: int | None = None
    word_limit: int | None = None
    exclusive: tuple[str, ...] = ()
    max_checked: int | None = None
    choices: dict[str, str] = _default(default_factory=dict)
    accepts_missing: bool = False
    label: list[Piece] = _default(default_factory=list)
    note: list[Piece] = _default(default_factory=list)
    section: list[Piece] = _default(default_factory=list)

    @property
    def name(self) -> str:
        return self.field.name


def default_value(f: Field, tags: dict[str, Tag], fields: Mapping[str, Field], env: Env,
                  now: datetime | None = None) -> object:
    """What a new form shows in this field before anyone types (None: nothing)."""
    moment = now or env.now or datetime.now()
    utc = datetime.now(UTC).replace(tzinfo=None) if now is None else moment
    with_time = f.kind == "datetime"
    for name, when in (("@NOW", moment), ("@NOW-SERVER", moment), ("@NOW-UTC", utc),
                       ("@TODAY", moment), ("@TODAY-SERVER", moment), ("@TODAY-UTC", utc)):
        if name in tags:
            if name.startswith("@NOW") or with_time:
                return when.strftime("%Y-%m-%dT%H:%M" if with_time else "%Y-%m-%d %H:%M")
            day = env.today if name == "@TODAY" and env.today else when.date()
            return day.isoformat()
    tag = tags.get("@DEFAULT")
    if tag is None:
        return None
    text = piping.pipe(tag.value, fields, env).replace(piping.BLANK, "")
    if f.is_checkbox:
        return [code.strip() for code in text.split(",") if code.strip() in f.choices]
    return text


def _offered(f: Field, tags: dict[str, Tag], current: object) -> dict[str, str]:
    saved = {str(v) for v in current} if isinstance(current, list) else {str(current)}
    hide = set(tags["@HIDECHOICE"].codes) if "@HIDECHOICE" in tags else set()
    show = set(tags["@SHOWCHOICE"].codes) if "@SHOWCHOICE" in tags else None
    return {code: label for code, label in f.choices.items()
            if code in saved or (code not in hide and (show is None or code in show))}


def entry_fields(fields: Iterable[Field], all_fields: Mapping[str, Field], env: Env, *,
                 new: bool, now: datetime | None = None) -> list[EntryField]:
    """Every field of a form as offered for entry, with ``env.values`` the answers so far
    (and, for a ``new`` form, defaults where no answer is given)."""
    out = []
    values = dict(env.values)
    for f in fields:
        tags = {t.name: t for t in in_force(f, env) if t.acted}
        current = values.get(f.name)
        default = None
        if new and (current is None or current == "" or current == []):
            default = default_value(f, tags, all_fields, env, now)
            if default not in (None, "", []):
                values[f.name] = default
        out.append(EntryField(
            field=f, hidden=any(t in tags for t in HIDING),
            readonly=any(t in tags for t in LOCKING) or f.is_computed,
            computed=f.is_computed, default=default,
            placeholder=tags["@PLACEHOLDER"].value if "@PLACEHOLDER" in tags else "",
            char_limit=tags["@CHARLIMIT"].number if "@CHARLIMIT" in tags else None,
            word_limit=tags["@WORDLIMIT"].number if "@WORDLIMIT" in tags else None,
            exclusive=tuple(tags["@NONEOFTHEABOVE"].codes) if "@NONEOFTHEABOVE" in tags
            else (),
            max_checked=tags["@MAXCHECKED"].number if "@MAXCHECKED" in tags else None,
            choices=_offered(f, tags, current),
            accepts_missing=bool(env.missing) and "@NOMISSING" not in tags
            and f.field_type not in ("calc", "descriptive", "file") and not f.is_computed,
        ))
    piped_env = Env(values, others=env.others, event=env.event, today=env.today, now=env.now,
                    missing=env.missing, context=env.context, schedule=env.schedule,
                    instances=env.instances, instance=env.instance)
    return [_piped(e, all_fields, piped_env) for e in out]


def _piped(entry: EntryField, fields: Mapping[str, Field], env: Env) -> EntryField:
    f = entry.field
    return EntryField(**{**entry.__dict__,
                         "label": piping.pieces(f.label, fields, env),
                         "note": piping.pieces(f.note, fields, env),
                         "section": piping.pieces(f.section_header, fields, env)})


def pipe_fields(entries: Iterable[EntryField], fields: Mapping[str, Field]) -> dict[str, Any]:
    """What the browser needs to pipe the fields the entries refer to: choices, whether a
    checkbox, and the validation type (for the order of a date)."""
    names = {piece[0].name for e in entries for part in (e.label, e.note, e.section)
             for piece in part if not isinstance(piece, str) and not piece[0].smart}
    return {name: {"choices": [[code, label] for code, label in fields[name].choices.items()],
                   "checkbox": fields[name].is_checkbox,
                   "validation": fields[name].validation or ""}
            for name in sorted(names) if name in fields}
