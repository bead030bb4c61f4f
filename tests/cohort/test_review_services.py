"""Services behind the review pages (issue 15 part B, points 6-8), on SQLite and PostgreSQL.

Rules cited: ``visit.out_of_window`` (an M12 outside its window is flagged),
``scope.role`` (only research officers and data managers review deviations).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from cohort.errors import ActionNotAllowed, CohortError
from cohort.models import AuditEntry, Deviation
from cohort.services.monitoring import participant_overview
from cohort.services.retention_cache import cached_retention_breakdown
from cohort.services.retention_groups import both_groups, retention_breakdown
from cohort.services.review_many import review_many
from cohort.vocab import DeviationStatus, Group, Role, Timepoint
from tests.factories import Factory


def test_next_visit_passes_a_missed_m6_once_m12_is_done(factory: Factory) -> None:
    """Point 6: M6 missed and M12 done reads "follow-up complete", not "Next: M6, window
    closed"; M6 missed and M12 not yet done still shows M6 as the next to catch up."""
    w = factory.worker(factory.centre("C01"))
    today = factory.today
    moved_on = factory.participant(w, inclusion_date=today - timedelta(days=400))
    factory.questionnaire(w, moved_on)
    factory.questionnaire(w, moved_on, Timepoint("M12"))
    missed = factory.participant(w, inclusion_date=today - timedelta(days=300))
    factory.questionnaire(w, missed)
    rows = {r.code: r for r in participant_overview(factory.session, actor=w, as_of=today)}
    assert rows[moved_on.code].next_timepoint is None
    assert rows[moved_on.code].window_state == "complete"
    assert rows[missed.code].next_timepoint == "M6"
    assert rows[missed.code].window_state == "overdue"


def test_retention_breakdown_by_group_and_month(factory: Factory) -> None:
    """Point 7: % done and % on time per centre and group, and per month of inclusion,
    with the retention table's definition (past the window, or came anyway)."""
    c1, c2 = factory.centre("C01"), factory.centre("C02")
    w1, w2 = factory.worker(c1), factory.worker(c2)
    today = factory.today
    a = factory.participant(w1, inclusion_date=today - timedelta(days=460))
    factory.questionnaire(w1, a)
    factory.questionnaire(w1, a, Timepoint("M6"))
    factory.questionnaire(w1, a, Timepoint("M12"),
                          visit_date=a.inclusion_date + timedelta(days=365 + 50))
    b = factory.participant(w1, inclusion_date=today - timedelta(days=460),
                            group=Group.COMPARISON)
    factory.questionnaire(w1, b)
    early = factory.participant(w1, inclusion_date=today - timedelta(days=170))
    factory.questionnaire(w1, early)
    factory.questionnaire(w1, early, Timepoint("M6"), visit_date=today - timedelta(days=1))
    factory.participant(w1, inclusion_date=today - timedelta(days=10))
    factory.participant(w2, inclusion_date=today - timedelta(days=460))

    officer = factory.actor(factory.staff(role=Role.RESEARCH_OFFICER, national=True))
    out = retention_breakdown(factory.session, actor=officer, as_of=today)
    assert out.timepoints == ["M6", "M12"]
    assert [code for code, _ in out.centres] == ["C01", "C02"]
    c01 = out.by_centre["C01"]
    m6_int = c01["intervention"].visit("M6")
    # a (past the window, done on time) and early (came before the window closed).
    assert (c01["intervention"].enrolled, m6_int.eligible, m6_int.done, m6_int.on_time) == \
        (3, 2, 2, 2)
    m12_int = c01["intervention"].visit("M12")
    assert (m12_int.eligible, m12_int.done, m12_int.on_time) == (1, 1, 0)
    assert m12_int.pct_done == 100.0 and m12_int.pct_on_time == 0.0
    m6_comp = c01["comparison"].visit("M6")
    assert (m6_comp.eligible, m6_comp.done, m6_comp.pct_done) == (1, 0, 0.0)
    both = both_groups(c01, out.timepoints)
    assert (both.enrolled, both.visit("M6").eligible, both.visit("M6").done) == (4, 3, 2)
    assert both.visit("M6").pct_done == 66.7
    assert out.all_centres["intervention"].visit("M6").eligible == 3  # + C02's
    month = (today - timedelta(days=460)).strftime("%Y-%m")
    assert out.by_month[month].enrolled == 3
    assert out.by_month[month].visit("M6").pct_done == pytest.approx(100 / 3, abs=0.1)

    mine = retention_breakdown(factory.session, actor=w2, as_of=today)
    assert [code for code, _ in mine.centres] == ["C02"] and "C01" not in mine.by_centre


