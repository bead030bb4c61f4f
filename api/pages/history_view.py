"""The history of a participant's records in words (issue 15 point 9): each audit entry as
"field label: old -> new", by whom and when, instead of raw JSON cut mid-word.

Labels come from the data dictionary (``answers.age_first_injection`` reads as the
question), choice codes read as their labels, staff ids as names. Nothing is cut: a long
value is shown whole, wrapped. Presentation only: the audit trail itself is unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cohort.models import AuditEntry
from forms.dictionary import DataDictionary

RECORD_NAMES = {"participant": "Participant", "questionnaire": "Questionnaire",
                "aerli_session": "AERLI session", "status_change": "Status change",
                "deviation": "Deviation", "screening": "Screening"}
ACTION_NAMES = {"create": "created", "update": "changed"}
#: Columns of a created record that say nothing to a person reading the history.
HIDDEN = frozenset({"id", "seq", "version", "created_at", "updated_at", "participant_id",
                    "centre_id", "record_id", "dedupe_key", "client_id"})
STAFF_FIELDS = frozenset({"resolved_by", "created_by", "recorded_by", "entered_by",
                          "enrolled_by",
                          "staff_id", "updated_by"})


@dataclass
class Change:
    label: str
    old: str
    new: str


@dataclass
class HistoryRow:
    at: datetime
    who: str
    what: str
    changes: list[Change] = field(default_factory=list)


def _label(name: str, dictionary: DataDictionary) -> str:
    base = name.removeprefix("answers.")
    f = dictionary.fields.get(base)
    if f is not None and f.label:
        return f.label
    if base in STAFF_FIELDS and base.endswith("_id"):
        return "Worker"
    return base.replace("_", " ").capitalize()


def _value(name: str, value: Any, dictionary: DataDictionary,
           names: Mapping[int, str]) -> str:
    """A stored value as a person reads it: choice labels, staff names, lists joined."""
    if value is None or value == "":
        return "—"
    base = name.removeprefix("answers.")
    if base in STAFF_FIELDS:
        try:
            return names.get(int(value), f"staff #{value}")
        except (TypeError, ValueError):
            return str(value)
    f = dictionary.fields.get(base)
    if isinstance(value, str) and value[:1] in "[{":
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if isinstance(value, list):
        return ", ".join(_value(name, v, dictionary, names) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{_label(k, dictionary)}: {_value(k, v, dictionary, names)}"
                         for k, v in value.items())
    text = str(value)
    if f is not None and f.choices and text in f.choices:
        return f"{f.choices[text]} ({text})"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if text.isidentifier():  # a stored word (in_person): in words
        return text.replace("_", " ")
    return text


def _created(entry: AuditEntry, dictionary: DataDictionary,
             names: Mapping[int, str]) -> list[Change]:
    try:
        data = json.loads(entry.new_value or "{}")
    except ValueError:
        return [Change("Record", "", entry.new_value or "")]
    if not isinstance(data, dict):
        return [Change("Record", "", str(data))]
    out: list[Change] = []
    for key, value in data.items():
        if key in HIDDEN:
            continue
        if key == "answers" and isinstance(value, dict):
            out.extend(Change(_label(k, dictionary), "",
                              _value(k, v, dictionary, names)) for k, v in value.items())
        else:
            out.append(Change(_label(key, dictionary), "",
                              _value(key, value, dictionary, names)))
    return out


def history_rows(entries: list[AuditEntry], *, names: Mapping[int, str],
                 dictionary: DataDictionary) -> list[HistoryRow]:
    """One row per audit entry, oldest first, as it should read on the page."""
    rows = []
    for e in entries:
        what = f"{RECORD_NAMES.get(e.table_name, e.table_name.replace('_', ' '))} " \
               f"{ACTION_NAMES.get(e.action, e.action)}"
        who = names.get(e.actor_id, f"staff #{e.actor_id}") if e.actor_id else "the system"
        if e.action == "create" and e.field is None:
            changes = _created(e, dictionary, names)
        else:
            name = e.field or ""
            changes = [Change(_label(name, dictionary),
                              _value(name, e.old_value, dictionary, names),
                              _value(name, e.new_value, dictionary, names))]
        rows.append(HistoryRow(e.at, who, what, changes))
    return rows


def staff_ids(entries: list[AuditEntry]) -> set[int]:
    """Whose names the history needs: the authors, and staff named in values."""
    ids = {e.actor_id for e in entries if e.actor_id is not None}
    for e in entries:
        if e.field in STAFF_FIELDS:
            ids.update(int(v) for v in (e.old_value, e.new_value) if v and v.isdigit())
        elif e.action == "create" and e.new_value:
            try:
                data = json.loads(e.new_value)
            except ValueError:
                continue
            if isinstance(data, dict):
                ids.update(int(v) for k, v in data.items()
                           if k in STAFF_FIELDS and isinstance(v, int))
    return ids
