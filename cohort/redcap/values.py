"""Stored records as REDCap flat rows: one per record and event, one per repeat instance.

The inverse of what ``cohort.excel.redcap`` reads and ``cohort.excel.records`` writes, so an
export re-imports unchanged: the M0 row carries the enrolment form (from the participant's
columns, as ``enrolment_from_answers`` reads it) and the M0 questionnaire; M6 and M12 rows
their questionnaire; AERLI sessions and status changes are rows of the repeating
instruments ``aerli_session`` and ``follow_up_status`` of the ``ongoing_arm_1`` event,
numbered by date. An event with nothing recorded has no row, as in REDCap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cohort.excel.redcap import SESSION_FORM, STATUS_FORM
from cohort.models import AerliSession, Participant, Questionnaire, StatusChange
from cohort.schedule import get_schedule
from cohort.services.enrolment import enrolment_answers
from cohort.services.questionnaires import questionnaire_forms
from cohort.vocab import (
    INJECTION_SITE_CODES,
    MODALITY_CODES,
    SETTING_CODES,
    STATUS_CODES,
    Timepoint,
    code_for,
)
from forms.events import ONGOING_EVENT

ENROLMENT_FORM = "enrolment"


@dataclass
class FlatRow:
    """One REDCap row before it is written: stored values keyed by field name (checkbox
    answers as lists of codes), and the forms it holds."""

    record: str
    event: str
    centre_id: int
    values: dict[str, Any] = field(default_factory=dict)
    forms: set[str] = field(default_factory=set)
    instrument: str = ""
    instance: int | None = None


def session_values(record: AerliSession) -> dict[str, Any]:
    values: dict[str, Any] = {
        "session_date": record.session_date.isoformat(),
        "setting": code_for(dict(SETTING_CODES), record.setting),
        "modality": code_for(dict(MODALITY_CODES), record.modality),
        "risks": list(record.risks), "topics": list(record.topics),
    }
    if record.product:
        values["product"] = record.product
    if record.injection_site is not None:
        values["injection_site"] = code_for(dict(INJECTION_SITE_CODES), record.injection_site)
    if record.note:
        values["session_note"] = record.note
    return values


def status_values(change: StatusChange) -> dict[str, Any]:
    values: dict[str, Any] = {
        "fu_status": code_for(dict(STATUS_CODES), change.status),
        "fu_status_date": change.effective_date.isoformat(),
    }
    if change.reason:
        values["fu_reason"] = change.reason
    return values


def rows_of(
    person: Participant,
    questionnaires: Iterable[Questionnaire],
    sessions: Iterable[AerliSession],
    statuses: Iterable[StatusChange],
    hidden: frozenset[str] = frozenset(),
) -> list[FlatRow]:
    """A participant's rows in REDCap's order: events in mapping order, then instances.

    ``hidden`` fields (free text for de-identified readers) are left out of the values.
    """
    code, centre = person.code, person.centre_id
    by_tp: Mapping[Timepoint, Questionnaire] = {q.timepoint: q for q in questionnaires}
    rows: list[FlatRow] = []
    schedule = get_schedule()
    for visit in schedule:
        tp, event = Timepoint(visit.name), visit.event
        found = by_tp.get(tp)
        row = FlatRow(code, event, centre)
        if visit is schedule.baseline:
            row.values.update(enrolment_answers(person))
            row.forms.add(ENROLMENT_FORM)
        if found is not None:
            row.values.update(found.answers)
            row.forms.update(questionnaire_forms(tp))
        if row.forms:
            rows.append(row)
    ordered = sorted(sessions, key=lambda s: (s.session_date, s.id or 0))
    for number, record in enumerate(ordered, start=1):
        rows.append(FlatRow(code, ONGOING_EVENT, centre, session_values(record),
                            {SESSION_FORM}, SESSION_FORM, number))
    history = sorted(statuses, key=lambda s: (s.effective_date, s.id or 0))
    for number, change in enumerate(history, start=1):
        rows.append(FlatRow(code, ONGOING_EVENT, centre, status_values(change),
                            {STATUS_FORM}, STATUS_FORM, number))
    if hidden:
        for row in rows:
            for name in hidden & row.values.keys():
                del row.values[name]
    return rows