def test_review_many_audits_each_and_names_the_refused(factory: Factory) -> None:
    """Point 8: one comment for many deviations, one audited review each; one that cannot
    be reviewed is named and leaves the others reviewed."""
    c1 = factory.centre("C01")
    w = factory.worker(c1)
    ids = []
    for _ in range(3):
        p = factory.participant(w, group=Group.COMPARISON)
        saved = factory.aerli_session(w, p)  # rule session.comparison_group
        ids.append(saved.deviations[0].id)
    officer = factory.actor(factory.staff(role=Role.RESEARCH_OFFICER, national=True))
    first = review_many(factory.session, actor=officer, deviation_ids=ids[:1],
                        status=DeviationStatus.RESOLVED, comment="Service only")
    assert first.done == ids[:1]
    out = review_many(factory.session, actor=officer, deviation_ids=[*ids, ids[1]],
                      status=DeviationStatus.ACKNOWLEDGED, comment="Seen at the team meeting")
    assert out.done == ids[1:]
    assert list(out.refused) == ids[:1] and "already resolved" in out.refused[ids[0]]
    for deviation_id in ids[1:]:
        d = factory.session.get(Deviation, deviation_id)
        assert d is not None and d.status is DeviationStatus.ACKNOWLEDGED
        assert d.resolution_comment == "Seen at the team meeting"
        audits = factory.session.exec(select(AuditEntry).where(
            AuditEntry.table_name == "deviation", AuditEntry.record_id == deviation_id,
            AuditEntry.field == "status")).all()
        assert [a.new_value for a in audits] == ["acknowledged"]
    with pytest.raises(CohortError, match="comment is required"):
        review_many(factory.session, actor=officer, deviation_ids=ids[1:],
                    status=DeviationStatus.RESOLVED, comment=" ")
    with pytest.raises(CohortError, match="at least one"):
        review_many(factory.session, actor=officer, deviation_ids=[],
                    status=DeviationStatus.ACKNOWLEDGED)
    with pytest.raises(ActionNotAllowed):  # scope.role
        review_many(factory.session, actor=w, deviation_ids=ids[1:],
                    status=DeviationStatus.ACKNOWLEDGED)


def test_cached_breakdown_is_the_same_and_follows_writes(factory: Factory) -> None:
    """Point 7: the page's breakdown comes from the shared store while nothing changed
    (same figures after the round trip), and a save is seen at once."""
    w = factory.worker(factory.centre("C01"))
    today = factory.today
    p = factory.participant(w, inclusion_date=today - timedelta(days=460))
    officer = factory.actor(factory.staff(role=Role.RESEARCH_OFFICER, national=True))
    first = cached_retention_breakdown(factory.session, actor=officer, as_of=today)
    again = cached_retention_breakdown(factory.session, actor=officer, as_of=today)
    assert again == first == retention_breakdown(factory.session, actor=officer, as_of=today)
    assert first.by_centre["C01"]["intervention"].visit("M6").done == 0
    factory.questionnaire(w, p, Timepoint("M6"))
    after = cached_retention_breakdown(factory.session, actor=officer, as_of=today)
    assert after.by_centre["C01"]["intervention"].visit("M6").done == 1


def test_the_kept_breakdown_counts_again_only_the_centres_a_write_touched(
        factory: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a save, the breakdown kept for the view is brought up to date by counting the
    saving participant's cell again (``retention_recount``, in that centre alone), and equals a
    breakdown counted from scratch."""
    from cohort.services import retention_cache

    c1, c2 = factory.centre("C01"), factory.centre("C02")
    w1, w2 = factory.worker(c1), factory.worker(c2)
    today = factory.today
    people = [factory.participant(w, inclusion_date=today - timedelta(days=days))
              for w in (w1, w2) for days in (460, 300, 200)]
    for person, w in zip(people, [w1] * 3 + [w2] * 3, strict=True):
        factory.questionnaire(w, person)
    officer = factory.actor(factory.staff(role=Role.RESEARCH_OFFICER, national=True))
    counted: list[list[int]] = []
    real = retention_cache.count_cells

    def spy(session: Any, *, centre_ids: list[int], as_of: Any, months: Any = None) -> Any:
        counted.append(centre_ids)
        return real(session, centre_ids=centre_ids, as_of=as_of, months=months)

    monkeypatch.setattr(retention_cache, "count_cells", spy)

    def same_as_from_scratch() -> None:
        kept = cached_retention_breakdown(factory.session, actor=officer, as_of=today)
        assert kept == retention_breakdown(factory.session, actor=officer, as_of=today)

    same_as_from_scratch()
    factory.questionnaire(w1, people[0], Timepoint("M6"))
    counted.clear()
    same_as_from_scratch()
    assert counted == [[c1.id]]  # C01 alone
    factory.participant(w2, inclusion_date=today - timedelta(days=30))
    counted.clear()
    same_as_from_scratch()
    assert counted == [[c2.id]]
