"""Fixtures for the service tests: a migrated PostgreSQL database, and the application's
own role (not the owner of the tables), created for the test and dropped after it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import Session

from cohort.db import engine_for, forget_engines
from cohort.migrate import upgrade
from cohort.rls import grant_app_role
from cohort.vocab import Group, Role
from tests.api.conftest import World, add_user
from tests.conftest import PG_ADMIN_URL, TODAY, pg_database
from tests.factories import Factory


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


def seed_world(url: str, participants: int = 1) -> World:
    """Committed data: two centres (C01, C02), an outreach worker each, a national research
    officer, a statistician and a data manager; per centre ``participants`` people with an
    M0 questionnaire and an AERLI session with one trained worker (saved and flagged)."""
    with Session(engine_for(url), expire_on_commit=False) as session:
        factory = Factory(session, today=TODAY)
        a, b = factory.centre("C01"), factory.centre("C02")
        world = World(a, b)
        world.users["worker_a"] = add_user(session, "worker.a", Role.OUTREACH_WORKER, a)
        world.users["worker_b"] = add_user(session, "worker.b", Role.OUTREACH_WORKER, b)
        world.users["officer"] = add_user(session, "officer", Role.RESEARCH_OFFICER, None)
        world.users["statistician"] = add_user(session, "stat", Role.STATISTICIAN, None)
        world.users["admin"] = add_user(session, "admin", Role.ADMIN, None)
        for key, centre in (("worker_a", a), ("worker_b", b)):
            actor = factory.actor(world.users[key].staff)
            for i in range(participants):
                person = factory.participant(
                    actor, group=Group.INTERVENTION if i % 2 == 0 else Group.COMPARISON)
                factory.questionnaire(actor, person)
                factory.aerli_session(actor, person, staff=[world.users[key].staff])
                if i == 0:
                    setattr(world, "pa" if centre is a else "pb", person)
    return world
