"""A refused write on SQLite releases the server's writer queue (``api.deps.session_for``):
found while testing jobs, every write after one that raised waited and answered 503."""

from __future__ import annotations

from pathlib import Path

from api.app import create_app
from cohort.db import engine_for, forget_engines
from cohort.migrate import upgrade
from tests.api.conftest import PASSWORD, TestClient, fixed_key_settings
from tests.conftest import TODAY
from tests.ops.conftest import seed_world


def test_writes_after_a_refused_write_are_not_held_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    upgrade(url)
    world = seed_world(url)
    assert world.pa is not None
    settings = fixed_key_settings().model_copy(update={"database_url": url,
                                                       "write_wait_seconds": 1.0})
    with TestClient(create_app(settings, engine=engine_for(url), today=lambda: TODAY)) as c:
        token = c.post("/api/v1/auth/token",
                       data={"username": "stat", "password": PASSWORD}).json()["access_token"]
        for _ in range(3):  # a statistician may not write: refused (403), each time
            got = c.post(f"/api/v1/participants/{world.pa.code}/status",
                         headers={"Authorization": f"Bearer {token}"},
                         json={"status": "withdrawn", "effective_date": "2026-01-01"})
            assert got.status_code == 403, got.text
    forget_engines(url)
