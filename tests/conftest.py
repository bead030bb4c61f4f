"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

Each test gets a session bound to one connection whose outer transaction is rolled back
afterwards (``join_transaction_mode="create_savepoint"``), so services may commit freely
and tests stay isolated. PostgreSQL gets its own throw-away database per test run; when
``CI`` is set an unreachable server fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from cohort.db import create_schema, engine_for, forget_engines
from cohort.settings import get_settings

# This process starts hundreds of apps: frozen out of the garbage collector (what a
# server does once it has started, ``api.app.lifespan``), each app's cycles would be kept
# to the end of the run. ``tests/ops/test_heap.py`` turns it on where it is tested.
os.environ.setdefault("COHORT_FREEZE_HEAP", "false")
PG_ADMIN_URL = os.environ.get(
    "COHORT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]
TODAY = date(2026, 11, 22)


def _pg_available() -> bool:
    try:
        probe = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with probe.connect():
            pass
        probe.dispose()
        return True
    except sa.exc.OperationalError:
        return False


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """Create a uniquely named PostgreSQL database, yield its URL, drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        forget_engines(url)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is unreachable at {PG_ADMIN_URL} and CI is set")
        pytest.skip("PostgreSQL not reachable (set CI=true to make this a failure)")
    with pg_database("cohort_test") as url:
        yield url


def _backend_url(backend: str, request: pytest.FixtureRequest, tmp_dir: Path) -> str:
    if backend == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_dir / 'cohort-test.db'}"


@pytest.fixture(scope="session", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated-equivalent schema on each backend, created once per run."""
    url = _backend_url(request.param, request, tmp_path_factory.mktemp(request.param))
    eng = engine_for(url)
    create_schema(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test, even if services commit."""
    connection = engine.connect()
    outer = connection.begin()
    db = Session(bind=connection, join_transaction_mode="create_savepoint",
                 expire_on_commit=False)
    try:
        yield db
    finally:
        db.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Clear cached settings so a test's COHORT_* environment takes effect."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def factory(session: Session) -> Factory:
    from tests.factories import Factory

    return Factory(session, today=TODAY)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "engine" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


if False:  # pragma: no cover - typing only
    from tests.factories import Factory
