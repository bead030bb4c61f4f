"""The bulk writers refuse a batch as the one-by-one services refuse one record, naming
every refused row, and write nothing at all then; accepted batches carry the audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from cohort.errors import NotEligible, NotFound
from cohort.models import AuditEntry, Participant, Screening, SessionStaff
from cohort.services.bulk import insert_rows
from cohort.services.bulk_writes import (
    EnrolmentRow,
    RowsRefused,
    SessionRow,
    StatusRow,
    change_statuses,
    enrol_many,
    log_sessions,
)
from cohort.services.sessions import AerliSessionCreate
from cohort.vocab import Group, Modality, ScreeningOutcome, Setting, Status
from tests.cohort.helpers import row_counts
from tests.conftest import TODAY
from tests.factories import Factory


def test_enrol_many_refuses_the_batch_naming_each_ineligible_row(
        session: Session, factory: Factory) -> None:
    worker = factory.worker()
    before = row_counts(session)
    rows = [EnrolmentRow(worker, factory.enrolment()),
            EnrolmentRow(worker, factory.enrolment(age=16)),
            EnrolmentRow(worker, factory.enrolment(wish_neck_groin=True))]
    with pytest.raises(RowsRefused) as refused:
        enrol_many(session, rows, on=TODAY)
    assert [at for at, _ in refused.value.errors] == [1, 2]
    assert all(isinstance(e, NotEligible) for _, e in refused.value.errors)
    assert row_counts(session) == before


def test_enrol_many_follows_the_centre_sequence_and_audits_each_record(
        session: Session, factory: Factory) -> None:
    worker = factory.worker()
    first = factory.participant(worker)
    made = enrol_many(session, [EnrolmentRow(worker, factory.enrolment(group=g))
                                for g in (Group.INTERVENTION, Group.COMPARISON)], on=TODAY)
    assert [p.seq for p in made] == [first.seq + 1, first.seq + 2]
    for person in made:
        created = session.exec(select(AuditEntry.new_value).where(
            AuditEntry.table_name == "participant", AuditEntry.record_id == person.id,
            AuditEntry.action == "create", AuditEntry.actor_id == worker.staff_id)).all()
        assert len(created) == 1 and person.code in (created[0] or "")
        assert session.get(Participant, person.id) is not None


def test_change_statuses_reads_earlier_rows_of_the_same_batch(
        session: Session, factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    day = person.inclusion_date + timedelta(days=40)
    before = row_counts(session)
    # Deceased, then returned: refused as change_status refuses it, nothing written.
    with pytest.raises(RowsRefused) as refused:
        change_statuses(session, [
            StatusRow(worker, person.code, Status.DECEASED, day),
            StatusRow(worker, person.code, Status.RETURNED, day + timedelta(days=1))],
            on=TODAY)
    assert [at for at, _ in refused.value.errors] == [1]
    assert row_counts(session) == before
    change_statuses(session, [
        StatusRow(worker, person.code, Status.LOST_TO_FOLLOW_UP, day),
        StatusRow(worker, person.code, Status.RETURNED, day + timedelta(days=1))], on=TODAY)
    session.refresh(person)
    assert (person.status, person.version) == (Status.RETURNED, 3)
    fields = session.exec(select(AuditEntry.field).where(
        AuditEntry.table_name == "participant", AuditEntry.record_id == person.id,
        AuditEntry.action == "update")).all()
    assert sorted(f for f in fields if f) == ["status", "status", "version", "version"]


def test_log_sessions_refuses_another_centres_worker_and_flags_one_trained(
        session: Session, factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    trained, untrained = factory.staff(), factory.staff(trained=False)
    elsewhere = factory.staff(centre=factory.centre("C77"))

    def row(*staff_ids: int | None) -> SessionRow:
        return SessionRow(worker, person.code, AerliSessionCreate(
            session_date=person.inclusion_date + timedelta(days=20), setting=Setting.SQUAT,
            modality=Modality.IN_PERSON, product="1", risks=["2"], topics=["1", "5"],
            staff_ids=[i for i in staff_ids if i is not None]))

    before = row_counts(session)
    with pytest.raises(RowsRefused) as refused:
        log_sessions(session, [row(trained.id, untrained.id), row(trained.id, elsewhere.id)],
                     on=TODAY)
    assert isinstance(refused.value.errors[0][1], NotFound)
    assert row_counts(session) == before
    [saved] = log_sessions(session, [row(trained.id, untrained.id)], on=TODAY)
    assert [d.rule_id for d in saved.deviations] == ["session.trained_staff"]
    assert saved.record.counts_for_protocol is False
    links = session.exec(select(SessionStaff.staff_id).where(
        SessionStaff.session_id == saved.record.id)).all()
    assert sorted(links) == sorted([trained.id, untrained.id])
    staff_audit = session.exec(select(AuditEntry).where(
        AuditEntry.table_name == "aerli_session", AuditEntry.record_id == saved.record.id,
        col(AuditEntry.field) == "staff_ids")).all()
    assert len(staff_audit) == 1


def test_rows_inserted_in_bulk_get_their_own_ids_and_read_back_as_written(
        session: Session, factory: Factory) -> None:
    """``insert_rows`` gives each record the id of its own row (on SQLite the ids are
    sorted rather than one INSERT sent per row), and the record holds what ``Model(...)``
    would hold."""
    worker = factory.worker()
    centre_id = factory.centre().id
    assert centre_id is not None and worker.staff_id is not None
    rows = [{"screened_on": TODAY - timedelta(days=i), "centre_id": centre_id,
             "staff_id": worker.staff_id, "outcome": ScreeningOutcome.DECLINED,
             "reason": f"row {i}", "reached_via": Modality.IN_PERSON} for i in range(2500)]
    made = insert_rows(session, Screening, rows)
    assert len({s.id for s in made}) == len(rows)
    for record, row in zip(made, rows, strict=True):
        assert record.model_dump(exclude={"id", "created_at"}) == Screening(
            **row).model_dump(exclude={"id", "created_at"})
    stored = {s.id: s.reason for s in session.exec(select(Screening).where(
        col(Screening.id).in_([s.id for s in made])))}
    assert [stored[s.id] for s in made] == [row["reason"] for row in rows]
