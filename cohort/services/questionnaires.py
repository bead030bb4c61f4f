"""Questionnaires at M0, M6 and M12: validated by the dictionary, guarded by the rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from cohort import rules
from cohort.dictionary import get_dictionary
from cohort.errors import (
    DuplicateTimepoint,
    FieldError,
    NotFound,
    StaleVersion,
    ValidationFailed,
)
from cohort.messages import msg
from cohort.models import Participant, Questionnaire, utcnow
from cohort.rules import DatedFacts, Finding, VisitFacts
from cohort.schedule import get_schedule
from cohort.services import audit
from cohort.services.context import (
    Actor,
    finish,
    get_participant,
    in_batch,
    protocol_config,
    require_scope,
    today,
    visible,
)
from cohort.services.deviations import raise_findings
from cohort.services.enrolment import enrolment_answers
from cohort.services.lockstate import LockState, latest_of, state_of_latest
from cohort.services.results import Saved
from cohort.vocab import RECORD_FORMS, Timepoint


def questionnaire_forms(timepoint: Timepoint) -> list[str]:
    """The dictionary forms that make up a timepoint's questionnaire."""
    event = get_schedule().event(timepoint)
    return [
        f.name for f in get_dictionary().forms_for_event(event) if f.name not in RECORD_FORMS
    ]


def record_answers(participant: Participant | None, timepoint: Timepoint
                   ) -> dict[str, Any] | None:
    """The participant's enrolment answers when the timepoint's event holds the enrolment
    form (M0) and the dictionary bounds an answer by another field (``[age]``); else None."""
    dictionary = get_dictionary()
    if participant is None or not dictionary.bounds_read_record:
        return None
    event = get_schedule().event(timepoint)
    if not any(f.name in RECORD_FORMS for f in dictionary.forms_for_event(event)):
        return None
    return enrolment_answers(participant)


def _validated(
    timepoint: Timepoint, answers: Mapping[str, Any],
    others: Mapping[str, Mapping[str, Any]] | None = None,
    participant: Participant | None = None,
) -> tuple[dict[str, Any], float, date]:
    dictionary = get_dictionary()
    names = questionnaire_forms(timepoint)
    event = get_schedule().event(timepoint)
    result = dictionary.validate(names, answers, event=event, other_events=others,
                                 record=record_answers(participant, timepoint))
    if not result.ok:
        raise ValidationFailed(
            [FieldError(p.field, p.message, p.label, p.code) for p in result.problems],
            context="questionnaire", timepoint=timepoint.value,
        )
    clean = dict(result.clean)
    visit = date.fromisoformat(str(clean["visit_date"]))
    return clean, result.completeness, visit


def _check_dates(participant: Participant, visit: date, on: date | None) -> None:
    rules.enforce(
        "dated",
        DatedFacts(visit, participant.inclusion_date, on or today(), what="visit"),
    )


def other_visits(stored: Mapping[Timepoint, Mapping[str, Any]], timepoint: Timepoint
                 ) -> dict[str, Mapping[str, Any]] | None:
    """The other visits' answers by event, when the dictionary's logic reads other events
    (``[m0_arm_1][weight]``); None otherwise, so nothing is fetched for nothing."""
    if not get_dictionary().reads_other_events:
        return None
    schedule = get_schedule()
    return {schedule.event(tp): answers for tp, answers in stored.items() if tp != timepoint}


def _existing(session: Session, participant_id: int) -> dict[Timepoint, Questionnaire]:
    rows = session.exec(
        select(Questionnaire).where(Questionnaire.participant_id == participant_id)
    ).all()
    return {q.timepoint: q for q in rows}


_WITH_DONE = (
    sa.select(Participant, col(Questionnaire.timepoint), *latest_of(Participant.centre_id))
    .outerjoin(Questionnaire, col(Questionnaire.participant_id) == Participant.id)
    .where(col(Participant.code) == bindparam("code"))
)


def _participant_and_done(
    session: Session, actor: Actor, code: str
) -> tuple[Participant, frozenset[Timepoint], LockState | None]:
    """``get_participant``, the timepoints already filled and whether the study or the
    participant's centre is locked, in one round trip (a save needs all three; the 404
    for an unknown or another centre's code is the same)."""
    rows = session.execute(_WITH_DONE, {"code": code}).all()
    participant = visible(actor, rows[0][0] if rows else None, code)
    lock = state_of_latest(participant.centre_id, *rows[0][2:]) if rows else None
    return (participant, frozenset(Timepoint(tp) for _, tp, *_ in rows if tp is not None),
            lock)


