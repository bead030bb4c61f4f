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


def test_a_writer_gives_its_turn_back_when_it_commits_and_only_once(tmp_path: Path) -> None:
    """The next writer of the process goes as soon as the first one's transaction commits
    (its answer is still being written out); the end of the request does not give the
    turn back a second time (two writers would then go at once)."""
    import anyio
    from sqlalchemy import event
    from sqlmodel import Session

    from api.deps import _Turn

    url = f"sqlite:///{tmp_path / 'turn.db'}"
    engine = engine_for(url)

    async def main() -> None:
        turn = anyio.Semaphore(1)
        await turn.acquire()
        mine = _Turn(turn)
        session = Session(engine)
        event.listen(session, "after_commit", mine.committed)

        def write() -> None:
            session.execute(text("CREATE TABLE t (x INTEGER)"))
            session.commit()

        await anyio.to_thread.run_sync(write)
        with anyio.fail_after(5):
            await turn.acquire()  # the next writer, before the first request has ended
        mine.give_back()  # the first request ends
        assert turn.value == 0  # still held by the next writer alone
        turn.release()
        session.close()

    try:
        anyio.run(main)
    finally:
        forget_engines(url)
