"""Correcting a logged AERLI session (issue 15 B3): audited old -> new with the reason, the
soft rules evaluated again, a deviation that no longer applies cleared naming why, one
that now applies raised, and nothing written when the correction is refused.

Rules: session.trained_staff, session.not_in_person, date.in_future, scope.other_centre.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from cohort.errors import CohortError, DateInFuture, NotFound
from cohort.models import AerliSession, AuditEntry, Deviation
from cohort.services.session_corrections import correct_session
from cohort.services.sessions import AerliSessionCreate, session_staff_ids
from cohort.vocab import DeviationStatus, Modality, Setting
from tests.cohort.helpers import row_counts
from tests.factories import Factory


def _as_logged(record: AerliSession, staff_ids: list[int], **changes: object
               ) -> AerliSessionCreate:
    data = AerliSessionCreate.model_validate({
        "session_date": record.session_date, "setting": record.setting,
        "modality": record.modality, "product": record.product,
        "injection_site": record.injection_site, "risks": record.risks,
        "topics": record.topics, "note": record.note, "staff_ids": staff_ids})
    return data.model_copy(update=changes)


def _audit(factory: Factory, record_id: int) -> dict[str, tuple[str | None, str | None]]:
    rows = factory.session.exec(select(AuditEntry).where(
        AuditEntry.table_name == "aerli_session", AuditEntry.record_id == record_id,
        AuditEntry.action == "update").order_by(col(AuditEntry.id))).all()
    return {r.field or "": (r.old_value, r.new_value) for r in rows}


def test_adding_the_forgotten_second_worker_clears_the_flag(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    first, second = factory.staff(), factory.staff()
    logged = factory.aerli_session(worker, person, staff=[first])
    record = logged.record
    assert not record.counts_for_protocol
    assert [d.rule_id for d in logged.deviations] == ["session.trained_staff"]

    done = correct_session(factory.session, actor=worker, session_id=record.id or 0,
                           data=_as_logged(record, [first.id or 0, second.id or 0]),
                           reason="Second worker forgotten when it was logged",
                           on=factory.today)

    assert done.record.counts_for_protocol and done.raised == []
    assert session_staff_ids(factory.session, record.id or 0) == sorted(
        [first.id or 0, second.id or 0])
    [cleared] = done.cleared
    stored = factory.session.get(Deviation, cleared.id)
    assert stored is not None and stored.status is DeviationStatus.RESOLVED
    assert stored.resolved_by == worker.staff_id
    comment = stored.resolution_comment or ""
    assert "2 AERLI-trained workers now listed as present" in comment
    assert "Second worker forgotten" in comment
    audit = _audit(factory, record.id or 0)
    assert audit["staff_ids"] == (str([first.id]), str(sorted([first.id, second.id])))
    assert audit["counts_for_protocol"] == ("False", "True")
    assert audit["correction_reason"] == (None, "Second worker forgotten when it was logged")


def test_a_correction_that_breaks_a_rule_raises_it(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    pair = [factory.staff(), factory.staff()]
    record = factory.aerli_session(worker, person, staff=pair).record
    assert record.counts_for_protocol
    done = correct_session(factory.session, actor=worker, session_id=record.id or 0,
                           data=_as_logged(record, [s.id or 0 for s in pair],
                                           modality=Modality.PHONE,
                                           setting=Setting.OTHER_OFF_SITE),
                           reason="It was a phone call", on=factory.today)
    assert [d.rule_id for d in done.raised] == ["session.not_in_person"]
    assert not done.record.counts_for_protocol and done.cleared == []
    assert _audit(factory, record.id or 0)["modality"] == ("in_person", "phone")
    # Corrected back: the flag is cleared, naming the modality; its history is kept.
    back = correct_session(factory.session, actor=worker, session_id=record.id or 0,
                           data=_as_logged(record, [s.id or 0 for s in pair],
                                           modality=Modality.IN_PERSON),
                           reason="Typed the wrong line", on=factory.today)
    assert "now recorded as held in person" in (back.cleared[0].resolution_comment or "")
    assert back.record.counts_for_protocol


def test_refused_corrections_write_nothing(factory: Factory) -> None:
    worker = factory.worker(factory.centre("C01"))
    person = factory.participant(worker)
    pair = [factory.staff(), factory.staff()]
    record = factory.aerli_session(worker, person, staff=pair).record
    ids = [s.id or 0 for s in pair]
    outsider = factory.worker(factory.centre("C02"))
    before = row_counts(factory.session)
    with pytest.raises(CohortError, match="reason"):
        correct_session(factory.session, actor=worker, session_id=record.id or 0,
                        data=_as_logged(record, ids, modality=Modality.PHONE), reason="  ")
    with pytest.raises(CohortError, match="Nothing was changed"):
        correct_session(factory.session, actor=worker, session_id=record.id or 0,
                        data=_as_logged(record, ids), reason="checking")
    with pytest.raises(DateInFuture):
        correct_session(factory.session, actor=worker, session_id=record.id or 0,
                        data=_as_logged(record, ids,
                                        session_date=factory.today + timedelta(days=1)),
                        reason="date", on=factory.today)
    with pytest.raises(NotFound):
        correct_session(factory.session, actor=outsider, session_id=record.id or 0,
                        data=_as_logged(record, ids, modality=Modality.PHONE), reason="x")
    with pytest.raises(NotFound):
        correct_session(factory.session, actor=worker, session_id=999_999,
                        data=_as_logged(record, ids), reason="x")
    factory.session.rollback()
    assert row_counts(factory.session) == before
