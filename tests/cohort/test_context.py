"""Explicit context: one way to say who acts (people and system actors, recorded in the
audit trail), and one unit of work that owns the transaction and its nesting.

Rules: scope.role (a system actor writes no study data).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from cohort.errors import ActionNotAllowed
from cohort.models import AuditEntry, Centre, CentreCreate, Deviation
from cohort.rules import ProtocolConfig
from cohort.services.checks import run_checks
from cohort.services.context import (
    CHECKS,
    COMMAND_LINE,
    UnitOfWork,
    batch,
    in_batch,
    require_scope,
    system_actor,
)
from cohort.services.setup import create_centre
from tests.factories import Factory


def _centre_codes(factory: Factory) -> set[str]:
    factory.session.expire_all()
    return set(factory.session.exec(select(Centre.code)).all())


def _audit_of(factory: Factory, table: str, record_id: int) -> list[AuditEntry]:
    return list(factory.session.exec(select(AuditEntry).where(
        AuditEntry.table_name == table, AuditEntry.record_id == record_id)).all())


# --------------------------------------------------------------------------- who acts
def test_the_command_line_is_recorded_by_name_in_the_audit_trail(factory: Factory) -> None:
    centre = create_centre(factory.session, actor=COMMAND_LINE,
                           data=CentreCreate(code="C61", name="Sixty-one", city="Lyon"))
    assert centre.id is not None
    entries = _audit_of(factory, "centre", centre.id)
    assert entries
    assert {(e.actor_id, e.actor_system) for e in entries} == {(None, "command line")}


def test_a_person_is_recorded_by_staff_id_and_no_system_name(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    assert person.id is not None
    entries = _audit_of(factory, "participant", person.id)
    assert {(e.actor_id, e.actor_system) for e in entries} == {(worker.staff_id, None)}


def test_the_checks_raise_and_clear_deviations_in_their_own_name(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker, inclusion_date=factory.today - timedelta(days=240))
    factory.questionnaire(worker, person)
    report = run_checks(factory.session, as_of=factory.today)
    assert report.raised
    for deviation in report.raised:
        assert deviation.id is not None
        entries = _audit_of(factory, "deviation", deviation.id)
        assert [(e.action, e.actor_id, e.actor_system) for e in entries] == [
            ("create", None, CHECKS.system)]
    raised = factory.session.exec(select(Deviation).where(
        col(Deviation.participant_id) == person.id)).all()
    assert raised


def test_the_checks_use_the_protocol_configuration_they_are_given(factory: Factory) -> None:
    """Rule time.no_session_6m with the study's deadline, then with a longer one."""
    worker = factory.worker()
    person = factory.participant(worker, inclusion_date=factory.today - timedelta(days=240))
    factory.questionnaire(worker, person)
    longer = ProtocolConfig(session_deadline_days=300)
    assert "time.no_session_6m" not in run_checks(
        factory.session, as_of=factory.today, config=longer).by_rule()
    assert "time.no_session_6m" in run_checks(
        factory.session, as_of=factory.today).by_rule()


def test_a_system_actor_writes_no_study_data(factory: Factory) -> None:
    centre = factory.centre("C62")
    assert centre.id is not None
    with pytest.raises(ActionNotAllowed) as refused:
        require_scope(COMMAND_LINE, centre.id, session=factory.session)
    assert refused.value.rule_id == "scope.role"
    assert "--as" in refused.value.message
    assert COMMAND_LINE.audit_id is None and system_actor("x").system == "x"


# --------------------------------------------------------------------------- unit of work
def test_the_unit_of_work_rolls_back_nested_work_on_error(factory: Factory) -> None:
    session = factory.session
    before = _centre_codes(factory)
    with pytest.raises(RuntimeError), UnitOfWork(session):
        create_centre(session, actor=COMMAND_LINE,
                      data=CentreCreate(code="C71", name="Outer", city="Lyon"))
        with UnitOfWork(session):
            create_centre(session, actor=COMMAND_LINE,
                          data=CentreCreate(code="C72", name="Inner", city="Lyon"))
            raise RuntimeError("connection lost")
    assert _centre_codes(factory) == before
    assert not in_batch(session)


def test_a_failed_inner_unit_is_undone_alone_when_the_outer_one_goes_on(
        factory: Factory) -> None:
    session = factory.session
    with batch(session):
        create_centre(session, actor=COMMAND_LINE,
                      data=CentreCreate(code="C73", name="Kept", city="Lyon"))
        with pytest.raises(RuntimeError), UnitOfWork(session):
            create_centre(session, actor=COMMAND_LINE,
                          data=CentreCreate(code="C74", name="Undone", city="Lyon"))
            assert in_batch(session)
            raise RuntimeError("this row is refused")
        assert in_batch(session)
    codes = _centre_codes(factory)
    assert "C73" in codes and "C74" not in codes
    assert not in_batch(session)


def test_services_inside_a_unit_only_flush_and_the_unit_commits_once(
        factory: Factory) -> None:
    session = factory.session
    commits: list[int] = []
    real = session.commit

    def counting() -> None:
        commits.append(1)
        real()

    session.commit = counting  # type: ignore[method-assign]
    try:
        with batch(session):
            for code in ("C75", "C76", "C77"):
                create_centre(session, actor=COMMAND_LINE,
                              data=CentreCreate(code=code, name=code, city="Lyon"))
    finally:
        session.commit = real  # type: ignore[method-assign]
    assert len(commits) == 1
    assert {"C75", "C76", "C77"} <= _centre_codes(factory)
