"""Extraction and derived variables, on SQLite and PostgreSQL (records built through the
services by the shared factory)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session

from analysis.data import load_frames
from cohort.services.participants import change_status
from cohort.vocab import Group, Status, Timepoint
from tests.conftest import TODAY


@pytest.fixture
def cohort(session: Session, factory: Any) -> dict[str, Any]:
    """Four people who exercise every branch of the per-protocol rule, and two statuses."""
    centre = factory.centre("C01")
    worker = factory.worker(centre)
    start = TODAY - timedelta(days=400)
    p: dict[str, Any] = {
        "int_valid": factory.participant(worker, inclusion_date=start),
        "int_none": factory.participant(worker, inclusion_date=start),
        "int_late": factory.participant(worker, inclusion_date=start),
        "comp_clean": factory.participant(worker, inclusion_date=start, group=Group.COMPARISON),
        "comp_contaminated": factory.participant(worker, inclusion_date=start,
                                                 group=Group.COMPARISON),
    }
    for person in p.values():
        factory.questionnaire(worker, person, Timepoint("M0"))
    factory.questionnaire(worker, p["int_valid"], Timepoint("M6"), share_syringe="1")
    factory.questionnaire(worker, p["comp_clean"], Timepoint("M6"), abscess="1")
    factory.aerli_session(worker, p["int_valid"])
    factory.aerli_session(worker, p["int_late"], session_date=start + timedelta(days=250))
    factory.aerli_session(worker, p["comp_contaminated"])
    change_status(session, actor=worker, code=p["int_none"].code,
                  status=Status.LOST_TO_FOLLOW_UP, effective_date=start + timedelta(days=100),
                  on=TODAY)
    change_status(session, actor=worker, code=p["comp_clean"].code,
                  status=Status.LOST_TO_FOLLOW_UP, effective_date=start + timedelta(days=150),
                  on=TODAY)
    change_status(session, actor=worker, code=p["comp_clean"].code, status=Status.RETURNED,
                  effective_date=start + timedelta(days=170), on=TODAY)
    change_status(session, actor=worker, code=p["int_late"].code, status=Status.DECEASED,
                  effective_date=start + timedelta(days=300), on=TODAY)
    return p


def _row(data: Any, person: Any) -> Any:
    parts = data.participants.set_index("code")
    return parts.loc[person.code]


def test_per_protocol_exposure_and_contamination(session: Session, cohort: dict[str, Any]
                                                 ) -> None:
    data = load_frames(session, as_of=TODAY)
    assert len(data.participants) == 5
    expected = {  # per_protocol, contaminated, valid_session_6m
        "int_valid": (True, False, True), "int_none": (False, False, False),
        "int_late": (False, False, False), "comp_clean": (True, False, False),
        "comp_contaminated": (False, True, False),
    }
    for name, (pp, contaminated, valid) in expected.items():
        row = _row(data, cohort[name])
        assert (bool(row["per_protocol"]), bool(row["contaminated"]),
                bool(row["valid_session_6m"])) == (pp, contaminated, valid), name
    assert _row(data, cohort["int_valid"])["group_pp"] == "intervention"
    assert _row(data, cohort["comp_contaminated"])["group_itt"] == "comparison"
    assert _row(data, cohort["comp_contaminated"])["group_pp"] != "comparison"


def test_time_to_loss_to_follow_up(session: Session, cohort: dict[str, Any]) -> None:
    """A loss is dated at the close of the first visit window missed after the last
    contact (M6: day 182 + 42 = 224), not at the last contact (day 0 for everyone never
    seen after M0), or at the status's effective date when that is earlier, in every
    snapshot (it does not move once the window has closed)."""
    data = load_frames(session, as_of=TODAY)
    lost = _row(data, cohort["int_none"])  # M0 only, lost effective day 100, before day 224
    assert (lost["ltfu_event"], lost["ltfu_outcome"], lost["ltfu_days"]) == (1, 1, 100)
    early = load_frames(session, as_of=cohort["int_none"].inclusion_date + timedelta(days=150))
    assert _row(early, cohort["int_none"])["ltfu_days"] == 100
    returned = _row(data, cohort["comp_clean"])  # came back: not lost
    assert (returned["ltfu_event"], returned["ltfu_outcome"]) == (0, 0)
    # M6 done, M12 window still open on day 400: followed until the as-of date.
    assert returned["ltfu_days"] == 400
    died = _row(data, cohort["int_late"])  # death dated by its status
    assert (died["ltfu_event"], died["ltfu_outcome"], died["ltfu_days"]) == (0, 2, 300)
    active = _row(data, cohort["int_valid"])
    assert (active["ltfu_event"], active["ltfu_days"]) == (0, 400)
    # Missed M6 (window closed on day 224), still "active": censored where a loss would
    # have been dated, not at the last contact (its AERLI session on day 30).
    overdue = _row(data, cohort["comp_contaminated"])
    assert (overdue["ltfu_event"], overdue["ltfu_days"]) == (0, 224)


def test_loss_after_a_session_is_dated_at_the_next_missed_window(
        session: Session, factory: Any) -> None:
    """A session counts as contact; someone enrolled 60 days ago contributes 60 days."""
    centre = factory.centre("C02")
    worker = factory.worker(centre)
    start = TODAY - timedelta(days=300)
    lost = factory.participant(worker, inclusion_date=start)
    factory.questionnaire(worker, lost, Timepoint("M0"))
    factory.aerli_session(worker, lost, session_date=start + timedelta(days=45))
    change_status(session, actor=worker, code=lost.code, status=Status.LOST_TO_FOLLOW_UP,
                  effective_date=start + timedelta(days=260), on=TODAY)
    recent = factory.participant(worker, inclusion_date=TODAY - timedelta(days=60))
    factory.questionnaire(worker, recent, Timepoint("M0"))
    data = load_frames(session, as_of=TODAY)
    assert (_row(data, lost)["ltfu_event"], _row(data, lost)["ltfu_days"]) == (1, 224)
    assert (_row(data, recent)["ltfu_event"], _row(data, recent)["ltfu_days"]) == (0, 60)
    as_of = load_frames(session, as_of=TODAY, censor_at="as_of")
    assert _row(as_of, lost)["ltfu_days"] == 224  # the event date does not depend on it


def test_loss_definition_branches(session: Session, factory: Any) -> None:
    """Seen at M6 then lost: dated at the M12 window's close (the end of follow-up), or at
    the status's effective date when that is earlier. Nobody lost is ever an event at
    day 0, so Kaplan–Meier has no vertical drop at inclusion."""
    centre = factory.centre("C04")
    worker = factory.worker(centre)
    start = TODAY - timedelta(days=500)
    after_m6 = factory.participant(worker, inclusion_date=start)
    factory.questionnaire(worker, after_m6, Timepoint("M0"))
    factory.questionnaire(worker, after_m6, Timepoint("M6"))
    change_status(session, actor=worker, code=after_m6.code,
                  status=Status.LOST_TO_FOLLOW_UP, effective_date=start + timedelta(days=300),
                  on=TODAY)
    early = factory.participant(worker, inclusion_date=TODAY - timedelta(days=150))
    factory.questionnaire(worker, early, Timepoint("M0"))
    change_status(session, actor=worker, code=early.code, status=Status.LOST_TO_FOLLOW_UP,
                  effective_date=TODAY - timedelta(days=70), on=TODAY)
    data = load_frames(session, as_of=TODAY)
    assert (_row(data, after_m6)["ltfu_event"], _row(data, after_m6)["ltfu_days"]) == (1, 300)
    later = factory.participant(worker, inclusion_date=start)
    factory.questionnaire(worker, later, Timepoint("M0"))
    factory.questionnaire(worker, later, Timepoint("M6"))
    change_status(session, actor=worker, code=later.code, status=Status.LOST_TO_FOLLOW_UP,
                  effective_date=start + timedelta(days=450), on=TODAY)
    data = load_frames(session, as_of=TODAY)
    assert (_row(data, later)["ltfu_event"], _row(data, later)["ltfu_days"]) == (1, 365 + 42)
    assert (_row(data, early)["ltfu_event"], _row(data, early)["ltfu_days"]) == (1, 80)
    lost = data.participants[data.participants["ltfu_event"] == 1]
    assert (lost["ltfu_days"] > 0).all()


def test_long_questionnaires_with_composites_and_labels(session: Session,
                                                        cohort: dict[str, Any]) -> None:
    data = load_frames(session, as_of=TODAY)
    q = data.questionnaires
    assert len(q) == 7 and set(q["timepoint"]) == {"M0", "M6"}
    m6 = q[q["timepoint"] == "M6"].set_index("code")
    assert m6.loc[cohort["int_valid"].code, "share_syringe"] == 1
    assert m6.loc[cohort["int_valid"].code, "any_risk_practice"] == 1
    assert m6.loc[cohort["comp_clean"].code, "any_complication"] == 1
    assert m6.loc[cohort["int_valid"].code, "month"] == 6
    assert isinstance(q["products"].iloc[0], list)
    assert data.variable_labels["share_syringe"].startswith("Used a syringe")
    assert data.value_labels["share_syringe"] == {"1": "Yes", "0": "No"}
    long = data.long
    assert len(long) == 7 and {"per_protocol", "age_at_inclusion", "housing"} <= set(
        long.columns)
    assert long["housing"].notna().all()  # the baseline answer is on every visit row
    assert data.snapshot.rows["participants"] == 5
    assert "password" not in data.snapshot.database


def test_as_of_hides_later_records(session: Session, cohort: dict[str, Any]) -> None:
    early = TODAY - timedelta(days=400) + timedelta(days=120)
    data = load_frames(session, as_of=early)
    assert set(data.questionnaires["timepoint"]) == {"M0"}
    assert _row(data, cohort["int_none"])["ltfu_event"] == 1
    assert _row(data, cohort["comp_clean"])["ltfu_event"] == 0


def test_one_query_per_table(session: Session, cohort: dict[str, Any]) -> None:
    conn = session.connection()
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(conn, "before_cursor_execute", count)
    try:
        load_frames(session, as_of=TODAY)
    finally:
        event.remove(conn, "before_cursor_execute", count)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 6, selects


def test_censoring_at_the_as_of_date(session: Session, cohort: dict[str, Any]) -> None:
    data = load_frames(session, as_of=TODAY, censor_at="as_of")
    active = _row(data, cohort["int_valid"])
    assert (active["ltfu_event"], active["ltfu_days"]) == (0, 400)  # end of M12 window: 407
    assert _row(data, cohort["int_none"])["ltfu_days"] == 100  # lost: effective day 100
    assert _row(data, cohort["comp_contaminated"])["ltfu_days"] == 400  # overdue, not lost
    with pytest.raises(ValueError, match="unknown censoring rule"):
        load_frames(session, as_of=TODAY, censor_at="never")


def test_per_visit_window_widths_set_the_end_of_follow_up(session: Session,
                                                          factory: Any) -> None:
    """The last visit's own half-width (not the common ``window_days``) decides where
    follow-up ends: someone seen at M0, M6 and M12 and still active is followed until
    the M12 window closes, day 365 + its own half-width."""
    from cohort.rules import ProtocolConfig
    from tests.factories import config_with

    centre = factory.centre("C03")
    worker = factory.worker(centre)
    done = factory.participant(worker, inclusion_date=TODAY - timedelta(days=500))
    for tp in (Timepoint("M0"), Timepoint("M6"), Timepoint("M12")):
        factory.questionnaire(worker, done, tp)
    default = load_frames(session, as_of=TODAY, config=ProtocolConfig())
    wider = load_frames(session, as_of=TODAY,
                        config=config_with(visit_window_days={"M6": 10, "M12": 60}))
    assert _row(default, done)["ltfu_days"] == 365 + 42
    assert _row(wider, done)["ltfu_days"] == 365 + 60
