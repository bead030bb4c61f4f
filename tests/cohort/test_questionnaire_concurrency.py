"""Lost updates: two saves that both loaded version 1 (409 stale-version rule).

Each test uses its own database with real commits and separate connections, so the
database (not the test's rolled-back session) decides which save wins.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cohort.db import create_schema, engine_for, forget_engines
from cohort.errors import StaleVersion
from cohort.models import AuditEntry, Questionnaire
from cohort.services import questionnaires
from cohort.services.context import Actor
from cohort.vocab import Timepoint
from tests.conftest import TODAY, pg_database
from tests.factories import Factory, questionnaire_answers


@pytest.fixture(params=["sqlite", "postgresql"])
def own_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        request.getfixturevalue("pg_url")  # skips when PostgreSQL is unreachable
        with pg_database("cohort_race") as url:
            engine = engine_for(url)
            create_schema(engine)
            yield engine
            engine.dispose()
        return
    url = f"sqlite:///{tmp_path / 'race.db'}"
    engine = engine_for(url)
    create_schema(engine)
    yield engine
    forget_engines(url)


def _setup(engine: Engine) -> tuple[Actor, str, Any]:
    with Session(engine, expire_on_commit=False) as session:
        factory = Factory(session, today=TODAY)
        worker = factory.worker()
        person = factory.participant(worker)
        q = factory.questionnaire(worker, person).record
        return worker, person.code, q.visit_date


def _update(engine: Engine, worker: Actor, code: str, answers: dict[str, Any]) -> Any:
    if engine.dialect.name == "sqlite":  # as the API's writers do (api.deps)
        engine = engine.execution_options(sqlite_begin="IMMEDIATE")
    with Session(engine, expire_on_commit=False) as session:
        return questionnaires.update_questionnaire(
            session, actor=worker, code=code, timepoint=Timepoint("M0"), answers=answers,
            expected_version=1, on=TODAY)


def test_write_after_the_version_check_is_refused_when_someone_saved_meanwhile(
    own_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other save commits between our version check and our write: we get
    StaleVersion (409) and their answers stay. (SQLite serialises writers from the start
    of their transaction, so this interleaving can only happen on PostgreSQL.)"""
    if own_engine.dialect.name == "sqlite":
        pytest.skip("writers are serialised by BEGIN IMMEDIATE on SQLite")
    worker, code, visit = _setup(own_engine)
    real = questionnaires._validated
    done: list[bool] = []

    def validated_then_someone_saves(*args: Any, **kwargs: Any) -> Any:
        if not done:
            done.append(True)
            _update(own_engine, worker, code, questionnaire_answers(visit, share_cooker="0"))
        return real(*args, **kwargs)

    monkeypatch.setattr(questionnaires, "_validated", validated_then_someone_saves)
    with pytest.raises(StaleVersion) as stale:
        _update(own_engine, worker, code, questionnaire_answers(visit, share_water="1"))
    assert stale.value.current_version == 2
    with Session(own_engine) as session:
        stored = session.exec(select(Questionnaire)).one()
        assert stored.version == 2
        assert stored.answers["share_cooker"] == "0"
        assert stored.answers["share_water"] == "0"
        versions = session.exec(select(AuditEntry.new_value).where(
            AuditEntry.table_name == "questionnaire", AuditEntry.field == "version")).all()
        assert versions == ["2"]


def test_two_concurrent_saves_of_version_1_exactly_one_wins(own_engine: Engine) -> None:
    worker, code, visit = _setup(own_engine)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def save(change: dict[str, str]) -> None:
        barrier.wait(timeout=10)
        try:
            _update(own_engine, worker, code, questionnaire_answers(visit, **change))
            result = "won:" + ",".join(change)
        except StaleVersion:
            result = "stale"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=save, args=(c,))
               for c in ({"share_cooker": "0"}, {"share_water": "1"})]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    winners = [o for o in outcomes if o.startswith("won:")]
    assert len(winners) == 1, outcomes
    assert len(outcomes) == 2
    with Session(own_engine) as session:
        stored = session.exec(select(Questionnaire)).one()
        assert stored.version == 2
        changed = {name for name, value in (("share_cooker", "0"), ("share_water", "1"))
                   if stored.answers[name] == value}
        assert changed == {winners[0].split(":")[1]}  # the loser overwrote nothing
