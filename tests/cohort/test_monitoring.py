"""Retention per centre and worklists, counted on a small hand-built cohort."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cohort.services.monitoring import centre_status, participant_overview, worklist
from cohort.services.participants import change_status
from cohort.vocab import Group, Role, Status, Timepoint
from tests.factories import Factory


def test_centre_status_counts(factory: Factory) -> None:
    c1, c2 = factory.centre("C01"), factory.centre("C02")
    w1, w2 = factory.worker(c1), factory.worker(c2)
    today = factory.today
    done = factory.participant(w1, inclusion_date=today - timedelta(days=460))
    factory.questionnaire(w1, done)
    factory.questionnaire(w1, done, Timepoint("M6"))
    factory.questionnaire(w1, done, Timepoint("M12"),
                          visit_date=done.inclusion_date + timedelta(days=365 + 50))
    factory.aerli_session(w1, done)
    late = factory.participant(w1, inclusion_date=today - timedelta(days=300),
                               group=Group.COMPARISON)
    factory.questionnaire(w1, late)
    due = factory.participant(w1, inclusion_date=today - timedelta(days=180))
    gone = factory.participant(w1, inclusion_date=today - timedelta(days=300))
    change_status(factory.session, actor=w1, code=gone.code, status=Status.WITHDRAWN,
                  effective_date=today - timedelta(days=100), on=today)
    factory.participant(w2, inclusion_date=today - timedelta(days=10))

    officer = factory.actor(factory.staff(role=Role.RESEARCH_OFFICER, national=True))
    rows = {r.centre_code: r for r in centre_status(factory.session, actor=officer, as_of=today)}
    r = rows["C01"]
    assert (r.enrolled, r.intervention, r.comparison) == (4, 3, 1)
    m0, m6, m12 = r.visits
    assert [v.visit for v in r.visits] == ["M0", "M6", "M12"]
    assert (m0.done, m6.done, m6.in_window, m12.done, m12.in_window) == (2, 1, 1, 1, 0)
    assert (m6.overdue, m6.due) == (1, 1)
    assert (r.sessions, r.with_valid_session, r.withdrawn) == (1, 1, 1)
    assert r.open_deviations == 1  # the M12 outside its window
    assert rows["C02"].enrolled == 1

    mine = centre_status(factory.session, actor=w2, as_of=today)
    assert [x.centre_code for x in mine] == ["C02"]

    items = worklist(factory.session, actor=w1, as_of=today)
    assert {(i.code, i.timepoint, i.state) for i in items} == {
        (late.code, Timepoint("M6"), "overdue"), (late.code, Timepoint("M12"), "upcoming"),
        (due.code, Timepoint("M6"), "due")}
    assert not any(i.code == due.code and i.timepoint == Timepoint("M12") for i in items)

    overview = {p.code: p for p in participant_overview(factory.session, actor=w1, as_of=today)}
    assert overview[done.code].window_state == "complete"
    assert overview[due.code].next_timepoint == "M0"
    assert overview[gone.code].window_state == "not_followed"
    assert overview[done.code].valid_sessions == 1
    # One participant's row (the participant page), the same as in the centre's list.
    for person in (done, due, gone):
        assert participant_overview(factory.session, actor=w1, as_of=today,
                                    participant_id=person.id) == [overview[person.code]]
    assert participant_overview(factory.session, actor=w2, as_of=today,
                                participant_id=done.id) == []  # another centre's


def test_remembered_retention_sees_a_late_commit_with_an_older_audit_id(
        factory: Factory) -> None:
    """PostgreSQL hands out ids before commit: an older id can become visible last.

    Not on SQLite: its writers take turns on the write lock and an id is handed out inside
    the turn, so entries commit in id order and none arrives later below the newest
    (``retention_cache._mark_from_state``); an id given here by hand would be a history
    SQLite cannot have."""
    if factory.session.get_bind().dialect.name == "sqlite":
        pytest.skip("SQLite's writers commit their audit entries in id order")
    import sqlalchemy as sa

    from cohort.models import AuditEntry, Participant
    from cohort.services.queries import retention_summary

    worker = factory.worker()
    person = factory.participant(worker, inclusion_date=factory.today - timedelta(days=30))
    officer = factory.actor(factory.staff(role=Role.RESEARCH_OFFICER, national=True))
    newest = factory.session.exec(sa.select(sa.func.max(AuditEntry.id))).one()[0]
    # A newer transaction commits first...
    factory.session.add(AuditEntry(id=newest + 10, action="update", table_name="staff",
                                   record_id=1, field="note"))
    factory.session.flush()
    before = retention_summary(factory.session, actor=officer, as_of=factory.today)
    assert before[0].withdrawn == 0
    # ...then the older one, which withdrew the participant, becomes visible.
    factory.session.execute(sa.update(Participant).where(Participant.id == person.id)
                            .values(status=Status.WITHDRAWN))
    factory.session.add(AuditEntry(id=newest + 5, action="update", table_name="participant",
                                   record_id=person.id, field="status"))
    factory.session.flush()
    after = retention_summary(factory.session, actor=officer, as_of=factory.today)
    assert after[0].withdrawn == 1
