"""Enrolment and screening on both backends.

Rules: enrol.under_18, enrol.no_recent_injection, enrol.high_risk_site, enrol.no_consent,
enrol.inclusion_in_future,
scope.other_centre, scope.role.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from cohort.codes import is_valid_code
from cohort.errors import ActionNotAllowed, NotEligible, OutsideCentreScope
from cohort.models import AuditEntry, Screening, StatusChange
from cohort.services.enrolment import ScreeningCreate, enrol, log_screening
from cohort.vocab import Role, ScreeningOutcome, Status
from tests.cohort.helpers import row_counts
from tests.factories import Factory


def test_enrolment_writes_participant_status_screening_and_audit(factory: Factory) -> None:
    worker = factory.worker(factory.centre("C04"))
    saved = enrol(factory.session, actor=worker, data=factory.enrolment(), on=factory.today)
    person = saved.record
    assert person.code.startswith("C04-0001-") and is_valid_code(person.code)
    assert person.status is Status.ACTIVE and not saved.deviations
    history = factory.session.exec(
        select(StatusChange).where(StatusChange.participant_id == person.id)).all()
    assert [h.status for h in history] == [Status.ACTIVE]
    screening = factory.session.exec(
        select(Screening).where(Screening.participant_id == person.id)).one()
    assert screening.outcome is ScreeningOutcome.ENROLLED
    audited = factory.session.exec(
        select(AuditEntry.table_name).where(AuditEntry.actor_id == worker.staff_id)).all()
    assert {"participant", "status_change", "screening"} <= set(audited)
    second = enrol(factory.session, actor=worker, data=factory.enrolment(), on=factory.today)
    assert second.record.code.startswith("C04-0002-")


@pytest.mark.parametrize(
    ("overrides", "rule_id"),
    [
        ({"age": 17}, "enrol.under_18"),
        ({"injected_past_month": False}, "enrol.no_recent_injection"),
        ({"wish_neck_groin": True}, "enrol.high_risk_site"),
        ({"consent": False, "consent_date": None}, "enrol.no_consent"),
    ],
)
def test_ineligible_enrolment_is_refused_and_nothing_written(
    factory: Factory, overrides: dict[str, object], rule_id: str
) -> None:
    worker = factory.worker()
    before = row_counts(factory.session)
    with pytest.raises(NotEligible) as refused:
        enrol(factory.session, actor=worker, data=factory.enrolment(**overrides),
              on=factory.today)
    assert refused.value.rule_id == rule_id
    assert row_counts(factory.session) == before


def test_worker_cannot_enrol_for_another_centre(factory: Factory) -> None:
    worker = factory.worker(factory.centre("C01"))
    factory.centre("C02")
    before = row_counts(factory.session)
    with pytest.raises(OutsideCentreScope) as refused:
        enrol(factory.session, actor=worker, data=factory.enrolment(centre_code="C02"),
              on=factory.today)
    assert refused.value.rule_id == "scope.other_centre"
    assert row_counts(factory.session) == before


def test_statistician_cannot_enrol(factory: Factory) -> None:
    stat = factory.actor(factory.staff(role=Role.STATISTICIAN, national=True))
    factory.centre("C01")
    before = row_counts(factory.session)
    with pytest.raises(ActionNotAllowed):
        enrol(factory.session, actor=stat, data=factory.enrolment(centre_code="C01"),
              on=factory.today)
    assert row_counts(factory.session) == before


def test_screening_log_keeps_refusals_anonymously(factory: Factory) -> None:
    worker = factory.worker()
    screening = log_screening(factory.session, actor=worker, data=ScreeningCreate(
        screened_on=factory.today, outcome=ScreeningOutcome.NOT_ELIGIBLE,
        reason="enrol.under_18"))
    assert screening.id is not None and screening.participant_id is None
    columns = set(Screening.model_fields)
    assert not columns & {"name", "first_name", "birth_date", "phone", "email", "address"}


def test_inclusion_in_the_future_is_refused_as_such_and_nothing_written(
    factory: Factory,
) -> None:
    """enrol.inclusion_in_future: reported as a future date, not as missing consent."""
    from cohort.errors import DateInFuture

    worker = factory.worker()
    later = factory.today + timedelta(days=2)
    before = row_counts(factory.session)
    with pytest.raises(DateInFuture) as refused:
        enrol(factory.session, actor=worker,
              data=factory.enrolment(inclusion_date=later, consent_date=later),
              on=factory.today)
    assert refused.value.rule_id == "enrol.inclusion_in_future"
    assert row_counts(factory.session) == before


def test_codes_do_not_run_out_at_the_ten_thousandth_participant(factory: Factory) -> None:
    """Issue 11 class 8: the 10,000th participant of a centre gets a five-digit code; once
    the 99,999 codes are used, a plain refusal (nothing written), never a ValueError."""
    from cohort.codes import MAX_SEQUENCE, make_code
    from cohort.errors import CohortError

    worker = factory.worker(factory.centre("C09"))
    first = factory.participant(worker)
    first.seq, first.code = 9999, make_code("C09", 9999)
    factory.session.add(first)
    factory.session.commit()
    person = factory.participant(worker)
    assert person.code == make_code("C09", 10_000) and is_valid_code(person.code)
    assert person.code.startswith("C09-10000-")
    person.seq, person.code = MAX_SEQUENCE, make_code("C09", MAX_SEQUENCE)
    factory.session.add(person)
    factory.session.commit()
    before = row_counts(factory.session)
    with pytest.raises(CohortError, match="has used all 99,999 study codes"):
        factory.participant(worker)
    assert row_counts(factory.session) == before
