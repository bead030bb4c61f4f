"""Time-based rules through ``run_checks``: raised once, idempotent, cleared automatically
only for a reason found in the data, raised again when the condition returns.

Rules: time.no_session_6m, time.visit_overdue.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from cohort.errors import FutureCheckDate
from cohort.models import AuditEntry, Deviation
from cohort.services.checks import run_checks
from cohort.services.deviations import review
from cohort.services.participants import change_status
from cohort.vocab import DeviationStatus, Group, Role, Status, Timepoint
from tests.cohort.helpers import row_counts
from tests.factories import Factory


def _time_deviations(factory: Factory) -> list[Deviation]:
    factory.session.expire_all()
    return list(factory.session.exec(
        select(Deviation).where(Deviation.severity == "time").order_by(Deviation.id)).all())


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

    factory.questionnaire(worker, person, Timepoint("M6"),
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


def test_a_past_as_of_date_never_clears_what_is_still_true(factory: Factory) -> None:
    """time.visit_overdue, time.no_session_6m: looking back is not a reason to resolve."""
    worker = factory.worker()
    person = factory.participant(worker, inclusion_date=factory.today - timedelta(days=300))
    factory.questionnaire(worker, person)
    today = run_checks(factory.session, as_of=factory.today, today=factory.today)
    assert today.by_rule() == {"time.no_session_6m": 1, "time.visit_overdue": 1}

    looking_back = run_checks(factory.session, as_of=factory.today - timedelta(days=200),
                              today=factory.today)
    assert looking_back.auto_resolved == 0 and looking_back.raised == []
    assert {d.status for d in _time_deviations(factory)} == {DeviationStatus.OPEN}
    again = run_checks(factory.session, as_of=factory.today, today=factory.today)
    assert again.raised == [] and again.auto_resolved == 0


def test_a_past_as_of_date_raises_what_was_already_late_then(factory: Factory) -> None:
    """time.visit_overdue: the M6 window closed before the as-of date, still not entered."""
    worker = factory.worker()
    person = factory.participant(worker, inclusion_date=factory.today - timedelta(days=300))
    factory.questionnaire(worker, person)
    report = run_checks(factory.session, as_of=factory.today - timedelta(days=60),
                        today=factory.today)
    assert report.by_rule() == {"time.no_session_6m": 1, "time.visit_overdue": 1}


def test_an_as_of_date_in_the_future_is_refused_and_nothing_written(factory: Factory) -> None:
    """time.visit_overdue must not be raised before the window has closed."""
    worker = factory.worker()
    person = factory.participant(worker, inclusion_date=factory.today - timedelta(days=200))
    factory.questionnaire(worker, person)
    before = row_counts(factory.session)
    with pytest.raises(FutureCheckDate, match="in the future"):
        run_checks(factory.session, as_of=factory.today + timedelta(days=60),
                   today=factory.today)
    assert row_counts(factory.session) == before


def test_a_cleared_deviation_is_raised_again_when_its_condition_returns(
    factory: Factory,
) -> None:
    """time.visit_overdue: withdrawn (cleared, with the reason), then back (raised again)."""
    worker = factory.worker()
    person = factory.participant(worker, inclusion_date=factory.today - timedelta(days=260),
                                 group=Group.COMPARISON)
    factory.questionnaire(worker, person)
    first = run_checks(factory.session, as_of=factory.today, today=factory.today)
    assert first.by_rule() == {"time.visit_overdue": 1}

    change_status(factory.session, actor=worker, code=person.code, status=Status.WITHDRAWN,
                  effective_date=factory.today - timedelta(days=5), on=factory.today)
    cleared = run_checks(factory.session, as_of=factory.today, today=factory.today)
    assert cleared.auto_resolved == 1 and cleared.raised == []
    [old] = _time_deviations(factory)
    assert old.status is DeviationStatus.RESOLVED and old.resolved_by is None
    assert "no longer followed" in (old.resolution_comment or "")

    change_status(factory.session, actor=worker, code=person.code, status=Status.RETURNED,
                  effective_date=factory.today - timedelta(days=1), on=factory.today)
    back = run_checks(factory.session, as_of=factory.today, today=factory.today)
    assert back.by_rule() == {"time.visit_overdue": 1} and back.auto_resolved == 0
    rows = _time_deviations(factory)
    assert [d.status for d in rows] == [DeviationStatus.RESOLVED, DeviationStatus.OPEN]
    assert rows[0].dedupe_key == rows[1].dedupe_key
    idempotent = run_checks(factory.session, as_of=factory.today, today=factory.today)
    assert idempotent.raised == [] and idempotent.auto_resolved == 0


def test_a_deviation_resolved_by_a_research_officer_is_not_reopened(factory: Factory) -> None:
    """time.no_session_6m: the officer's resolution is the decision; the check keeps it."""
    worker = factory.worker()
    officer = factory.actor(factory.staff(role=Role.RESEARCH_OFFICER, national=True))
    person = factory.participant(worker, inclusion_date=factory.today - timedelta(days=220))
    factory.questionnaire(worker, person)
    [raised] = run_checks(factory.session, as_of=factory.today, today=factory.today).raised
    assert raised.id is not None and raised.rule_id == "time.no_session_6m"
    review(factory.session, actor=officer, deviation_id=raised.id,
           status=DeviationStatus.RESOLVED, comment="Sessions offered; person prefers later.")
    again = run_checks(factory.session, as_of=factory.today, today=factory.today)
    assert again.raised == [] and again.auto_resolved == 0
    assert len(_time_deviations(factory)) == 1


def test_a_valid_session_entered_late_clears_the_no_session_deviation(
    factory: Factory,
) -> None:
    """time.no_session_6m: cleared automatically, saying why, once the session is logged."""
    worker = factory.worker()
    person = factory.participant(worker, inclusion_date=factory.today - timedelta(days=220))
    factory.questionnaire(worker, person)
    run_checks(factory.session, as_of=factory.today, today=factory.today)
    factory.aerli_session(worker, person)
    report = run_checks(factory.session, as_of=factory.today, today=factory.today)
    assert report.auto_resolved == 1
    [deviation] = _time_deviations(factory)
    assert deviation.status is DeviationStatus.RESOLVED
    assert "valid session" in (deviation.resolution_comment or "")


def test_two_unresolved_deviations_with_one_key_are_refused_by_the_database(
    factory: Factory,
) -> None:
    """The partial unique index keeps one open deviation per key, whoever writes."""
    worker = factory.worker()
    person = factory.participant(worker, inclusion_date=factory.today - timedelta(days=300))
    factory.questionnaire(worker, person)
    [first, *_] = run_checks(factory.session, as_of=factory.today, today=factory.today).raised
    copy = Deviation(rule_id=first.rule_id, severity=first.severity, entity=first.entity,
                     record_id=first.record_id, participant_id=first.participant_id,
                     centre_id=first.centre_id, message=first.message,
                     dedupe_key=first.dedupe_key)
    nested = factory.session.begin_nested()
    factory.session.add(copy)
    with pytest.raises(sa.exc.IntegrityError):
        factory.session.flush()
    nested.rollback()