def save_questionnaire(
    session: Session,
    *,
    actor: Actor,
    code: str,
    timepoint: Timepoint,
    answers: Mapping[str, Any],
    on: date | None = None,
) -> Saved[Questionnaire]:
    """Create a timepoint's questionnaire; flag it when the visit is outside its window."""
    participant, done, lock = _participant_and_done(session, actor, code)
    require_scope(actor, participant.centre_id, session=session, lock=lock)
    others = None
    if get_dictionary().reads_other_events and participant.id is not None:
        others = other_visits({tp: q.answers for tp, q in
                               _existing(session, participant.id).items()}, timepoint)
    checked = check_new(actor=actor, participant=participant, timepoint=timepoint,
                        answers=answers, done=done, on=on, others=others)
    questionnaire = checked.record
    # The questionnaire is this transaction's first write, so a refused insert can roll the
    # whole transaction back; only inside a batch, where earlier writes must survive, is a
    # savepoint worth its two extra statements.
    nested = session.begin_nested() if in_batch(session) else None
    session.add(questionnaire)
    try:
        session.flush()
    except IntegrityError as error:
        # Two saves of the same timepoint at once (a double submit): both passed the rule,
        # the unique constraint stops the second. Same answer as the rule gives.
        if nested is not None:
            nested.rollback()
        else:
            session.rollback()
        if "uq_questionnaire_timepoint" not in str(error.orig) and "questionnaire.timepoint" \
                not in str(error.orig):
            raise
        raise DuplicateTimepoint(
            "visit.duplicate",
            msg("visit.duplicate.just_saved", code=code, timepoint=timepoint),
            field="timepoint",
        ) from None
    if nested is not None:
        nested.commit()
    assert questionnaire.id is not None  # noqa: S101
    audit.record_create(session, actor.staff_id, questionnaire)
    deviations = raise_findings(
        session, findings=checked.findings, entity="questionnaire",
        record_id=questionnaire.id, participant=participant,
    )
    finish(session)
    return Saved(questionnaire, deviations)


@dataclass
class Checked:
    """A questionnaire that passed every hard rule and the dictionary, not yet added."""

    record: Questionnaire
    findings: list[Finding]


def check_new(
    *,
    actor: Actor,
    participant: Participant,
    timepoint: Timepoint,
    answers: Mapping[str, Any],
    done: frozenset[Timepoint],
    on: date | None = None,
    others: Mapping[str, Mapping[str, Any]] | None = None,
) -> Checked:
    """Every check of a new questionnaire, without touching the database.

    ``done`` are the timepoints the participant already has. Raises the hard rule's error
    or ``ValidationFailed``; returns the record to add and the soft findings to flag.
    Shared by ``save_questionnaire`` and the bulk writer so both apply the same rules.
    ``others`` are the participant's other visits (event -> answers), for dictionaries
    whose logic reads them (``other_visits``).
    """
    values, findings = checked_values(actor=actor, participant=participant,
                                      timepoint=timepoint, answers=answers, done=done,
                                      on=on, others=others)
    return Checked(Questionnaire(**values), findings)


