"""The alembic migrations build exactly the schema the models describe, on both engines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from cohort.db import engine_for
from cohort.migrate import upgrade
from tests.conftest import pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/migrated.db"
        return
    request.getfixturevalue("pg_url")  # fails in CI / skips locally when unreachable
    with pg_database("cohort_mig") as url:
        yield url


def test_migrations_match_models_and_install_guards(empty_url: str) -> None:
    upgrade(empty_url)
    upgrade(empty_url)  # idempotent
    engine = engine_for(empty_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                SQLModel.metadata)
        assert diff == []
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO centre (code, name, city, active) "
                             "VALUES ('C99', 'Test', 'Lyon', true)"))
        conn.execute(sa.text("INSERT INTO audit_entry (at, action, table_name, record_id) "
                             "VALUES (CURRENT_TIMESTAMP, 'create', 'centre', 1)"))
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_entry"))


def test_migration_0019_makes_the_data_protection_logs_append_only(empty_url: str) -> None:
    upgrade(empty_url)
    engine = engine_for(empty_url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO staff (display_name, role, active, created_at) "
                             "VALUES ('Data manager', 'admin', true, CURRENT_TIMESTAMP)"))
        conn.execute(sa.text("INSERT INTO study_lock (at, action, actor_id, reason) "
                             "VALUES (CURRENT_TIMESTAMP, 'lock', 1, 'end')"))
        conn.execute(sa.text(
            "INSERT INTO export_log (at, actor_name, channel, kind, fmt, fields, rows, "
            "free_text, deidentified) VALUES (CURRENT_TIMESTAMP, 'os:x', 'cli', 'export', "
            "'csv', '[]', 1, false, true)"))
    for table in ("study_lock", "export_log"):
        for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):  # noqa: S608
            with pytest.raises(sa.exc.DBAPIError, match="(?i)append-only|never rewritten"), \
                    engine.begin() as conn:
                conn.execute(sa.text(statement))
