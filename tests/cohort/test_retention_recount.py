"""The retention figures summed from cells (``retention_recount``), from scratch and after
some cells were counted again, are what the grouped SQL of the summary and breakdown
gives, on random cohorts whose inclusion dates fall on and around every window edge."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from cohort.models import AerliSession, Centre, Deviation, Participant, Questionnaire, Staff
from cohort.services import retention_cache
from cohort.services.context import Actor, protocol_config
from cohort.services.monitoring import centre_status
from cohort.services.retention_cache import Figures
from cohort.services.retention_groups import Sums, grouped_rows, retention_breakdown
from cohort.vocab import (
    DeviationStatus,
    Gender,
    Group,
    Modality,
    Role,
    Setting,
    Severity,
    Status,
    Timepoint,
)


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(sa.insert(model.__table__), rows)


def _random_cohort(session: Session, rng: random.Random, as_of: date) -> list[int]:
    """Four centres (one with nobody), participants included on each window's edges and
    in between, every status, questionnaires in and out of their window (and one of a
    timepoint the schedule does not know), sessions that count or not, deviations."""
    now = datetime.now(UTC)
    schedule = protocol_config().schedule
    edges = [0, 1, 400, 800]
    for visit in schedule.follow_ups:
        for day in (visit.opens_day, visit.closes_day):
            edges += [day - 1, day, day + 1]
    centres = [{"id": 900 + i, "code": f"R{i}", "name": f"Recount {i}", "city": "Ville",
                "active": True} for i in range(4)]
    _insert(session, Centre, centres)
    _insert(session, Staff, [{"id": 900, "display_name": "Worker", "role": Role.OUTREACH_WORKER,
                              "centre_id": 900, "aerli_trained_on": date(2024, 1, 1),
                              "active": True, "created_at": now}])
    people, questionnaires, sessions, deviations = [], [], [], []
    names = [v.name for v in schedule] + ["M99"]
    for pid in range(9000, 9240):
        centre = 900 + rng.randrange(3)  # R3 has nobody
        included = as_of - timedelta(days=rng.choice(edges) if rng.random() < 0.7
                                     else rng.randint(0, 800))
        people.append({
            "id": pid, "code": f"R{pid}", "centre_id": centre, "seq": pid, "year_of_birth": 1990,
            "gender": Gender.WOMAN, "inclusion_date": included, "consent_date": included,
            "age_at_inclusion": 30, "injected_past_month": True, "wish_neck_groin": False,
            "reached_via": Modality.IN_PERSON, "group": rng.choice(list(Group)),
            "status": rng.choice(list(Status)), "enrolled_by": 900, "created_at": now,
            "version": 1})
        for name in names:
            if rng.random() < 0.5:
                questionnaires.append({
                    "participant_id": pid, "timepoint": Timepoint(name),
                    "visit_date": included, "staff_id": 900, "answers": {},
                    "completeness": 1.0, "in_window": rng.random() < 0.6, "version": 1,
                    "created_at": now, "updated_at": now})
        for _ in range(rng.randrange(3)):
            sessions.append({"participant_id": pid, "session_date": included,
                             "setting": rng.choice(list(Setting)),
                             "modality": Modality.IN_PERSON, "recorded_by": 900,
                             "counts_for_protocol": rng.random() < 0.5, "risks": [],
                             "topics": [], "created_at": now})
        if rng.random() < 0.3:
            deviations.append({
                "rule_id": "session.trained_staff", "severity": Severity.SOFT,
                "entity": "participant", "record_id": pid, "participant_id": pid,
                "centre_id": centre, "message": "one trained worker", "raised_at": now,
                "status": rng.choice(list(DeviationStatus)), "dedupe_key": f"recount:{pid}"})
    _insert(session, Participant, people)
    _insert(session, Questionnaire, questionnaires)
    _insert(session, AerliSession, sessions)
    _insert(session, Deviation, deviations)
    session.flush()
    return [c["id"] for c in centres]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_cells_sum_to_the_grouped_sql(session: Session, seed: int) -> None:
    as_of = date(2026, 11, 22)
    rng = random.Random(seed)
    centres = _random_cohort(session, rng, as_of)

    def same_as_sql(figures: Figures, actor: Actor) -> None:
        assert figures.ordered() == centre_status(session, actor=actor, as_of=as_of)
        assert sorted(figures.rows()) == sorted(grouped_rows(session, actor.centre_ids, as_of))
        # The breakdown from the kept totals (moved by the changed centres after a save)
        # is the one from the grouped SQL: every centre, group and month.
        assert retention_cache.breakdown(figures) == retention_breakdown(
            session, actor=actor, as_of=as_of)
        assert figures.whole == Sums.total(figures.sums.values())

    views = [Actor(staff_id=0, role=Role.RESEARCH_OFFICER, centre_id=None,
                   centre_ids=frozenset(wanted))
             for wanted in ({centres[0]}, {centres[1], centres[3]}, set(centres))]
    kept = {}
    for actor in views:
        kept[actor] = retention_cache._from_scratch(session, actor=actor, as_of=as_of)
        same_as_sql(kept[actor], actor)
    # Some participants change (status, group, a questionnaire less and one more, a
    # session, their deviations resolved): counting their cells again, and their
    # centres' sessions and deviations, gives the figures counted from scratch.
    q, p = Questionnaire.__table__.c, Participant.__table__.c  # type: ignore[attr-defined]
    d = Deviation.__table__.c  # type: ignore[attr-defined]
    changed = rng.sample(range(9000, 9240), 12)
    now = datetime.now(UTC)
    for pid in changed:
        session.execute(sa.update(Participant.__table__).where(p.id == pid)  # type: ignore[attr-defined]
                        .values(status=rng.choice(list(Status)),
                                group=rng.choice(list(Group))))
        session.execute(sa.delete(Questionnaire.__table__).where(  # type: ignore[attr-defined]
            q.participant_id == pid, q.timepoint == Timepoint("M6")))
        session.execute(sa.delete(Questionnaire.__table__).where(  # type: ignore[attr-defined]
            q.participant_id == pid, q.timepoint == Timepoint("M12")))
        _insert(session, Questionnaire, [{
            "participant_id": pid, "timepoint": Timepoint("M12"), "visit_date": as_of,
            "staff_id": 900, "answers": {}, "completeness": 1.0,
            "in_window": rng.random() < 0.5, "version": 1, "created_at": now,
            "updated_at": now}])
        _insert(session, AerliSession, [{
            "participant_id": pid, "session_date": as_of, "setting": Setting.SQUAT,
            "modality": Modality.IN_PERSON, "recorded_by": 900, "counts_for_protocol": True,
            "risks": [], "topics": [], "created_at": now}])
        session.execute(sa.update(Deviation.__table__).where(d.participant_id == pid)  # type: ignore[attr-defined]
                        .values(status=DeviationStatus.RESOLVED))
    session.flush()
    changes = retention_cache.Changes(set(), set(), {})
    for centre_id, included in session.execute(
            sa.select(p.centre_id, p.inclusion_date).where(p.id.in_(changed))).all():
        changes.centres.add(centre_id)
        changes.extras.add(centre_id)
        changes.months.setdefault(centre_id, set()).add((included.year, included.month))
    for actor in views:
        after = retention_cache._with_changes(session, kept[actor], changes, actor=actor,
                                              as_of=as_of)
        same_as_sql(after, actor)
        # Centres the changes did not touch keep their rows (not counted again).
        for centre_id, row in after.status.items():
            if centre_id not in changes.centres:
                assert row is kept[actor].status[centre_id]
    # The figures are not all zeros: the cohort exercises every count.
    total = kept[views[2]].ordered()[0]
    assert total.withdrawn and total.deceased and total.lost_to_follow_up
    assert total.sessions and total.with_valid_session and total.open_deviations
    assert all(v.done and v.eligible for v in total.visits[1:])
    assert sum(v.due for r in kept[views[2]].ordered() for v in r.visits)
    assert sum(v.overdue for v in total.visits)


def test_the_figures_survive_the_shared_store(session: Session) -> None:
    """What another process reads back from the shared store is the same figures."""
    as_of = date(2026, 11, 22)
    _random_cohort(session, random.Random(4), as_of)
    actor = Actor(staff_id=0, role=Role.RESEARCH_OFFICER, centre_id=None, centre_ids=None)
    figures = retention_cache._from_scratch(session, actor=actor, as_of=as_of)
    mark = retention_cache.mark_of(session)
    data = json.loads(figures.to_json(mark))
    again = retention_cache.Figures.from_json(data)
    assert retention_cache.Mark.from_dict(data["mark"]) == mark
    assert again.ordered() == figures.ordered()
    assert sorted(again.rows()) == sorted(figures.rows())
