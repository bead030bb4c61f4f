"""Group and status changes; nobody deleted, history never rewritten.

Rules: group.crossing, group.locked_after_m0.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from cohort.errors import CohortError, GroupCrossingRefused, GroupLocked, NotFound
from cohort.models import AuditEntry
from cohort.services.participants import change_group, change_status, status_history
from cohort.vocab import Group, Status
from tests.cohort.helpers import row_counts
from tests.factories import Factory


def test_comparison_cannot_cross_to_intervention(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker, group=Group.COMPARISON)
    before = row_counts(factory.session)
    with pytest.raises(GroupCrossingRefused) as refused:
        change_group(factory.session, actor=worker, code=person.code, group=Group.INTERVENTION)
    assert refused.value.rule_id == "group.crossing"
    assert row_counts(factory.session) == before
    factory.session.refresh(person)
    assert person.group is Group.COMPARISON


def test_group_is_locked_after_m0(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    factory.questionnaire(worker, person)
    before = row_counts(factory.session)
    with pytest.raises(GroupLocked) as refused:
        change_group(factory.session, actor=worker, code=person.code, group=Group.COMPARISON)
    assert refused.value.rule_id == "group.locked_after_m0"
    assert row_counts(factory.session) == before


def test_group_change_before_m0_is_audited(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    change_group(factory.session, actor=worker, code=person.code, group=Group.COMPARISON)
    entry = factory.session.exec(
        select(AuditEntry).where(AuditEntry.table_name == "participant",
                                 AuditEntry.field == "group",
                                 AuditEntry.record_id == person.id)).one()
    assert (entry.old_value, entry.new_value) == ("intervention", "comparison")


def test_status_history_lets_people_return(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    day = person.inclusion_date
    change_status(factory.session, actor=worker, code=person.code,
                  status=Status.LOST_TO_FOLLOW_UP, effective_date=day + timedelta(days=230),
                  on=factory.today)
    change_status(factory.session, actor=worker, code=person.code, status=Status.RETURNED,
                  effective_date=day + timedelta(days=350), on=factory.today)
    history = status_history(factory.session, actor=worker, code=person.code)
    assert [h.status for h in history] == [Status.ACTIVE, Status.LOST_TO_FOLLOW_UP,
                                           Status.RETURNED]
    change_status(factory.session, actor=worker, code=person.code, status=Status.DECEASED,
                  effective_date=day + timedelta(days=360), on=factory.today)
    with pytest.raises(CohortError):
        change_status(factory.session, actor=worker, code=person.code, status=Status.RETURNED,
                      effective_date=day + timedelta(days=370), on=factory.today)


def test_other_centre_participant_reads_as_unknown(factory: Factory) -> None:
    person = factory.participant(factory.worker(factory.centre("C01")))
    stranger = factory.worker(factory.centre("C02"))
    with pytest.raises(NotFound) as missing:
        change_status(factory.session, actor=stranger, code=person.code,
                      status=Status.WITHDRAWN, effective_date=factory.today, on=factory.today)
    with pytest.raises(NotFound) as unknown:
        change_status(factory.session, actor=stranger, code="C01-9999-X",
                      status=Status.WITHDRAWN, effective_date=factory.today, on=factory.today)
    assert str(missing.value).replace(person.code, "X") == str(unknown.value).replace(
        "C01-9999-X", "X")


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM participant",
        "DELETE FROM audit_entry",
        "UPDATE audit_entry SET new_value = 'rewritten'",
        "DELETE FROM status_change",
    ],
)
def test_history_cannot_be_rewritten_even_with_raw_sql(factory: Factory, statement: str) -> None:
    factory.participant()
    nested = factory.session.begin_nested()
    with pytest.raises(sa.exc.DBAPIError, match="(?i)never|append-only"):
        factory.session.execute(sa.text(statement))
    nested.rollback()
