"""The screening log: every eligibility check is kept anonymously, also refused ones
(rules enrol.*: outcome not eligible, reason = the rule id)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

from cohort.errors import NotEligible
from cohort.models import Participant, Screening, StatusChange
from cohort.services.enrolment import enrol_screened
from cohort.vocab import ScreeningOutcome
from tests.factories import Factory


def _count(session: Session, model: type) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


def test_refused_check_is_logged_and_participant_tables_untouched(factory: Factory) -> None:
    worker = factory.worker()
    session = factory.session
    before = (_count(session, Participant), _count(session, StatusChange))
    with pytest.raises(NotEligible) as refused:
        enrol_screened(session, actor=worker, data=factory.enrolment(age=16), on=factory.today)
    assert (_count(session, Participant), _count(session, StatusChange)) == before
    line = session.exec(select(Screening).order_by(Screening.id.desc())).first()  # type: ignore[union-attr]
    assert line is not None
    assert line.outcome is ScreeningOutcome.NOT_ELIGIBLE
    assert line.reason == refused.value.rule_id
    assert line.participant_id is None and line.staff_id == worker.staff_id


def test_successful_enrolment_logs_an_enrolled_line(factory: Factory) -> None:
    worker = factory.worker()
    saved = enrol_screened(factory.session, actor=worker, data=factory.enrolment(),
                           on=factory.today)
    line = factory.session.exec(
        select(Screening).where(Screening.participant_id == saved.record.id)).one()
    assert line.outcome is ScreeningOutcome.ENROLLED
