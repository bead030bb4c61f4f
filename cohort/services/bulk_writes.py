"""Enrolments, screenings, AERLI sessions and status changes in bulk, all or nothing.

The one-by-one services (``enrol``, ``log_screening``, ``log_session``, ``change_status``)
cost a few queries and an ORM flush per record; a demo or an import of 10,000 people
spends most of its time there. These writers apply exactly the same checks to every row
(the very functions the services call: ``check_eligible``, ``check_session``,
``check_status``, ``require_scope``), reading what they need in a few set-based queries,
and report *every* refused row. Only when no row is refused do they write: the records,
their links, their audit entries (the same ones, one multi-row INSERT per table and actor)
and their deviations. The records go in from their values (``bulk.insert_rows``): making
each one as a SQLModel object first, field by field, cost more than all the checks.
Questionnaires are ``bulk.save_questionnaires``.

Unlike ``enrol``, ``enrol_many`` does not retry a sequence number another worker took at
the same moment: the whole batch is refused by the unique constraint and nothing is
written (bulk writers run from the command line and imports, not from a busy form).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, SQLModel, col, select

from cohort.errors import CohortError, NotFound
from cohort.messages import msg
from cohort.models import (
    AerliSession,
    Centre,
    Deviation,
    Participant,
    Screening,
    SessionStaff,
    Staff,
    StatusChange,
    utcnow,
)
from cohort.rules import Finding
from cohort.services import audit
from cohort.services.bulk import insert_rows, participants_by_code
from cohort.services.context import Actor, finish, require_scope
from cohort.services.deviations import audit_raised, deviation_values
from cohort.services.enrolment import (
    EnrolmentCreate,
    ScreeningCreate,
    _centre,
    _next_seq,
    check_eligible,
    enrolled_values,
    participant_values,
    within_codes,
)
from cohort.services.participants import check_status
from cohort.services.results import Saved
from cohort.services.sessions import AerliSessionCreate, session_values
from cohort.vocab import ScreeningOutcome, Status


@dataclass(frozen=True)
class EnrolmentRow:
    actor: Actor
    data: EnrolmentCreate


@dataclass(frozen=True)
class ScreeningRow:
    actor: Actor
    data: ScreeningCreate


@dataclass(frozen=True)
class SessionRow:
    actor: Actor
    code: str
    data: AerliSessionCreate


@dataclass(frozen=True)
class StatusRow:
    actor: Actor
    code: str
    status: Status
    effective_date: date
    reason: str | None = None


class RowsRefused(CohortError):
    """At least one row was refused; nothing at all was written. ``errors`` holds each
    refused row's position in the batch and the rule or validation that refused it."""

    def __init__(self, errors: list[tuple[int, CohortError]]) -> None:
        count = len(errors)
        super().__init__(msg("bulk.refused.one" if count == 1 else "bulk.refused", count=count))
        self.errors = errors


def _refuse_any(errors: list[tuple[int, CohortError]]) -> None:
    if errors:
        raise RowsRefused(errors)


def _audit_creates(session: Session, made: Iterable[tuple[Actor, SQLModel]]) -> None:
    """Audit created records as the one-by-one services do (the acting staff id), in one
    INSERT."""
    audit.record_creates_many(session, ((actor.staff_id, record) for actor, record in made))