def checked_values(
    *,
    actor: Actor,
    participant: Participant,
    timepoint: Timepoint,
    answers: Mapping[str, Any],
    done: frozenset[Timepoint],
    on: date | None = None,
    others: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[dict[str, Any], list[Finding]]:
    """``check_new`` with the record's fields rather than the record, for a writer that
    inserts rows (``bulk.save_questionnaires``)."""
    config = protocol_config()
    facts = VisitFacts(timepoint, on or today(), participant.inclusion_date, done, config)
    rules.enforce("questionnaire", facts)
    clean, completeness, visit = _validated(timepoint, answers, others, participant)
    _check_dates(participant, visit, on)
    window_facts = VisitFacts(timepoint, visit, participant.inclusion_date, done, config)
    findings = rules.evaluate("questionnaire_window", window_facts)
    assert participant.id is not None  # noqa: S101
    values = {
        "participant_id": participant.id,
        "timepoint": timepoint,
        "visit_date": visit,
        "staff_id": actor.staff_id,
        "answers": clean,
        "completeness": completeness,
        "in_window": not findings,
        # Given rather than defaulted: pydantic inspects a default factory at every call,
        # a visible share of a bulk import's time.
        "created_at": (now := utcnow()),
        "updated_at": now,
    }
    return values, list(findings)


def answers_unchanged(questionnaire: Questionnaire, answers: Mapping[str, Any]) -> bool:
    """Whether saving ``answers`` over this questionnaire would change nothing (they are
    checked as a save checks them: normalised, calc fields computed)."""
    try:
        clean, _, visit = _validated(questionnaire.timepoint, answers)
    except ValidationFailed:
        return False
    return clean == dict(questionnaire.answers) and visit == questionnaire.visit_date


def get_questionnaire(
    session: Session, *, actor: Actor, code: str, timepoint: Timepoint
) -> Questionnaire:
    participant = get_participant(session, actor, code)
    assert participant.id is not None  # noqa: S101
    found = _existing(session, participant.id).get(timepoint)
    if found is None:
        raise NotFound(msg("questionnaire.not_found", code=code, timepoint=timepoint))
    return found


def update_questionnaire(
    session: Session,
    *,
    actor: Actor,
    code: str,
    timepoint: Timepoint,
    answers: Mapping[str, Any],
    expected_version: int,
    on: date | None = None,
) -> Saved[Questionnaire]:
    """Correct a questionnaire. A stale ``expected_version`` overwrites nothing.

    Every changed answer gets its own audit entry with old and new value.
    """
    participant = get_participant(session, actor, code)
    require_scope(actor, participant.centre_id, session=session)
    questionnaire = get_questionnaire(session, actor=actor, code=code, timepoint=timepoint)
    if questionnaire.version != expected_version:
        raise StaleVersion(
            msg("questionnaire.stale", timepoint=timepoint, current=questionnaire.version,
                expected=expected_version),
            current_version=questionnaire.version,
        )
    others = None
    if get_dictionary().reads_other_events and participant.id is not None:
        others = other_visits({tp: q.answers for tp, q in
                               _existing(session, participant.id).items()}, timepoint)
    clean, completeness, visit = _validated(timepoint, answers, others, participant)
    _check_dates(participant, visit, on)
    config = protocol_config()
    findings = rules.evaluate(
        "questionnaire_window",
        VisitFacts(timepoint, visit, participant.inclusion_date, frozenset(), config),
    )
    assert questionnaire.id is not None  # noqa: S101
    changes: dict[str, tuple[Any, Any]] = audit.answer_changes(questionnaire.answers, clean)
    changes["visit_date"] = (questionnaire.visit_date, visit)
    changes["version"] = (expected_version, expected_version + 1)
    _write_if_unchanged(session, questionnaire, expected_version, timepoint, {
        "answers": clean, "visit_date": visit, "completeness": completeness,
        "in_window": not findings, "version": expected_version + 1, "updated_at": utcnow(),
    })
    audit.record_changes(session, actor.staff_id, "questionnaire", questionnaire.id, changes)
    deviations = raise_findings(
        session, findings=findings, entity="questionnaire", record_id=questionnaire.id,
        participant=participant, key_suffix=f":{visit.isoformat()}",
    )
    finish(session)
    return Saved(questionnaire, deviations)


def _write_if_unchanged(
    session: Session, questionnaire: Questionnaire, expected_version: int,
    timepoint: Timepoint, values: dict[str, Any],
) -> None:
    """``UPDATE … WHERE id = :id AND version = :expected``, first write of the transaction.

    The version read above may be stale by the time we write: two saves can both read
    version 1. The database decides: on PostgreSQL the second UPDATE waits for the first
    to commit and then matches no row, so it is refused with ``StaleVersion`` and
    overwrites nothing (nothing else has been written yet in this transaction).
    """
    table = Questionnaire.__table__  # type: ignore[attr-defined]
    result = session.execute(
        sa.update(table)
        .where(table.c.id == questionnaire.id, table.c.version == expected_version)
        .values(**values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        current = session.exec(
            select(Questionnaire.version).where(Questionnaire.id == questionnaire.id)
        ).one()
        raise StaleVersion(
            msg("questionnaire.stale", timepoint=timepoint, current=current,
                expected=expected_version),
            current_version=int(current),
        )
    for name, value in values.items():
        set_committed_value(questionnaire, name, value)
