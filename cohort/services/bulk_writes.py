"""Enrolments, screenings, AERLI sessions and status changes in bulk, all or nothing.

The one-by-one services (``enrol``, ``log_screening``, ``log_session``, ``change_status``)
cost a few queries and an ORM flush per record; a demo or an import of 10,000 people
spends most of its time there. These writers apply exactly the same checks to every row
(the very functions the services call: ``check_eligible``, ``check_session``,
``check_status``, ``require_scope``), reading what they need in a few set-based queries,
and report *every* refused row. Only when no row is refused do they write: the records,
their links, their audit entries (the same ones, one multi-row INSERT per table and actor)
and their deviations. Questionnaires are ``bulk.save_questionnaires``.

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
from cohort.services import audit
from cohort.services.bulk import insert_records, participants_by_code
from cohort.services.context import Actor, finish, require_scope
from cohort.services.deviations import audit_raised, new_deviation
from cohort.services.enrolment import (
    EnrolmentCreate,
    ScreeningCreate,
    _centre,
    _next_seq,
    check_eligible,
    enrolled_records,
    new_participant,
    within_codes,
)
from cohort.services.participants import check_status
from cohort.services.results import Saved
from cohort.services.sessions import AerliSessionCreate, check_session
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
    """Audit created records as the one-by-one services do, one INSERT per actor."""
    by_actor: dict[int, list[SQLModel]] = {}
    for actor, record in made:
        by_actor.setdefault(actor.staff_id, []).append(record)
    for staff_id, records in by_actor.items():
        audit.record_creates(session, staff_id, records)


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
    planned: list[tuple[Actor, Participant]] = []
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
        planned.append((row.actor, new_participant(row.data, centre, seq, row.actor,
                                                   created_at=now)))
    _refuse_any(errors)
    people = [p for _, p in planned]
    insert_records(session, people)
    statuses, screenings = [], []
    for actor, person in planned:
        status, screening = enrolled_records(person, actor, now)
        statuses.append((actor, status))
        screenings.append((actor, screening))
    insert_records(session, [s for _, s in statuses])
    insert_records(session, [s for _, s in screenings])
    for made in (planned, statuses, screenings):
        _audit_creates(session, made)
    finish(session)
    return people


def log_screenings(session: Session, rows: Sequence[ScreeningRow]) -> list[Screening]:
    """``log_screening`` for every row (checks that led to no enrolment), or none."""
    centres = _Centres(session)
    made: list[tuple[Actor, Screening]] = []
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
        made.append((row.actor, Screening(
            screened_on=row.data.screened_on, centre_id=centre.id,
            staff_id=row.actor.staff_id, outcome=row.data.outcome, reason=row.data.reason,
            reached_via=row.data.reached_via)))
    _refuse_any(errors)
    insert_records(session, [s for _, s in made])
    _audit_creates(session, made)
    finish(session)
    return [s for _, s in made]


def _visible(people: Mapping[str, Participant], actor: Actor, code: str) -> Participant:
    person = people.get(code)
    if person is None or person.id is None or not actor.can_see(person.centre_id):
        raise NotFound(msg("participant.not_found", code=code))
    return person


def log_sessions(session: Session, rows: Sequence[SessionRow], on: date | None = None
                 ) -> list[Saved[AerliSession]]:
    """``log_session`` for every row (with its staff links and deviations), or none."""
    people = participants_by_code(session, (r.code for r in rows))
    wanted = sorted({i for r in rows for i in r.data.staff_ids})
    known = {s.id: s for s in session.exec(select(Staff).where(col(Staff.id).in_(wanted)))
             if s.id is not None}
    checked: list[tuple[Actor, Participant, AerliSession, list[int], list[Any]]] = []
    errors: list[tuple[int, CohortError]] = []
    for at, row in enumerate(rows):
        try:
            person = _visible(people, row.actor, row.code)
            record, staff_ids, findings = check_session(session, row.actor, person, row.data,
                                                        on, known)
        except CohortError as error:
            errors.append((at, error))
            continue
        checked.append((row.actor, person, record, staff_ids, findings))
    _refuse_any(errors)
    records = [c[2] for c in checked]
    insert_records(session, records)
    links = [{"session_id": record.id, "staff_id": s}
             for _, _, record, staff_ids, _ in checked for s in staff_ids]
    if links:
        session.connection().execute(insert(SessionStaff.__table__), links)  # type: ignore[attr-defined]
    _audit_creates(session, ((a, r) for a, _, r, _, _ in checked))
    by_actor: dict[int, list[tuple[str, int, Mapping[str, tuple[Any, Any]]]]] = {}
    for actor, _, record, staff_ids, _ in checked:
        assert record.id is not None  # noqa: S101
        by_actor.setdefault(actor.staff_id, []).append(
            ("aerli_session", record.id, {"staff_ids": (None, staff_ids)}))
    for staff_id, items in by_actor.items():
        audit.record_changes_many(session, staff_id, items)
    saved: list[Saved[AerliSession]] = []
    raised: list[Deviation] = []
    for _, person, record, _, findings in checked:
        assert record.id is not None  # noqa: S101
        deviations = [new_deviation(f, entity="aerli_session", record_id=record.id,
                                    participant=person) for f in findings]
        raised.extend(deviations)
        saved.append(Saved(record, deviations))
    session.add_all(raised)
    session.flush()
    audit_raised(session, raised)
    finish(session)
    return saved


def change_statuses(session: Session, rows: Sequence[StatusRow], on: date | None = None
                    ) -> list[StatusChange]:
    """``change_status`` for every row in order (a person's later row starts from the
    status an earlier row gave them), or none."""
    people = participants_by_code(session, (r.code for r in rows))
    current: dict[int, tuple[Status, int]] = {}
    made: list[tuple[Actor, StatusChange, Status, int]] = []
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
        made.append((row.actor, StatusChange(
            participant_id=person.id, status=row.status, effective_date=row.effective_date,
            reason=row.reason, recorded_by=row.actor.staff_id, recorded_at=utcnow()),
            status, version))
    _refuse_any(errors)
    insert_records(session, [m[1] for m in made])
    _audit_creates(session, ((a, c) for a, c, _, _ in made))
    by_actor: dict[int, list[tuple[str, int, Mapping[str, tuple[Any, Any]]]]] = {}
    for actor, change, old, version in made:
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
    return [m[1] for m in made]
