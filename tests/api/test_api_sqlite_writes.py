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
