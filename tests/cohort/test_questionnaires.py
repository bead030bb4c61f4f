"""Questionnaires: dictionary validation, hard date/duplicate rules, windows, concurrency.

Rules: visit.duplicate, date.before_inclusion, date.in_future, visit.out_of_window,
scope.other_centre.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from cohort.errors import (
    DateBeforeInclusion,
    DateInFuture,
    DuplicateTimepoint,
    NotFound,
    StaleVersion,
    ValidationFailed,
)
from cohort.models import AuditEntry, Deviation
from cohort.services.questionnaires import save_questionnaire, update_questionnaire
from cohort.vocab import Timepoint
from tests.cohort.helpers import row_counts
from tests.factories import Factory, questionnaire_answers


def test_m0_is_saved_normalised_with_calcs_and_audit(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    saved = factory.questionnaire(worker, person)
    q = saved.record
    assert not saved.deviations and q.in_window and q.version == 1
    assert q.answers["share_cooker"] == "1" and q.answers["products"] == ["1", "5"]
    assert q.answers["years_injecting"] == 8
    assert q.answers["any_risk_practice"] == 1 and q.answers["any_complication"] == 1
    assert 0.9 <= q.completeness <= 1.0
    created = factory.session.exec(select(AuditEntry).where(
        AuditEntry.table_name == "questionnaire", AuditEntry.record_id == q.id)).all()
    assert [e.action for e in created] == ["create"]


def test_second_questionnaire_for_same_timepoint_is_refused(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    factory.questionnaire(worker, person)
    before = row_counts(factory.session)
    with pytest.raises(DuplicateTimepoint) as refused:
        factory.questionnaire(worker, person)
    assert refused.value.rule_id == "visit.duplicate"
    assert row_counts(factory.session) == before


def test_visit_before_inclusion_is_refused(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    before = row_counts(factory.session)
    with pytest.raises(DateBeforeInclusion) as refused:
        factory.questionnaire(worker, person,
                              visit_date=person.inclusion_date - timedelta(days=1))
    assert refused.value.rule_id == "date.before_inclusion"
    assert row_counts(factory.session) == before


def test_visit_in_the_future_is_refused(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker, inclusion_date=factory.today - timedelta(days=30))
    before = row_counts(factory.session)
    with pytest.raises(DateInFuture) as refused:
        factory.questionnaire(worker, person, visit_date=factory.today + timedelta(days=1))
    assert refused.value.rule_id == "date.in_future"
    assert row_counts(factory.session) == before


def test_invalid_answers_list_every_problem_and_write_nothing(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    before = row_counts(factory.session)
    with pytest.raises(ValidationFailed) as failed:
        factory.questionnaire(worker, person, inj_freq="9", years_injecting="many",
                              hcv_test_ever="0", hcv_last_result="2")
    fields = {p.field for p in failed.value.problems}
    assert {"inj_freq", "years_injecting", "hcv_last_result"} <= fields
    assert all(p.message for p in failed.value.problems)
    assert row_counts(factory.session) == before


def test_out_of_window_visit_is_saved_and_flagged(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    factory.questionnaire(worker, person)
    late = person.inclusion_date + timedelta(days=182 + 60)
    saved = factory.questionnaire(worker, person, Timepoint("M6"), visit_date=late)
    assert saved.record.id is not None and not saved.record.in_window
    assert [d.rule_id for d in saved.deviations] == ["visit.out_of_window"]
    stored = factory.session.exec(select(Deviation).where(
        Deviation.record_id == saved.record.id, Deviation.entity == "questionnaire")).one()
    assert stored.participant_id == person.id and person.code in stored.message


def test_update_with_stale_version_overwrites_nothing(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    q = factory.questionnaire(worker, person).record
    answers = questionnaire_answers(q.visit_date, share_cooker="0")
    updated = update_questionnaire(factory.session, actor=worker, code=person.code,
                                   timepoint=Timepoint("M0"), answers=answers,
                                   expected_version=1, on=factory.today).record
    assert updated.version == 2 and updated.answers["share_cooker"] == "0"
    change = factory.session.exec(select(AuditEntry).where(
        AuditEntry.record_id == q.id, AuditEntry.field == "answers.share_cooker")).one()
    assert (change.old_value, change.new_value) == ("1", "0")
    before = row_counts(factory.session)
    with pytest.raises(StaleVersion) as stale:
        update_questionnaire(factory.session, actor=worker, code=person.code,
                             timepoint=Timepoint("M0"),
                             answers=questionnaire_answers(q.visit_date, share_water="1"),
                             expected_version=1, on=factory.today)
    assert stale.value.current_version == 2
    assert row_counts(factory.session) == before
    factory.session.refresh(updated)
    assert updated.answers["share_water"] == "0"


def test_another_centre_cannot_write_or_see(factory: Factory) -> None:
    person = factory.participant(factory.worker(factory.centre("C01")))
    stranger = factory.worker(factory.centre("C02"))
    before = row_counts(factory.session)
    with pytest.raises(NotFound):
        save_questionnaire(factory.session, actor=stranger, code=person.code,
                           timepoint=Timepoint("M0"), on=factory.today,
                           answers=questionnaire_answers(person.inclusion_date))
    assert row_counts(factory.session) == before
