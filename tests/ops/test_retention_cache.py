"""The shared retention cache (``cohort.services.retention_cache``) always gives what a
fresh computation gives, after any write in any centre; after a save only the changed
centre is computed again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session

from cohort.services import monitoring, retention_cache
from cohort.services.context import Actor
from cohort.services.participants import change_status
from cohort.vocab import Group, Role, Status, Timepoint
from tests.factories import Factory


def _fresh(session: Session, actor: Actor, factory: Factory) -> list[monitoring.CentreStatus]:
    return monitoring.centre_status(session, actor=actor, as_of=factory.today)


def test_the_cached_summary_equals_a_fresh_one_after_every_write(
        factory: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    session = factory.session
    centres = [factory.centre(f"C{i:02d}") for i in range(1, 4)]
    workers = [factory.worker(c) for c in centres]
    national = Actor(staff_id=0, role=Role.RESEARCH_OFFICER, centre_id=None, centre_ids=None)
    scoped = Actor(staff_id=0, role=Role.RESEARCH_OFFICER, centre_id=None,
                   centre_ids=frozenset({centres[1].id or 0}))
    computed: list[tuple[list[int], object]] = []
    real = retention_cache.count_cells

    def spy(session: Session, *, centre_ids: list[int], as_of: object,
            months: object = None) -> Any:
        computed.append((centre_ids, months))
        return real(session, centre_ids=centre_ids, as_of=as_of, months=months)  # type: ignore[arg-type]

    monkeypatch.setattr(retention_cache, "count_cells", spy)

    def check() -> None:
        for actor in (national, scoped):
            cached = retention_cache.cached_centre_status(session, actor=actor,
                                                          as_of=factory.today)
            assert cached == _fresh(session, actor, factory)

    people = []
    for worker in workers:
        people.append(factory.participant(worker, group=Group.INTERVENTION,
                                          inclusion_date=factory.today - timedelta(days=200)))
        check()
    computed.clear()
    check()
    assert computed == []  # nothing changed: both views as they were kept
    factory.questionnaire(workers[0], people[0], Timepoint("M6"))
    check()
    # Only the participant's cell (centre, month of inclusion) was counted again, for the
    # national view (the scoped view does not see it, so nothing was counted for it).
    included = people[0].inclusion_date
    assert computed == [([centres[0].id], {centres[0].id: {(included.year, included.month)}})]
    change_status(session, actor=workers[2], code=people[2].code, status=Status.WITHDRAWN,
                  effective_date=factory.today, on=factory.today)
    check()
    factory.aerli_session(workers[1], people[1])
    check()
    newcomer = factory.centre("C09")
    check()
    assert any(row.centre_id == newcomer.id for row in retention_cache.cached_centre_status(
        session, actor=national, as_of=factory.today))


@contextmanager
def _committing(prefix: str) -> Iterator[tuple[Any, Session, Factory, Actor]]:
    """A PostgreSQL database of its own whose writes really commit (the late arrivals
    below need a second connection to see them): its engine, a session, a factory and a
    worker of centre C01."""
    from cohort.db import create_schema, engine_for
    from tests.conftest import TODAY, pg_database

    with pg_database(prefix) as url:
        engine = engine_for(url)
        create_schema(engine)
        with Session(engine, expire_on_commit=False) as session:
            factory = Factory(session, today=TODAY)
            yield engine, session, factory, factory.worker(factory.centre("C01"))
        engine.dispose()


NATIONAL = Actor(staff_id=0, role=Role.RESEARCH_OFFICER, centre_id=None, centre_ids=None)


def test_a_save_that_commits_late_is_counted_and_only_its_cell(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL an audit id is taken before commit: a save that commits after a later
    one lands below the newest id the kept figures were counted at. Its cell is counted
    again (the figures kept the ids then missing), and that cell alone, not every entry of
    the last thousand ids."""
    from tests.conftest import TODAY

    with _committing("late") as (engine, session, factory, worker):
        early = factory.participant(worker, inclusion_date=TODAY - timedelta(days=200))
        later = factory.participant(worker, inclusion_date=TODAY - timedelta(days=300))
        retention_cache.cached_figures(session, actor=NATIONAL, as_of=TODAY)
        session.commit()
        # The slow save takes its audit ids first and commits last.
        connection = engine.connect()
        outer = connection.begin()
        slow = Session(bind=connection, join_transaction_mode="create_savepoint")
        Factory(slow, today=TODAY).questionnaire(worker, early, Timepoint("M6"))
        factory.questionnaire(worker, later, Timepoint("M6"))
        kept = retention_cache.cached_figures(session, actor=NATIONAL, as_of=TODAY)
        session.commit()
        assert kept.ordered() == _fresh(session, NATIONAL, factory)
        assert kept.ordered()[0].visit("M6").done == 1
        outer.commit()
        slow.close()
        connection.close()
        counted: list[object] = []
        real = retention_cache.count_cells

        def spy(session: Session, *, centre_ids: list[int], as_of: object,
                months: object = None) -> Any:
            counted.append(months)
            return real(session, centre_ids=centre_ids, as_of=as_of, months=months)  # type: ignore[arg-type]

        monkeypatch.setattr(retention_cache, "count_cells", spy)
        after = retention_cache.cached_figures(session, actor=NATIONAL, as_of=TODAY)
        assert after.ordered() == _fresh(session, NATIONAL, factory)
        assert after.ordered()[0].visit("M6").done == 2
        month = (early.inclusion_date.year, early.inclusion_date.month)
        assert counted == [{early.centre_id: {month}}]


