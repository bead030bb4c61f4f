"""Engine and session factory.

Nothing connects at import time: the engine is built from the settings on first use and
cached per URL, so tests can point the whole stack at a throw-away database.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, SQLModel, create_engine

from cohort.settings import get_settings
from forms.i18n import N_

#: How long a SQLite writer waits for the write lock before it is told the database is busy.
SQLITE_BUSY_MS = 10000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, open transactions, so SAVEPOINTs work (see
    # "pysqlite serializable isolation / savepoints" in the SQLAlchemy docs).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


SQLITE_BEGIN_MODES = {"DEFERRED", "IMMEDIATE"}


def _sqlite_begin(connection: Any) -> None:
    # A deferred transaction that reads and then writes while another connection writes
    # fails at once with "database is locked" (busy_timeout cannot wait for it), so
    # concurrent writers such as web requests ask for the write lock up front with
    # ``engine.execution_options(sqlite_begin="IMMEDIATE")``.
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    if mode not in SQLITE_BEGIN_MODES:
        raise ValueError(f"sqlite_begin must be one of {sorted(SQLITE_BEGIN_MODES)}")
    connection.exec_driver_sql(f"BEGIN {mode}")


_ENGINES: dict[tuple[str, bool], Engine] = {}


def engine_for(url: str, echo: bool = False) -> Engine:
    """Build (once per URL) an engine; SQLite gets WAL and enforced foreign keys."""
    key = (url, bool(echo))
    if key not in _ENGINES:
        _ENGINES[key] = _build_engine(url, echo)
    return _ENGINES[key]


def forget_engines(url: str) -> None:
    """Close and drop the cached engines of ``url`` (before its SQLite file is replaced)."""
    for key in [k for k in _ENGINES if k[0] == url]:
        _ENGINES.pop(key).dispose()


def _build_engine(url: str, echo: bool) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


_LOCK_LIMITED: weakref.WeakSet[Engine] = weakref.WeakSet()


def limit_lock_waits(engine: Engine, seconds: float) -> None:
    """PostgreSQL: a statement of this engine waits at most ``seconds`` for a row or table
    lock (``lock_timeout``), then fails as busy (``is_busy``: 503 on the web) rather than
    hold its request, and the requests queued behind it, for as long as another writer
    (a long import) runs. Applies to connections made from now on; idempotent."""
    if engine.dialect.name != "postgresql" or engine in _LOCK_LIMITED:
        return
    milliseconds = max(1, int(seconds * 1000))
    _LOCK_LIMITED.add(engine)

    def set_lock_timeout(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET lock_timeout = {milliseconds}")
        cursor.close()
        dbapi_connection.commit()  # SET is undone by a rollback of its transaction

    event.listen(engine, "connect", set_lock_timeout)


def get_engine() -> Engine:
    """The engine for the configured database URL."""
    settings = get_settings()
    return engine_for(settings.database_url, settings.echo_sql)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that is always closed; services commit, callers never need to."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        yield session


def create_schema(engine: Engine) -> None:
    """Create every table and the append-only guards (tests and ``cohort init``).

    Production databases are created by the alembic migrations, which produce the same
    schema; a test checks the two agree.
    """
    from cohort import models  # noqa: F401  (registers the tables)
    from cohort.guards import install_guards

    SQLModel.metadata.create_all(engine)
    install_guards(engine)
    if engine.dialect.name == "postgresql":
        from cohort.queue_schema import install_queue_schema
        from cohort.rls import install_policies

        with engine.begin() as connection:
            install_policies(connection)
            install_queue_schema(connection)


#: Shown in the reader's language with ``_(BUSY_MESSAGE)``.
BUSY_MESSAGE = N_("The database is busy: another import or save is in progress. Nothing was "
                  "saved; please try again in a minute.")
#: PostgreSQL: lock not available, deadlock detected, serialization failure.
BUSY_STATES = frozenset({"55P03", "40P01", "40001"})


def is_busy(error: BaseException) -> bool:
    """Whether a database error means another writer holds the lock (worth a retry).

    SQLite says "database is locked" (or busy) once its busy timeout has run out;
    PostgreSQL gives a lock timeout, a deadlock or a serialization failure. Every entry
    point (command line, web) answers these with ``BUSY_MESSAGE``, not a server error.
    """
    if not isinstance(error, OperationalError):
        return False
    text = str(error.orig).lower()
    state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return "database is locked" in text or "database is busy" in text \
        or state in BUSY_STATES


def violates(error: IntegrityError, table: str, constraint: str, columns: Sequence[str]
             ) -> bool:
    """Whether ``error`` breaks the unique ``constraint`` of ``table`` on ``columns``.
    PostgreSQL names the constraint; SQLite names the columns ("UNIQUE constraint failed:
    table.a, table.b"), so another failure of the table (a NOT NULL, another key) is not
    taken for it."""
    named = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
    if named is not None:
        return bool(named == constraint)
    failed = "UNIQUE constraint failed: " + ", ".join(f"{table}.{c}" for c in columns)
    return str(error.orig).strip() == failed
