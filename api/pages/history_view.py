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

from api.formview import choice_label
from cohort.models import AuditEntry
from forms.dictionary import DataDictionary
from forms.i18n import N_
from forms.i18n import gettext as _

#: What an audit entry did, by (table, action): whole phrases, so that a language whose
#: words agree with the record (« Séance AERLI créée ») can say them.
WHAT = {
    ("participant", "create"): N_("Participant created"),
    ("participant", "update"): N_("Participant changed"),
    ("questionnaire", "create"): N_("Questionnaire created"),
    ("questionnaire", "update"): N_("Questionnaire changed"),
    ("aerli_session", "create"): N_("AERLI session created"),
    ("aerli_session", "update"): N_("AERLI session changed"),
    ("status_change", "create"): N_("Status change created"),
    ("status_change", "update"): N_("Status change changed"),
    ("deviation", "create"): N_("Deviation created"),
    ("deviation", "update"): N_("Deviation changed"),
    ("screening", "create"): N_("Screening created"),
    ("screening", "update"): N_("Screening changed"),
}
#: Columns of records that are not dictionary questions, in words.
COLUMN_LABELS = {
    "code": N_("Code"), "group": N_("Group"), "status": N_("Status"),
    "inclusion_date": N_("Inclusion date"), "consent_date": N_("Consent date"),
    "timepoint": N_("Timepoint"), "visit_date": N_("Visit date"),
    "session_date": N_("Session date"), "effective_date": N_("Effective date"),
    "reason": N_("Reason"), "note": N_("Note"), "setting": N_("Setting"),
    "modality": N_("Modality"), "product": N_("Product"),
    "injection_site": N_("Injection site"), "risks": N_("Risks"), "topics": N_("Topics"),
    "staff_ids": N_("Staff ids"), "in_window": N_("In window"),
    "completeness": N_("Completeness"), "counts_for_protocol": N_("Counts for protocol"),
    "age_at_inclusion": N_("Age at inclusion"), "year_of_birth": N_("Year of birth"),
    "gender": N_("Gender"), "rule_id": N_("Rule id"), "severity": N_("Severity"),
    "outcome": N_("Outcome"), "answers": N_("Answers"),
}
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
        return _("Worker")
    if base in COLUMN_LABELS:
        return _(COLUMN_LABELS[base])
    return base.replace("_", " ").capitalize()


def _value(name: str, value: Any, dictionary: DataDictionary,
           names: Mapping[int, str]) -> str:
    """A stored value as a person reads it: choice labels, staff names, lists joined."""
    if value is None or value == "":
        return "—"
    base = name.removeprefix("answers.")
    if base in STAFF_FIELDS:
        try:
            return names.get(int(value), _("staff #{id}").format(id=value))
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
        return f"{choice_label(f, text, f.choices[text])} ({text})"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if text.isidentifier():  # a stored word (in_person): in words
        return text.replace("_", " ")
    return text


def _created(entry: AuditEntry, dictionary: DataDictionary,
             names: Mapping[int, str]) -> list[Change]:
    try:
        data = json.loads(entry.new_value or "{}")
    except ValueError:
        return [Change(_("Record"), "", entry.new_value or "")]
    if not isinstance(data, dict):
        return [Change(_("Record"), "", str(data))]
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
        phrase = WHAT.get((e.table_name, e.action))
        what = _(phrase) if phrase else f"{e.table_name.replace('_', ' ')} {e.action}"
        who = names.get(e.actor_id, _("staff #{id}").format(id=e.actor_id)) \
            if e.actor_id else _("the system")
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
