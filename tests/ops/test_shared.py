"""The shared store (``cohort.shared``): Redis when configured, else the database (an
SQLite sidecar file, PostgreSQL's ``shared_value``); values expire; each process sees
what another wrote."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
import redis

from cohort.db import engine_for
from cohort.migrate import upgrade
from cohort.settings import get_settings
from cohort.shared import (
    DatabaseStore,
    MemoryStore,
    RedisStore,
    SharedStore,
    shared_store,
    sidecar_path,
)

REDIS_URL = os.environ.get("COHORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _roundtrip(store: SharedStore) -> None:
    key = f"test:{uuid.uuid4().hex}"
    assert store.get(key) is None
    assert store.put(key, b"\x00value\xff", 60)
    assert store.get(key) == b"\x00value\xff"
    assert store.put(key, b"second", 60) and store.get(key) == b"second"
    assert store.put(key + ":short", b"x", 1)
    time.sleep(1.2)
    assert store.get(key + ":short") is None
    store.delete(key)
    assert store.get(key) is None


def test_the_sqlite_store_is_a_file_beside_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    upgrade(url)
    store = shared_store(url)
    assert isinstance(store, DatabaseStore)
    _roundtrip(store)
    assert sidecar_path(str(tmp_path / "study.db")).is_file()
    # Another process opening the same file sees the value (a second engine here).
    other = DatabaseStore(engine_for(f"sqlite:///{sidecar_path(str(tmp_path / 'study.db'))}"))
    store.put("seen", b"yes", 60)
    assert other.get("seen") == b"yes"
    assert isinstance(shared_store("sqlite://"), MemoryStore)


def test_the_postgresql_store_is_a_table(migrated_pg: str) -> None:
    store = shared_store(migrated_pg)
    assert isinstance(store, DatabaseStore)
    _roundtrip(store)


def test_redis_is_used_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is unreachable at {REDIS_URL} and CI is set")
        pytest.skip("Redis not reachable")
    monkeypatch.setenv("COHORT_REDIS_URL", REDIS_URL)
    get_settings.cache_clear()
    try:
        store = shared_store("sqlite://")
        assert isinstance(store, RedisStore)
        _roundtrip(store)
    finally:
        get_settings.cache_clear()


def test_a_cache_value_waits_a_moment_for_a_busy_sqlite_not_ten_seconds(
        tmp_path: Path) -> None:
    """Best-effort values (the retention caches) are kept in the process at once and give
    up on the store's database after ``QUICK_MS`` when another writer holds its lock; the
    store's own busy timeout is back afterwards, and a value that must be shared replaces
    the kept one."""
    from cohort.shared import QUICK_MS

    store = shared_store(f"sqlite:///{tmp_path / 'cohort.db'}")
    assert isinstance(store, DatabaseStore)  # the sidecar file's store
    other = DatabaseStore(store.engine)      # another process, as far as kept values go

    def timeout() -> int:
        with store.engine.connect() as connection:
            return int(connection.connection.driver_connection.execute(  # type: ignore[union-attr]
                "PRAGMA busy_timeout").fetchone()[0])

    usual = timeout()
    with store.engine.connect() as holder:
        holder.exec_driver_sql(  # another writer holds the lock, in its transaction
            "INSERT INTO shared_value (key, value, expires_at) VALUES ('held', x'00', "
            "'2999-01-01 00:00:00')")
        started = time.monotonic()
        assert store.put("cache:a", b"figures", 60, best_effort=True) is False
        waited = time.monotonic() - started
        assert QUICK_MS / 1000 <= waited < 2.0, waited
        assert store.get("cache:a") == b"figures"  # kept by this process
        assert other.get("cache:a") is None        # not in the database
        holder.rollback()
    assert timeout() == usual == 5000
    assert store.put("cache:a", b"figures", 60, best_effort=True)
    assert other.get("cache:a") == b"figures"
    assert other.put("cache:a", b"newer", 60)  # must be shared: from the database
    store.put("cache:a", b"must", 60)
    assert store.get("cache:a") == b"must" and other.get("cache:a") == b"must"
