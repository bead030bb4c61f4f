"""A long write (a web import) never holds other writers past the documented wait: they
answer 503 with Retry-After after ``write_wait_seconds`` and save nothing (issue 11, class
5). SQLite: this server's queue of writers; PostgreSQL: ``lock_timeout``. The app here
uses its real database sessions (no rolled-back test session) on a database of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.app import create_app
from cohort.db import create_schema, engine_for
from cohort.models import Account
from cohort.services import participants
from cohort.services.accounts import issue_token
from tests.api.conftest import fixed_key_settings, password_hash
from tests.conftest import TODAY, pg_database
from tests.factories import Factory

WAIT = 0.5


@pytest.fixture(params=["sqlite", "postgresql"])
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, Any]]:
    """A client of an app on its own database, a worker's token and their participant."""
    if request.param == "sqlite":
        urls: Any = iter([f"sqlite:///{tmp_path / 'wait.db'}"])
        context = None
    else:
        request.getfixturevalue("pg_url")
        context = pg_database("cohort_wait")
        urls = iter([context.__enter__()])
    url = next(urls)
    engine = engine_for(url)
    create_schema(engine)
    with Session(engine, expire_on_commit=False) as session:
        factory = Factory(session, today=TODAY)
        worker = factory.staff(centre=factory.centre("C01"))
        person = factory.participant(factory.actor(worker))
        account = Account(username="worker", password_hash=password_hash(),
                          staff_id=worker.id or 0)
        session.add(account)
        session.commit()
        token = issue_token(session, account=account)
    settings = fixed_key_settings().model_copy(update={"write_wait_seconds": WAIT,
                                                       "database_url": url})
    app = create_app(settings, engine=engine, today=lambda: TODAY)
    try:
        with TestClient(app) as client:
            yield client, {"headers": {"Authorization": f"Bearer {token}"},
                           "code": person.code, "engine": engine, "backend": request.param}
    finally:
        engine.dispose()
        if context is not None:
            context.__exit__(None, None, None)


def _status(client: TestClient, world: dict[str, Any], day: str,
            status: str = "lost_to_follow_up") -> Any:
    return client.post(f"/api/v1/participants/{world['code']}/status", headers=world["headers"],
                       json={"status": status, "effective_date": day})


def test_a_writer_behind_a_long_write_gets_503_with_retry_after(
        live: tuple[TestClient, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    client, world = live
    held = threading.Event()
    release = threading.Event()
    engine = world["engine"]
    if world["backend"] == "sqlite":
        real = participants.change_status

        def slow(*args: Any, **kwargs: Any) -> Any:  # stands for a long import
            held.set()
            release.wait(10)
            return real(*args, **kwargs)

        monkeypatch.setattr(participants, "change_status", slow)
        first: list[Any] = []
        long_write = threading.Thread(target=lambda: first.append(
            _status(client, world, "2026-11-01")))
        long_write.start()
        assert held.wait(10)
        monkeypatch.setattr(participants, "change_status", real)
    else:
        holder = engine.connect()
        transaction = holder.begin()
        holder.execute(sa.text("LOCK TABLE status_change IN EXCLUSIVE MODE"))
    try:
        started = time.monotonic()
        waiting = _status(client, world, "2026-11-02")
        waited = time.monotonic() - started
    finally:
        if world["backend"] == "sqlite":
            release.set()
            long_write.join()
        else:
            transaction.rollback()
            holder.close()
    assert waiting.status_code == 503, waiting.text
    assert waiting.headers["retry-after"] == "60"
    assert waiting.json()["type"] == "/problems/database-busy"
    assert WAIT <= waited < WAIT + 5
    history = client.get(f"/api/v1/participants/{world['code']}/status",
                         headers=world["headers"]).json()
    dates = [h["effective_date"] for h in history]
    assert "2026-11-02" not in dates
    if world["backend"] == "sqlite":
        assert first[0].status_code == 201 and "2026-11-01" in dates
    then = "returned" if world["backend"] == "sqlite" else "lost_to_follow_up"
    assert _status(client, world, "2026-11-03", then).status_code == 201  # and then it works