class _Centres:
    """``enrolment._centre`` remembered per (actor's centre, code asked for)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.found: dict[tuple[int | None, str | None], Centre] = {}

    def __call__(self, actor: Actor, code: str | None) -> Centre:
        key = (actor.centre_id, code)
        if key not in self.found:
            self.found[key] = _centre(self.session, actor, code)
        return self.found[key]


def enrol_many(session: Session, rows: Sequence[EnrolmentRow], on: date | None = None
               ) -> list[Participant]:
    """``enrol`` for every row, in order (codes follow each centre's sequence), or none."""
    centres = _Centres(session)
    now = utcnow()  # timestamps given: pydantic inspects a default factory at every call
    next_seq: dict[int, int] = {}
    planned: list[tuple[Actor, dict[str, Any]]] = []
    errors: list[tuple[int, CohortError]] = []
    for at, row in enumerate(rows):
        try:
            centre = centres(row.actor, row.data.centre_code)
            assert centre.id is not None  # noqa: S101
            require_scope(row.actor, centre.id, session=session)
            check_eligible(row.data, on)
            seq = within_codes(centre, next_seq[centre.id]) if centre.id in next_seq \
                else _next_seq(session, centre)
        except CohortError as error:
            errors.append((at, error))
            continue
        next_seq[centre.id] = seq + 1
        planned.append((row.actor, participant_values(row.data, centre, seq, row.actor,
                                                      created_at=now)))
    _refuse_any(errors)
    actors = [actor for actor, _ in planned]
    people = insert_rows(session, Participant, [values for _, values in planned])
    follow = [enrolled_values(person, actor, now) for actor, person in zip(actors, people,
                                                                            strict=True)]
    statuses = insert_rows(session, StatusChange, [status for status, _ in follow])
    screenings = insert_rows(session, Screening, [screening for _, screening in follow])
    _audit_creates(session, (pair for made in (people, statuses, screenings)
                             for pair in zip(actors, made, strict=True)))
    finish(session)
    return people


def log_screenings(session: Session, rows: Sequence[ScreeningRow]) -> list[Screening]:
    """``log_screening`` for every row (checks that led to no enrolment), or none."""
    centres = _Centres(session)
    made: list[tuple[Actor, dict[str, Any]]] = []
    errors: list[tuple[int, CohortError]] = []
    for at, row in enumerate(rows):
        try:
            centre = centres(row.actor, row.data.centre_code)
            assert centre.id is not None  # noqa: S101
            require_scope(row.actor, centre.id, session=session)
            if row.data.outcome is ScreeningOutcome.ENROLLED:
                raise CohortError(msg("screening.enrolled_logged_by_enrolment"))
        except CohortError as error:
            errors.append((at, error))
            continue
        made.append((row.actor, {
            "screened_on": row.data.screened_on, "centre_id": centre.id,
            "staff_id": row.actor.staff_id, "outcome": row.data.outcome,
            "reason": row.data.reason, "reached_via": row.data.reached_via}))
    _refuse_any(errors)
    screenings = insert_rows(session, Screening, [values for _, values in made])
    _audit_creates(session, zip([actor for actor, _ in made], screenings, strict=True))
    finish(session)
    return screenings


def _visible(people: Mapping[str, Participant], actor: Actor, code: str) -> Participant:
    person = people.get(code)
    if person is None or person.id is None or not actor.can_see(person.centre_id):
        raise NotFound(msg("participant.not_found", code=code))
    return person


def log_sessions(session: Session, rows: Sequence[SessionRow], on: date | None = None,
                 known_people: Mapping[str, Participant] | None = None
                 ) -> list[Saved[AerliSession]]:
    """``log_session`` for every row (with its staff links and deviations), or none.
    ``known_people``: see ``bulk.participants_by_code``."""
    people = participants_by_code(session, (r.code for r in rows), known_people)
    wanted = sorted({i for r in rows for i in r.data.staff_ids})
    known = {s.id: s for s in session.exec(select(Staff).where(col(Staff.id).in_(wanted)))
             if s.id is not None}
    checked: list[tuple[Actor, Participant, dict[str, Any], list[int], list[Finding]]] = []
    errors: list[tuple[int, CohortError]] = []
    for at, row in enumerate(rows):
        try:
            person = _visible(people, row.actor, row.code)
            values, staff_ids, findings = session_values(session, row.actor, person,
                                                          row.data, on, known)
        except CohortError as error:
            errors.append((at, error))
            continue
        checked.append((row.actor, person, values, staff_ids, findings))
    _refuse_any(errors)
    records = insert_rows(session, AerliSession, [c[2] for c in checked])
    links = [{"session_id": record.id, "staff_id": s}
             for (_, _, _, staff_ids, _), record in zip(checked, records, strict=True)
             for s in staff_ids]
    if links:
        session.connection().execute(insert(SessionStaff.__table__), links)  # type: ignore[attr-defined]
    _audit_creates(session, zip([c[0] for c in checked], records, strict=True))
    by_actor: dict[int, list[tuple[str, int, Mapping[str, tuple[Any, Any]]]]] = {}
    flagged: list[dict[str, Any]] = []
    for (actor, person, _, staff_ids, findings), record in zip(checked, records, strict=True):
        assert record.id is not None  # noqa: S101
        by_actor.setdefault(actor.staff_id, []).append(
            ("aerli_session", record.id, {"staff_ids": (None, staff_ids)}))
        flagged.extend(deviation_values(f, entity="aerli_session", record_id=record.id,
                                        participant=person) for f in findings)
    for staff_id, items in by_actor.items():
        audit.record_changes_many(session, staff_id, items)
    raised = insert_rows(session, Deviation, flagged)
    left = iter(raised)
    saved = [Saved(record, [next(left) for _ in c[4]])
             for c, record in zip(checked, records, strict=True)]
    audit_raised(session, raised)
    finish(session)
    return saved


def change_statuses(session: Session, rows: Sequence[StatusRow], on: date | None = None
                    ) -> list[StatusChange]:
    """``change_status`` for every row in order (a person's later row starts from the
    status an earlier row gave them), or none. The participants are read here, as records
    of the session: their new status is written through them."""
    people = participants_by_code(session, (r.code for r in rows))
    current: dict[int, tuple[Status, int]] = {}
    made: list[tuple[Actor, dict[str, Any], Status, int]] = []
    errors: list[tuple[int, CohortError]] = []
    for at, row in enumerate(rows):
        try:
            person = _visible(people, row.actor, row.code)
            assert person.id is not None  # noqa: S101
            status, version = current.get(person.id, (person.status, person.version))
            check_status(session, row.actor, person, status, row.status, row.effective_date,
                         on)
        except CohortError as error:
            errors.append((at, error))
            continue
        current[person.id] = (row.status, version + 1)
        made.append((row.actor, {
            "participant_id": person.id, "status": row.status,
            "effective_date": row.effective_date, "reason": row.reason,
            "recorded_by": row.actor.staff_id, "recorded_at": utcnow()}, status, version))
    _refuse_any(errors)
    changes = insert_rows(session, StatusChange, [m[1] for m in made])
    _audit_creates(session, zip([m[0] for m in made], changes, strict=True))
    by_actor: dict[int, list[tuple[str, int, Mapping[str, tuple[Any, Any]]]]] = {}
    for (actor, _, old, version), change in zip(made, changes, strict=True):
        by_actor.setdefault(actor.staff_id, []).append(
            ("participant", change.participant_id,
             {"status": (old, change.status), "version": (version, version + 1)}))
    for staff_id, items in by_actor.items():
        audit.record_changes_many(session, staff_id, items)
    by_id = {p.id: p for p in people.values()}
    for participant_id, (status, version) in current.items():
        person = by_id[participant_id]
        person.status, person.version = status, version
        session.add(person)
    finish(session)
    return changes