def test_a_save_committed_while_figures_are_counted_is_not_lost(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL each statement sees what has committed by then: a save that commits
    after a request read the state of the data, and before the figures were counted,
    is in the figures or in what the next request counts again, never in neither (the
    figures used to be kept under the newer mark without it, and stayed stale)."""
    from cohort.recent import Recent
    from tests.conftest import TODAY

    with _committing("racing") as (engine, session, factory, worker):
        person = factory.participant(worker, inclusion_date=TODAY - timedelta(days=200))
        retention_cache.cached_figures(session, actor=NATIONAL, as_of=TODAY)
        session.commit()
        state = retention_cache.state_of(session, actor=NATIONAL, as_of=TODAY)
        session.commit()
        real = retention_cache.mark_of

        def a_save_commits_first(session: Session) -> Any:
            with Session(engine, expire_on_commit=False) as other:
                Factory(other, today=TODAY).questionnaire(worker, person,
                                                          Timepoint("M6"))
            return real(session)

        # This process has not kept the figures of that state (another process's
        # request, or pushed out): they are brought up to date from the latest.
        monkeypatch.setattr(retention_cache, "_KEPT", Recent(64))
        monkeypatch.setattr(retention_cache, "mark_of", a_save_commits_first)
        retention_cache.cached_figures(session, actor=NATIONAL, as_of=TODAY, state=state)
        session.commit()
        monkeypatch.setattr(retention_cache, "mark_of", real)
        now = retention_cache.cached_figures(session, actor=NATIONAL, as_of=TODAY)
        assert now.ordered() == _fresh(session, NATIONAL, factory)
        assert now.ordered()[0].visit("M6").done == 1


def test_the_mark_read_by_the_database_is_the_mark_read_here(session: Session) -> None:
    """PostgreSQL finds the window's holes itself (one row instead of a thousand ids to
    compare in the server process); both ways give the same mark, the time in UTC
    whatever the connection's time zone (a server in France)."""
    from sqlalchemy import text

    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL TIME ZONE 'Europe/Paris'"))
    session.execute(text(
        "INSERT INTO audit_entry (id, at, action, table_name, record_id) "
        "VALUES (:id, :at, 'create', 'questionnaire', :id)"),
        [{"id": i, "at": f"2026-11-{1 + i % 28:02d} 10:00:00"}
         for i in range(10_001, 11_501) if i % 7])
    mark = retention_cache.mark_of(session)
    assert mark == retention_cache._mark_read_here(session)  # noqa: SLF001
    assert mark.newest == 11_500 and mark.recent == 1000 - len(mark.holes)
    assert mark.at is not None and mark.at.endswith("+00:00")
    assert mark.holes == tuple(i for i in range(10_501, 11_500) if i % 7 == 0)


def test_figures_are_brought_up_to_date_only_from_a_mark_of_this_history(
        session: Session, factory: Factory) -> None:
    """The mark's newest entry is read with what came after it: the same entry, and the
    changes are told; an entry gone or another one under its id (a restore, figures
    counted in a transaction rolled back), and everything is counted again (False)."""
    worker = factory.worker(factory.centre("C01"))
    person = factory.participant(worker)
    mark = retention_cache.mark_of(session)
    factory.questionnaire(worker, person, Timepoint("M6"))  # entries after the mark
    told = retention_cache.changed_since(session, mark)
    assert told and told.centres == {person.centre_id}
    other_time = replace(mark, at="1999-01-01T00:00:00+00:00")
    assert retention_cache.changed_since(session, other_time) is False
    gone = replace(mark, newest=mark.newest + 100_000)
    assert retention_cache.changed_since(session, gone) is False
    # Nothing after the mark: its entry is looked up on its own.
    now = retention_cache.mark_of(session)
    assert retention_cache.changed_since(session, now) == retention_cache.Changes(
        set(), set(), {})
    assert retention_cache.changed_since(session, replace(now, at="1999-01-01T00:00:00")) \
        is False
