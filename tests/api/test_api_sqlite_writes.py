"""On SQLite, a writing request takes the write lock when its transaction begins.

A deferred transaction that reads and then writes while another request writes fails at
once with "database is locked"; beginning IMMEDIATE makes it wait (busy timeout) instead.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text

from api.deps import _sqlite_writer
from cohort.db import engine_for, forget_engines


def _request(method: str, engine: Any) -> Any:
    return SimpleNamespace(method=method, app=SimpleNamespace(state=SimpleNamespace(engine=engine)))


def test_writing_requests_begin_immediate_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        assert _sqlite_writer(_request("GET", engine)) is None
        # A REDCap export is a POST that only reads: it does not queue behind writers.
        assert _sqlite_writer(_request("POST", engine), write=False) is None
        request = _request("POST", engine)
        writer = _sqlite_writer(request)
        assert writer is not None and _sqlite_writer(request) is writer
        with writer.engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT count(*) FROM t"))  # only a read so far
            other = sqlite3.connect(tmp_path / "lock.db", timeout=0, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
    finally:
        forget_engines(url)


def test_a_writer_gives_its_turn_back_when_its_transaction_ends_and_takes_it_again(
        tmp_path: Path) -> None:
    """The next writer of the process goes as soon as the first one's transaction commits
    (its answer is still being written out), not when a savepoint is released inside
    it; the first one waits for its turn again before it begins another transaction; the
    end of the request never gives a turn back twice (two writers would go at once)."""
    import threading

    import anyio
    from sqlmodel import Session

    from api.deps import _Turn

    url = f"sqlite:///{tmp_path / 'turn.db'}"
    engine = engine_for(url).execution_options(sqlite_begin="IMMEDIATE")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    began_again = threading.Event()

    async def main() -> None:
        turn = anyio.Semaphore(1)
        await turn.acquire()
        mine = _Turn(turn, wait_seconds=5)
        session = Session(engine)
        mine.watch(session)

        def write_with_a_savepoint() -> None:
            session.execute(text("INSERT INTO t VALUES (1)"))
            nested = session.begin_nested()  # an enrolment, a row of an import
            session.execute(text("INSERT INTO t VALUES (2)"))
            nested.commit()

        await anyio.to_thread.run_sync(write_with_a_savepoint)
        await anyio.sleep(0.05)
        assert turn.value == 0  # the transaction is still open: still this writer's turn
        await anyio.to_thread.run_sync(session.commit)
        with anyio.fail_after(5):
            await turn.acquire()  # the next writer, before the first request has ended

        def write_again() -> None:
            session.execute(text("INSERT INTO t VALUES (3)"))  # waits for its turn
            began_again.set()
            session.commit()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(anyio.to_thread.run_sync, write_again)
            await anyio.sleep(0.2)
            assert not began_again.is_set()  # behind the writer holding the turn
            turn.release()  # that writer is done
        assert began_again.is_set()
        mine.give_back()  # the first request ends: its turn went back at its commit
        assert turn.value == 1
        session.close()

    try:
        anyio.run(main)
    finally:
        forget_engines(url)
