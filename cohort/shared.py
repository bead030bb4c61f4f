"""Values every server process sees alike: in Redis when one is configured, else the database.

Several server processes (``cohort serve --workers N``, or several machines) each answer
some of a person's requests, so nothing a later request needs may live in one process's
memory: the annotated copy of an import waiting to be downloaded, the cached retention
summary. ``shared_store()`` gives the one store of the deployment:

* ``COHORT_REDIS_URL`` set: Redis (``SET ... EX``; Redis expires the keys itself);
* otherwise the database: on PostgreSQL the ``shared_value`` table, through connections of
  their own (writing a cached value never joins a request's transaction); on SQLite the
  same table in a file beside the study database (``sidecar_path``), which every process
  on the machine opens, so that a cache write never waits behind a long import holding the
  study's write lock. A best-effort write (a cache) that fails is only a miss later.

Values are bytes with a time to live; keys are short strings chosen by the caller.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import delete, event, select
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import create_engine

from cohort.models import utcnow
from cohort.models_ops import SharedValue
from cohort.recent import Recent
from cohort.settings import Settings, get_settings

log = logging.getLogger(__name__)
_TABLE = SharedValue.__table__  # type: ignore[attr-defined]


class SharedStore(Protocol):
    """Bytes by key, with a time to live, seen by every server process."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, value: bytes, ttl_seconds: int, *, best_effort: bool = False
            ) -> bool: ...

    def delete(self, key: str) -> None: ...


class DatabaseStore:
    """``shared_value`` rows, written in short transactions of their own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writes = 0
        # Values put ``best_effort`` (caches, whose keys name the state they were computed
        # at) are also kept in this process: read back without a query, and there even
        # when the database was too busy to take them.
        self._kept: Recent[bytes] = Recent(KEPT)

    def get(self, key: str) -> bytes | None:
        kept = self._kept.get(key)
        if kept is not None:
            return kept
        with self.engine.connect() as connection:
            row = connection.execute(
                select(_TABLE.c.value, _TABLE.c.expires_at).where(_TABLE.c.key == key)
            ).first()
        if row is None or row.expires_at <= utcnow():
            return None
        return bytes(row.value)

    def put(self, key: str, value: bytes, ttl_seconds: int, *, best_effort: bool = False
            ) -> bool:
        expires = utcnow() + timedelta(seconds=ttl_seconds)
        if best_effort:
            self._kept.put(key, value, ttl_seconds)
        else:  # a value that must be shared is read from the database only
            self._kept.pop(key)
        # SQLite has one writer at a time: a cache's value waits a moment for the write
        # lock, not the ten seconds a save may wait (this process keeps it anyway).
        quick = best_effort and self.engine.dialect.name == "sqlite"
        try:
            with self.engine.connect() as connection:
                usual = _busy_timeout(connection, QUICK_MS) if quick else None
                try:
                    with connection.begin():
                        connection.execute(delete(_TABLE).where(_TABLE.c.key == key))
                        connection.execute(_TABLE.insert().values(key=key, value=value,
                                                                  expires_at=expires))
                        self._writes += 1
                        if self._writes % 100 == 1:
                            connection.execute(
                                delete(_TABLE).where(_TABLE.c.expires_at <= utcnow()))
                finally:
                    if usual is not None:
                        _restore_busy_timeout(connection, usual)
        except (SQLAlchemyError, sqlite3.Error) as error:  # busy, or a concurrent writer
            if not best_effort:
                raise
            log.info("shared value %s not stored: %s", key.split(":", 1)[0],
                     str(getattr(error, "orig", error)).splitlines()[0])
            return False
        return True

    def delete(self, key: str) -> None:
        self._kept.pop(key)
        with self.engine.begin() as connection:
            connection.execute(delete(_TABLE).where(_TABLE.c.key == key))


#: Best-effort values a process keeps, and how long (ms) such a value waits for SQLite.
KEPT = 64
QUICK_MS = 50


def _busy_timeout(connection: Connection, milliseconds: int) -> int:
    """Set SQLite's busy timeout on this connection alone, outside any transaction; the
    value it had (each engine sets its own: the sidecar store's is not the database's)."""
    driver = connection.connection.driver_connection
    usual = int(driver.execute("PRAGMA busy_timeout").fetchone()[0])  # type: ignore[union-attr]
    driver.execute(f"PRAGMA busy_timeout={int(milliseconds)}")  # type: ignore[union-attr]
    return usual


def _restore_busy_timeout(connection: Connection, milliseconds: int) -> None:
    """Put the timeout back; a connection that cannot take it is not pooled again."""
    try:
        _busy_timeout(connection, milliseconds)
    except sqlite3.Error:
        connection.invalidate()
        raise


class MemoryStore:
    """For an in-memory SQLite database, which only one process can open anyway."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            found = self._values.get(key)
        return found[0] if found is not None and found[1] > time.monotonic() else None

    def put(self, key: str, value: bytes, ttl_seconds: int, *, best_effort: bool = False
            ) -> bool:
        with self._lock:
            now = time.monotonic()
            for old in [k for k, (_, until) in self._values.items() if until <= now]:
                del self._values[old]
            self._values[key] = (value, now + ttl_seconds)
        return True

    def delete(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)


class RedisStore:
    """Keys under a prefix in Redis; Redis expires them."""

    def __init__(self, url: str, prefix: str = "cohort:") -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix

    def get(self, key: str) -> bytes | None:
        value = self.client.get(self.prefix + key)
        return bytes(value) if isinstance(value, bytes | bytearray) else None

    def put(self, key: str, value: bytes, ttl_seconds: int, *, best_effort: bool = False
            ) -> bool:
        return bool(self.client.set(self.prefix + key, value, ex=max(1, ttl_seconds)))

    def delete(self, key: str) -> None:
        self.client.delete(self.prefix + key)


def sidecar_path(database: str) -> Path:
    """Where an SQLite study database keeps its shared values: a file of its own beside
    it, so that writing a cached value never waits for the study's write lock (held by a
    long import) and never holds it up."""
    return Path(database + ".shared")


def _database_store(url: str) -> SharedStore:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        from cohort.db import engine_for

        return DatabaseStore(engine_for(url))
    if not parsed.database or parsed.database == ":memory:":
        return MemoryStore()
    engine = create_engine(f"sqlite:///{sidecar_path(parsed.database)}",
                           connect_args={"check_same_thread": False, "timeout": 5})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    _TABLE.create(engine, checkfirst=True)
    return DatabaseStore(engine)


_STORES: dict[tuple[str, str | None], SharedStore] = {}
_LOCK = threading.Lock()


def shared_store(database_url: str | None = None, settings: Settings | None = None
                 ) -> SharedStore:
    """The deployment's store: Redis when ``COHORT_REDIS_URL`` is set, else the database
    at ``database_url`` (default: the configured one). One per URL and process."""
    settings = settings or get_settings()
    url = database_url or settings.database_url
    key = (url, settings.redis_url)
    with _LOCK:
        store = _STORES.get(key)
        if store is None:
            store = (RedisStore(settings.redis_url) if settings.redis_url
                     else _database_store(url))
            _STORES[key] = store
    return store


def forget_stores() -> None:
    """Drop the stores made so far (tests that change settings)."""
    with _LOCK:
        for store in _STORES.values():
            if isinstance(store, DatabaseStore) and store.engine.dialect.name == "sqlite":
                store.engine.dispose()
        _STORES.clear()
