"""``cohort.db.violates`` tells a broken unique key from any other failure of the table:
on SQLite by the columns the message names, on PostgreSQL by the constraint's name."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import IntegrityError

from cohort.db import violates


def _failure(*statements: str) -> IntegrityError:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE sync_receipt (entry_uuid TEXT PRIMARY KEY, kind TEXT NOT NULL)")
    db.execute("CREATE TABLE external_record (id INTEGER PRIMARY KEY, source TEXT, "
               "external_id TEXT, UNIQUE (source, external_id))")
    try:
        for statement in statements:
            db.execute(statement)
    except sqlite3.IntegrityError as error:
        return IntegrityError(statements[-1], {}, error)
    pytest.fail("no failure")


def test_sqlite_failures_are_told_apart_by_their_columns() -> None:
    taken = _failure("INSERT INTO sync_receipt VALUES ('u', 'enrolment')",
                     "INSERT INTO sync_receipt VALUES ('u', 'enrolment')")
    assert violates(taken, "sync_receipt", "sync_receipt_pkey", ("entry_uuid",))
    missing = _failure("INSERT INTO sync_receipt VALUES ('v', NULL)")
    assert not violates(missing, "sync_receipt", "sync_receipt_pkey", ("entry_uuid",))
    linked = _failure("INSERT INTO external_record (source, external_id) VALUES ('r', '1')",
                      "INSERT INTO external_record (source, external_id) VALUES ('r', '1')")
    assert violates(linked, "external_record", "uq_external_record_source_id",
                    ("source", "external_id"))
    assert not violates(linked, "external_record", "uq_external_record_source_id",
                        ("source",))
