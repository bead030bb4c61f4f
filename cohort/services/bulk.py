"""Many questionnaires at once (workbook and REDCap imports), all or nothing.

``save_questionnaire`` costs a few queries and flushes per record; an import of 10,000
rows would spend most of its time there. ``save_questionnaires`` applies exactly the same
checks (``questionnaires.check_new``) to every row first, reading what it needs in a few
set-based queries, and reports *every* refused row. Only when no row is refused does it
write: the records, their audit entries and their deviations, in one flush.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import insert
from sqlmodel import Session, SQLModel, col, select

from cohort.dictionary import get_dictionary
from cohort.errors import CohortError, NotFound
from cohort.messages import msg
from cohort.models import Deviation, Participant, Questionnaire
from cohort.services import audit
from cohort.services.context import Actor, finish, require_scope
from cohort.services.deviations import audit_raised, new_deviation
from cohort.services.questionnaires import check_new, other_visits
from cohort.services.results import Saved
from cohort.vocab import Timepoint

#: Rows of an ``IN (...)`` list per query; well under every engine's parameter limit.
CHUNK = 900

T = TypeVar("T")


@dataclass(frozen=True)
class QuestionnaireRow:
    """One questionnaire to save; ``ref`` says where it came from (e.g. ``M6!B12``)."""

    code: str
    timepoint: Timepoint
    answers: Mapping[str, Any]
    ref: str = ""
    #: Who enters it, when not the call's actor (the demo writes for many teams at once).
    actor: Actor | None = None


@dataclass(frozen=True)
class RowError:
    """A refused row: where it came from, and the hard rule or validation that refused it."""

    row: QuestionnaireRow
    error: CohortError


class BulkRefused(CohortError):
    """At least one row was refused; nothing at all was written."""

    def __init__(self, errors: list[RowError]) -> None:
        count = len(errors)
        super().__init__(msg("bulk.refused.one" if count == 1 else "bulk.refused", count=count))
        self.errors = errors


@dataclass
class BulkSaved:
    """What was written, and the rows left alone because the same answers are stored."""

    saved: list[Saved[Questionnaire]] = field(default_factory=list)
    unchanged: list[QuestionnaireRow] = field(default_factory=list)

    @property
    def deviations(self) -> list[Deviation]:
        return [d for s in self.saved for d in s.deviations]


def _chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def participants_by_code(session: Session, codes: Iterable[str]) -> dict[str, Participant]:
    """The participants of these codes, read in a few ``IN (...)`` queries."""
    wanted = sorted(set(codes))
    found: dict[str, Participant] = {}
    for chunk in _chunks(wanted):
        for person in session.exec(select(Participant).where(col(Participant.code).in_(chunk))):
            found[person.code] = person
    return found


@dataclass(frozen=True)
class _Stored:
    visit_date: date
    answers: Mapping[str, Any]


def _stored(session: Session, ids: Sequence[int]) -> dict[tuple[int, Timepoint], _Stored]:
    stored: dict[tuple[int, Timepoint], _Stored] = {}
    for chunk in _chunks(ids):
        rows = session.exec(
            select(col(Questionnaire.participant_id), col(Questionnaire.timepoint),
                   col(Questionnaire.visit_date), col(Questionnaire.answers))
            .where(col(Questionnaire.participant_id).in_(chunk))
        )
        for participant_id, timepoint, visit_date, answers in rows:
            stored[(participant_id, Timepoint(timepoint))] = _Stored(visit_date, answers)
    return stored


def save_questionnaires(
    session: Session,
    *,
    actor: Actor,
    rows: Sequence[QuestionnaireRow],
    on: date | None = None,
    skip_identical: bool = True,
) -> BulkSaved:
    """Save every row, or none: raises ``BulkRefused`` listing each refused row.

    With ``skip_identical`` a row whose participant already has that timepoint with the
    same visit date and answers is counted as unchanged rather than refused as a
    duplicate, so importing the same workbook twice writes nothing new.
    """
    default_actor = actor
    people = participants_by_code(session, (r.code for r in rows))
    ids = [p.id for p in people.values() if p.id is not None]
    stored = _stored(session, ids)
    done: dict[int, set[Timepoint]] = {}
    for participant_id, timepoint in stored:
        done.setdefault(participant_id, set()).add(timepoint)
    # Other visits' answers by person, only for a dictionary whose logic reads them.
    visits: dict[int, dict[Timepoint, Mapping[str, Any]]] = {}
    reads_others = get_dictionary().reads_other_events
    if reads_others:
        for (participant_id, timepoint), found in stored.items():
            visits.setdefault(participant_id, {})[timepoint] = found.answers

    result = BulkSaved()
    accepted: list[tuple[Participant, Any, Actor]] = []
    errors: list[RowError] = []
    for row in rows:
        person = people.get(row.code)
        actor = row.actor or default_actor
        try:
            if person is None or person.id is None or not actor.can_see(person.centre_id):
                raise NotFound(msg("participant.not_found", code=row.code))
            require_scope(actor, person.centre_id, session=session)
            taken = done.setdefault(person.id, set())
            if skip_identical and _same_as_stored(stored.get((person.id, row.timepoint)),
                                                  row, actor, person, taken, on):
                result.unchanged.append(row)
                continue
            others = other_visits(visits.get(person.id, {}), row.timepoint) \
                if reads_others else None
            checked = check_new(actor=actor, participant=person, timepoint=row.timepoint,
                                answers=row.answers, done=frozenset(taken), on=on,
                                others=others)
        except CohortError as error:
            errors.append(RowError(row, error))
            continue
        taken.add(row.timepoint)
        if reads_others:  # a later row of the same person reads this one, as one by one
            visits.setdefault(person.id, {})[row.timepoint] = checked.record.answers
        accepted.append((person, checked, actor))
    if errors:
        raise BulkRefused(errors)

    records = [checked.record for _, checked, _ in accepted]
    _insert(session, records)
    by_actor: dict[int, list[Questionnaire]] = {}
    for _, checked, who in accepted:
        by_actor.setdefault(who.staff_id, []).append(checked.record)
    for staff_id, created in by_actor.items():
        audit.record_creates(session, staff_id, created)
    for person, checked, _ in accepted:
        record = checked.record
        assert record.id is not None  # noqa: S101
        deviations = [new_deviation(finding, entity="questionnaire", record_id=record.id,
                                    participant=person) for finding in checked.findings]
        session.add_all(deviations)
        result.saved.append(Saved(record, deviations))
    session.flush()
    audit_raised(session, result.deviations)
    finish(session)
    return result


def _insert(session: Session, records: Sequence[Questionnaire]) -> None:
    insert_records(session, records)


def insert_records(session: Session, records: Sequence[SQLModel]) -> None:
    """One multi-row INSERT … RETURNING id for many records of one table (no per-object
    unit of work).

    The records keep their values and get their ids; they are not added to the session.
    """
    if not records:
        return
    table = type(records[0]).__table__  # type: ignore[attr-defined]
    columns = [c.name for c in table.columns if c.name != "id"]
    values = [{name: getattr(record, name) for name in columns} for record in records]
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids = session.execute(statement, values).scalars().all()
    for record, new_id in zip(records, ids, strict=True):
        record.id = new_id


def _same_as_stored(
    stored: _Stored | None,
    row: QuestionnaireRow,
    actor: Actor,
    person: Participant,
    taken: set[Timepoint],
    on: date | None,
) -> bool:
    """Whether the row repeats what is stored (checked as if new, then compared)."""
    if stored is None:
        return False
    others = frozenset(taken - {row.timepoint})
    try:
        checked = check_new(actor=actor, participant=person, timepoint=row.timepoint,
                            answers=row.answers, done=others, on=on)
    except CohortError:
        return False
    return (checked.record.visit_date == stored.visit_date
            and dict(checked.record.answers) == dict(stored.answers))
