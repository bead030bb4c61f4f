"""Time-based rules through ``run_checks``: raised once, idempotent, cleared automatically.

Rules: time.no_session_6m, time.visit_overdue.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from cohort.models import AuditEntry, Deviation
from cohort.services.checks import run_checks
from cohort.vocab import DeviationStatus, Group, Timepoint
from tests.factories import Factory


def test_time_rules_are_raised_once_and_cleared_when_resolved(factory: Factory) -> None:
    worker = factory.worker()
    inclusion = factory.today - timedelta(days=240)
    person = factory.participant(worker, inclusion_date=inclusion)
    factory.questionnaire(worker, person)
    comparison = factory.participant(worker, inclusion_date=inclusion, group=Group.COMPARISON)
    factory.questionnaire(worker, comparison)

    first = run_checks(factory.session, as_of=factory.today)
    assert first.by_rule() == {"time.no_session_6m": 1, "time.visit_overdue": 2}
    assert {d.participant_id for d in first.raised if d.rule_id == "time.no_session_6m"} == {
        person.id}
    again = run_checks(factory.session, as_of=factory.today)
    assert again.raised == [] and again.auto_resolved == 0

    factory.questionnaire(worker, person, Timepoint.M6,
                          visit_date=factory.today - timedelta(days=1))
    third = run_checks(factory.session, as_of=factory.today)
    assert third.raised == [] and third.auto_resolved == 1
    overdue = factory.session.exec(select(Deviation).where(
        Deviation.rule_id == "time.visit_overdue", Deviation.participant_id == person.id)).one()
    assert overdue.status is DeviationStatus.RESOLVED
    assert "automatically" in (overdue.resolution_comment or "")


def test_a_valid_session_in_time_prevents_the_no_session_deviation(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker, inclusion_date=factory.today - timedelta(days=200))
    factory.aerli_session(worker, person)
    report = run_checks(factory.session, as_of=factory.today)
    assert "time.no_session_6m" not in report.by_rule()


def test_raised_deviations_are_in_the_audit_trail(factory: Factory) -> None:
    worker = factory.worker()
    factory.participant(worker, inclusion_date=factory.today - timedelta(days=300))
    report = run_checks(factory.session, as_of=factory.today)
    assert report.raised
    for deviation in report.raised:
        entries = factory.session.exec(select(AuditEntry).where(
            AuditEntry.table_name == "deviation", AuditEntry.record_id == deviation.id)).all()
        assert [e.action for e in entries] == ["create"]
    assert factory.session.get(Deviation, report.raised[0].id) is not None
