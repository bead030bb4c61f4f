"""Where the demo generator's records go: through the one-by-one services, or in batches.

The generator (``cohort.demo``) draws a cohort and hands each record to a writer. Both
writers apply the same rules and write the same rows, audit entries and deviations (a
test builds a demo each way and compares them); ``BatchWriter`` keeps a batch's records
and writes them at ``flush`` through the bulk services (``services.bulk_writes``,
``services.bulk.save_questionnaires``), several times faster.

What the generator needs back before the batch is written (the participant's code, and
whether a session counts for the protocol) the batch writer works out with the same
functions the services use (``check_eligible``, ``sessions.assess``); ``flush`` checks that
the codes it predicted are the ones written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from sqlmodel import Session

from cohort import rules
from cohort.errors import NotEligible
from cohort.models import Centre, Participant, Staff, utcnow
from cohort.services.bulk import QuestionnaireRow, built, save_questionnaires
from cohort.services.bulk_writes import (
    EnrolmentRow,
    ScreeningRow,
    SessionRow,
    StatusRow,
    change_statuses,
    enrol_many,
    log_screenings,
    log_sessions,
)
from cohort.services.context import Actor
from cohort.services.enrolment import (
    EnrolmentCreate,
    ScreeningCreate,
    _next_seq,
    check_eligible,
    enrol,
    log_screening,
    participant_values,
)
from cohort.services.participants import change_status
from cohort.services.questionnaires import save_questionnaire
from cohort.services.sessions import AerliSessionCreate, assess, log_session
from cohort.vocab import Status, Timepoint


class DemoWriter(Protocol):
    """What the generator writes; ``deviations`` counts those raised so far by rule."""

    deviations: Counter[str]

    def refused(self, actor: Actor, data: EnrolmentCreate) -> NotEligible | None: ...

    def screening(self, actor: Actor, data: ScreeningCreate) -> None: ...

    def enrol(self, actor: Actor, centre: Centre, data: EnrolmentCreate) -> Participant: ...

    def questionnaire(self, actor: Actor, code: str, timepoint: Timepoint,
                      answers: Mapping[str, Any]) -> None: ...

    def session(self, actor: Actor, participant: Participant, staff: Sequence[Staff],
                data: AerliSessionCreate) -> bool: ...

    def status(self, actor: Actor, code: str, status: Status, effective_date: date,
               reason: str) -> None: ...

    def flush(self) -> None: ...


def _count(counter: Counter[str], deviations: Sequence[Any]) -> None:
    for d in deviations:
        counter[d.rule_id] += 1


@dataclass
class OneByOneWriter:
    """Every record through its one-by-one service, at once."""

    db: Session
    on: date
    deviations: Counter[str] = field(default_factory=Counter)

    def refused(self, actor: Actor, data: EnrolmentCreate) -> NotEligible | None:
        try:
            enrol(self.db, actor=actor, data=data, on=self.on)
        except NotEligible as refusal:
            return refusal
        return None

    def screening(self, actor: Actor, data: ScreeningCreate) -> None:
        log_screening(self.db, actor=actor, data=data)

    def enrol(self, actor: Actor, centre: Centre, data: EnrolmentCreate) -> Participant:
        return enrol(self.db, actor=actor, data=data, on=self.on).record

    def questionnaire(self, actor: Actor, code: str, timepoint: Timepoint,
                      answers: Mapping[str, Any]) -> None:
        saved = save_questionnaire(self.db, actor=actor, code=code, timepoint=timepoint,
                                   answers=answers, on=self.on)
        _count(self.deviations, saved.deviations)

    def session(self, actor: Actor, participant: Participant, staff: Sequence[Staff],
                data: AerliSessionCreate) -> bool:
        saved = log_session(self.db, actor=actor, code=participant.code, data=data,
                            on=self.on)
        _count(self.deviations, saved.deviations)
        return saved.record.counts_for_protocol

    def status(self, actor: Actor, code: str, status: Status, effective_date: date,
               reason: str) -> None:
        change_status(self.db, actor=actor, code=code, status=status,
                      effective_date=effective_date, reason=reason, on=self.on)

    def flush(self) -> None:
        return None


@dataclass
class BatchWriter:
    """Keeps a batch's records and writes them, table by table, at ``flush``."""

    db: Session
    on: date
    deviations: Counter[str] = field(default_factory=Counter)
    screenings: list[ScreeningRow] = field(default_factory=list)
    enrolments: list[EnrolmentRow] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    questionnaires: list[QuestionnaireRow] = field(default_factory=list)
    sessions: list[SessionRow] = field(default_factory=list)
    statuses: list[StatusRow] = field(default_factory=list)
    next_seq: dict[int, int] = field(default_factory=dict)
    #: A fixed timestamp for predicted participants (never written: enrol_many writes).
    now: datetime = field(default_factory=utcnow)

    def refused(self, actor: Actor, data: EnrolmentCreate) -> NotEligible | None:
        try:
            check_eligible(data, self.on)
        except NotEligible as refusal:
            return refusal
        return None

    def screening(self, actor: Actor, data: ScreeningCreate) -> None:
        self.screenings.append(ScreeningRow(actor, data))

    def enrol(self, actor: Actor, centre: Centre, data: EnrolmentCreate) -> Participant:
        """The participant as ``enrol_many`` will write it (its code predicted from the
        centre's sequence); not written yet."""
        assert centre.id is not None  # noqa: S101
        seq = self.next_seq.get(centre.id) or _next_seq(self.db, centre)
        self.next_seq[centre.id] = seq + 1
        self.enrolments.append(EnrolmentRow(actor, data))
        person = built(Participant, participant_values(data, centre, seq, actor,
                                                       created_at=self.now))
        self.codes.append(person.code)
        return person

    def questionnaire(self, actor: Actor, code: str, timepoint: Timepoint,
                      answers: Mapping[str, Any]) -> None:
        self.questionnaires.append(QuestionnaireRow(code, timepoint, answers, actor=actor))

    def session(self, actor: Actor, participant: Participant, staff: Sequence[Staff],
                data: AerliSessionCreate) -> bool:
        """Kept for the batch; whether it will count for the protocol, judged as
        ``log_session`` judges it."""
        self.sessions.append(SessionRow(actor, participant.code, data))
        known = {s.id: s for s in staff if s.id is not None}
        # The soft rules read the date, modality, site and workers, which the dictionary's
        # check (``checked``, run again by the writer) leaves as they are.
        _, findings = assess(self.db, participant, data, known)
        return not rules.disqualifies_session(findings)

    def status(self, actor: Actor, code: str, status: Status, effective_date: date,
               reason: str) -> None:
        self.statuses.append(StatusRow(actor, code, status, effective_date, reason))

    def flush(self) -> None:
        """Write the batch: screenings, enrolments, questionnaires, sessions, statuses."""
        log_screenings(self.db, self.screenings)
        written = enrol_many(self.db, self.enrolments, on=self.on)
        if [p.code for p in written] != self.codes:  # pragma: no cover (one writer)
            raise RuntimeError("the demo's participant codes changed while it was writing")
        # The batch's rows are about the people it has just enrolled, as they were written.
        people = {p.code: p for p in written}
        if self.questionnaires:
            saved = save_questionnaires(self.db, actor=self.questionnaires[0].actor
                                        or _no_actor(), rows=self.questionnaires,
                                        on=self.on, skip_identical=False, known_people=people)
            _count(self.deviations, saved.deviations)
        for one in log_sessions(self.db, self.sessions, on=self.on, known_people=people):
            _count(self.deviations, one.deviations)
        change_statuses(self.db, self.statuses, on=self.on)
        self.screenings, self.enrolments, self.codes = [], [], []
        self.questionnaires, self.sessions, self.statuses = [], [], []
        # ``next_seq`` is kept: the codes written were the ones predicted (checked above),
        # so each centre's next number is still the one it holds.


def _no_actor() -> Actor:  # pragma: no cover (every row names its actor)
    raise RuntimeError("a demo questionnaire without its actor")
