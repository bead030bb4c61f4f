"""Fixtures for the service tests: a migrated PostgreSQL database, and the application's
own role (not the owner of the tables), created for the test and dropped after it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from cohort.db import engine_for, forget_engines
from cohort.migrate import upgrade
from cohort.rls import grant_app_role
from tests.conftest import PG_ADMIN_URL, pg_database


@dataclass(frozen=True)
class AppDatabase:
    owner_url: str  # migrations, seeding, the command line
    app_url: str  # what the web application connects as (under row-level security)
    role: str


@pytest.fixture
def migrated_pg(pg_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database brought to the head revision by the migrations."""
    with pg_database("cohort_ops") as url:
        upgrade(url)
        yield url


@pytest.fixture
def app_database(migrated_pg: str) -> Iterator[AppDatabase]:
    role = f"cohort_app_{uuid.uuid4().hex[:8]}"
    with engine_for(migrated_pg).begin() as connection:
        assert grant_app_role(connection, role)
    app_url = make_url(migrated_pg).set(username=role).render_as_string(hide_password=False)
    try:
        yield AppDatabase(migrated_pg, app_url, role)
    finally:
        forget_engines(app_url)
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"),
                {"r": role})
        with engine_for(migrated_pg).begin() as connection:
            connection.exec_driver_sql(f"DROP OWNED BY {role}")
        forget_engines(migrated_pg)
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()
