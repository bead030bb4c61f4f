"""AERLI sessions: saved and flagged by the soft rules.

Rules: session.comparison_group, session.trained_staff, session.not_in_person,
session.high_risk_site, session.after_follow_up, date.before_inclusion, date.in_future.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from cohort.errors import DateBeforeInclusion, DateInFuture
from cohort.models import AerliSession, Deviation
from cohort.services.sessions import session_staff_ids
from cohort.vocab import DeviationStatus, Group, Modality
from tests.cohort.helpers import row_counts
from tests.factories import Factory


def test_on_protocol_session_counts_and_raises_nothing(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    pair = [factory.staff(), factory.staff()]
    saved = factory.aerli_session(worker, person, staff=pair)
    assert saved.record.counts_for_protocol and not saved.deviations
    assert session_staff_ids(factory.session, saved.record.id or 0) == sorted(
        s.id for s in pair if s.id)


@pytest.mark.parametrize(
    ("setup", "rule_id", "counts"),
    [
        ({"group": Group.COMPARISON}, "session.comparison_group", False),
        ({"untrained": True}, "session.trained_staff", False),
        ({"modality": Modality.PHONE}, "session.not_in_person", False),
        ({"injection_site": "groin"}, "session.high_risk_site", True),
        ({"after_follow_up": True}, "session.after_follow_up", False),
    ],
)
def test_soft_rule_saves_the_session_and_raises_a_deviation(
    factory: Factory, setup: dict[str, Any], rule_id: str, counts: bool
) -> None:
    setup = dict(setup)  # the parameter dict is shared by both database backends
    worker = factory.worker()
    person = factory.participant(worker, group=setup.pop("group", Group.INTERVENTION),
                                 inclusion_date=factory.today - timedelta(days=500))
    staff = [factory.staff(), factory.staff(trained=not setup.pop("untrained", False))]
    if setup.pop("after_follow_up", False):
        setup["session_date"] = person.inclusion_date + timedelta(days=365 + 50)
    before = row_counts(factory.session)
    saved = factory.aerli_session(worker, person, staff=staff, **setup)
    assert saved.record.id is not None
    assert [d.rule_id for d in saved.deviations] == [rule_id]
    assert saved.record.counts_for_protocol is counts
    after = row_counts(factory.session)
    assert after["aerli_session"] == before["aerli_session"] + 1
    assert after["deviation"] == before["deviation"] + 1
    stored = factory.session.exec(select(Deviation).where(Deviation.rule_id == rule_id)).one()
    assert stored.status is DeviationStatus.OPEN and stored.entity == "aerli_session"


def test_session_trained_after_the_session_date_does_not_count_as_trained(
    factory: Factory,
) -> None:
    worker = factory.worker()
    # The factory trains staff on 2024-01-15: this session is before that date.
    person = factory.participant(worker, inclusion_date=factory.today - timedelta(days=1100))
    pair = [factory.staff(), factory.staff()]
    assert person.inclusion_date + timedelta(days=10) < pair[0].aerli_trained_on
    saved = factory.aerli_session(worker, person, staff=pair,
                                  session_date=person.inclusion_date + timedelta(days=10))
    assert [d.rule_id for d in saved.deviations] == ["session.trained_staff"]


@pytest.mark.parametrize(("offset", "error"), [(-1, DateBeforeInclusion), (None, DateInFuture)])
def test_session_dates_are_hard_rules(factory: Factory, offset: int | None,
                                      error: type[Exception]) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    when = (person.inclusion_date + timedelta(days=offset) if offset is not None
            else factory.today + timedelta(days=1))
    pair = [factory.staff(), factory.staff()]
    before = row_counts(factory.session)
    with pytest.raises(error):
        factory.aerli_session(worker, person, staff=pair, session_date=when)
    assert row_counts(factory.session) == before
    assert factory.session.exec(select(AerliSession)).first() is None
