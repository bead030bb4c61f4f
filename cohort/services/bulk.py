"""Many questionnaires at once (workbook and REDCap imports), all or nothing.

``save_questionnaire`` costs a few queries and flushes per record; an import of 10,000
rows would spend most of its time there. ``save_questionnaires`` applies exactly the same
checks (``questionnaires.check_new``) to every row first, reading what it needs in a few
set-based queries, and reports *every* refused row. Only when no row is refused does it
write: the records, their audit entries and their deviations, a multi-row INSERT per
table (the records built from their values, never field by field: ``insert_rows``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import insert
from sqlalchemy import inspect as sa_inspect
from sqlmodel import Session, SQLModel, col, select

from cohort.dictionary import get_dictionary
from cohort.errors import CohortError, NotFound
from cohort.messages import msg
from cohort.models import Deviation, Participant, Questionnaire
from cohort.rules import Finding
from cohort.services import audit
from cohort.services.context import Actor, finish, require_scope
from cohort.services.deviations import audit_raised, deviation_values
from cohort.services.questionnaires import check_new, checked_values, other_visits
from cohort.services.results import Saved
from cohort.vocab import Timepoint

#: Rows of an ``IN (...)`` list per query; well under every engine's parameter limit.
CHUNK = 900

T = TypeVar("T")
M = TypeVar("M", bound=SQLModel)


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


def participants_by_code(session: Session, codes: Iterable[str],
                         known_people: Mapping[str, Participant] | None = None
                         ) -> dict[str, Participant]:
    """The participants of these codes, read in a few ``IN (...)`` queries; those in
    ``known_people`` (records the caller holds as they are now: the ones it has just enrolled in
    this transaction) are not read again. They are only read from: a writer that changes
    a participant reads them here, as records of the session."""
    known = known_people or {}
    found: dict[str, Participant] = {}
    wanted = []
    for code in sorted(set(codes)):
        if code in known:
            found[code] = known[code]
        else:
            wanted.append(code)
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
    known_people: Mapping[str, Participant] | None = None,
) -> BulkSaved:
    """Save every row, or none: raises ``BulkRefused`` listing each refused row.

    With ``skip_identical`` a row whose participant already has that timepoint with the
    same visit date and answers is counted as unchanged rather than refused as a
    duplicate, so importing the same workbook twice writes nothing new. ``known_people``: see
    ``participants_by_code``.
    """
    default_actor = actor
    people = participants_by_code(session, (r.code for r in rows), known_people)
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
    accepted: list[tuple[Participant, dict[str, Any], list[Finding], Actor]] = []
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
            values, findings = checked_values(
                actor=actor, participant=person, timepoint=row.timepoint,
                answers=row.answers, done=frozenset(taken), on=on, others=others)
        except CohortError as error:
            errors.append(RowError(row, error))
            continue
        taken.add(row.timepoint)
        if reads_others:  # a later row of the same person reads this one, as one by one
            visits.setdefault(person.id, {})[row.timepoint] = values["answers"]
        accepted.append((person, values, findings, actor))
    if errors:
        raise BulkRefused(errors)

    records = insert_rows(session, Questionnaire, [a[1] for a in accepted])
    by_actor: dict[int, list[Questionnaire]] = {}
    for (_, _, _, who), record in zip(accepted, records, strict=True):
        by_actor.setdefault(who.staff_id, []).append(record)
    for staff_id, created in by_actor.items():
        audit.record_creates(session, staff_id, created)
    flagged: list[dict[str, Any]] = []
    for (person, _, findings, _), record in zip(accepted, records, strict=True):
        assert record.id is not None  # noqa: S101
        flagged.extend(deviation_values(finding, entity="questionnaire", record_id=record.id,
                                        participant=person) for finding in findings)
    raised = iter(insert_rows(session, Deviation, flagged))
    for (_, _, findings, _), record in zip(accepted, records, strict=True):
        result.saved.append(Saved(record, [next(raised) for _ in findings]))
    audit_raised(session, result.deviations)
    finish(session)
    return result


def _defaults(model: type[SQLModel]) -> list[tuple[str, Any]]:
    """The fields of a table model that have a default, with their ``FieldInfo``."""
    found = _DEFAULTS.get(model)
    if found is None:
        found = _DEFAULTS[model] = [(name, info) for name, info in model.model_fields.items()
                                    if not info.is_required()]
    return found


_DEFAULTS: dict[type[SQLModel], list[tuple[str, Any]]] = {}


def with_defaults(model: type[SQLModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` and the model's defaults for the fields they leave out (a default
    factory called, as ``model(**values)`` calls it)."""
    full = {name: info.get_default(call_default_factory=True)
            for name, info in _defaults(model) if name not in values}
    full.update(values)
    return full


def built(model: type[M], values: Mapping[str, Any]) -> M:
    """The ``model`` instance ``model(**values)`` makes, made as SQLAlchemy makes one it
    loads: the values (and the model's defaults) put in place at once, without an
    attribute event and a pydantic assignment per field, which cost about twenty times
    more. Table models do not validate on construction either way. The instance is not
    in the session and has no pending changes (the bulk writers insert its row with Core:
    ``insert_rows``); the fields given count as set, as with ``model(**values)``."""
    return _made(model, with_defaults(model, values), set(values))


def _made(model: type[M], full: dict[str, Any], given: set[str]) -> M:
    manager = _MANAGERS.get(model)
    if manager is None:
        manager = _MANAGERS[model] = sa_inspect(model).class_manager
    record: M = manager.new_instance()
    record.__dict__.update(full)
    object.__setattr__(record, "__pydantic_fields_set__", given)
    return record


_MANAGERS: dict[type[SQLModel], Any] = {}


def insert_rows(session: Session, model: type[M], rows: Sequence[Mapping[str, Any]]
                ) -> list[M]:
    """Write many records of one table from their values (what ``model(**values)`` would
    hold), in one multi-row INSERT … RETURNING id; the records, ids set, in order.

    The records are not made field by field first, and come back ``built``: not added to
    the session."""
    if not rows:
        return []
    table = model.__table__  # type: ignore[attr-defined]
    full = [with_defaults(model, row) for row in rows]
    columns = [c.name for c in table.columns if c.name != "id"]
    ids = _new_ids(session, table, [{name: row.get(name) for name in columns}
                                    for row in full])
    records = []
    for row, given, new_id in zip(full, rows, ids, strict=True):
        row["id"] = new_id
        records.append(_made(model, row, {*given, "id"}))
    return records


def _new_ids(session: Session, table: Any, params: list[dict[str, Any]]) -> list[int]:
    """INSERT the rows; their ids, in the rows' order.

    SQLAlchemy orders RETURNING by the rows itself where the database can say which row
    is which (PostgreSQL, in batches); SQLite does not promise an order, so SQLAlchemy
    would send one INSERT per row. There the ids are sorted instead: SQLite inserts the
    rows of a multi-row INSERT in order, each taking a rowid above every one in the table
    (the transaction holds the write lock), so ascending ids follow the rows."""
    if session.connection().dialect.name == "sqlite":
        found = session.execute(insert(table).returning(table.c.id), params).scalars()
        return sorted(found)
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.execute(statement, params).scalars())


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
