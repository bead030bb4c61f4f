"""API fixtures: the app bound to the test's rolled-back ``session`` (SQLite and PostgreSQL).

``world`` builds two centres, one person per role (plus a research officer limited to the
second centre) with a bearer token each, and one participant per centre. Accounts get a
pre-computed Argon2 hash so that building the world costs no hashing time.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from fastapi import FastAPI, Request

with warnings.catch_warnings():
    # Starlette 1.x prefers the httpx2 package; the installed httpx works the same here.
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.app import create_app
from api.deps import get_session
from api.redcap.router import redcap_session
from cohort.cli.users import register
from cohort.db import create_schema, engine_for
from cohort.models import Account, Centre, CentreCreate, Participant, Staff, StaffCreate
from cohort.services.accounts import hash_password, issue_token
from cohort.services.context import COMMAND_LINE
from cohort.services.setup import create_centre, create_staff
from cohort.settings import Settings, get_settings
from cohort.vocab import Group, Role
from tests.conftest import TODAY
from tests.factories import Factory

PASSWORD = "correct horse battery"
_HASH: list[str] = []


def fixed_key_settings() -> Settings:
    """The environment's settings with a fixed session key (no key file written), and no
    job runner in the server (tests of jobs turn it on)."""
    return get_settings().model_copy(update={"secret_key": "test-only-session-key-" * 3,
                                             "jobs_in_server": False})


def password_hash() -> str:
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    return _HASH[0]


@pytest.fixture
def app(engine: Engine, session: Session) -> Iterator[FastAPI]:
    application = create_app(fixed_key_settings(), engine=engine, today=lambda: TODAY)

    def bound(request: Request) -> Iterator[Session]:
        request.state.db_session = session  # as get_session does (the throttle uses it)
        try:
            yield session
        finally:
            session.rollback()

    application.dependency_overrides[get_session] = bound
    application.dependency_overrides[redcap_session] = bound
    yield application
    application.dependency_overrides.clear()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@dataclass
class User:
    username: str
    staff: Staff
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    a: Centre
    b: Centre
    users: dict[str, User] = field(default_factory=dict)
    pa: Participant | None = None
    pb: Participant | None = None

    def h(self, who: str) -> dict[str, str]:
        return self.users[who].headers


def add_user(session: Session, username: str, role: Role, centre: Centre | None,
             extra_centre_ids: list[int] | None = None, trained: bool = True) -> User:
    staff = create_staff(
        session, actor=COMMAND_LINE,
        data=StaffCreate(display_name=f"Name of {username}", role=role,
                         centre_id=centre.id if centre else None,
                         aerli_trained_on=TODAY - timedelta(days=900) if trained else None),
        extra_centre_ids=extra_centre_ids,
    )
    assert staff.id is not None
    account = Account(username=username, password_hash=password_hash(), staff_id=staff.id)
    session.add(account)
    session.commit()
    return User(username, staff, issue_token(session, account=account))


@pytest.fixture
def world(session: Session, factory: Factory) -> World:
    a, b = factory.centre("C01"), factory.centre("C02")
    w = World(a, b)
    w.users["worker_a"] = add_user(session, "worker.a", Role.OUTREACH_WORKER, a)
    w.users["worker_a2"] = add_user(session, "worker.a2", Role.OUTREACH_WORKER, a)
    w.users["worker_b"] = add_user(session, "worker.b", Role.OUTREACH_WORKER, b)
    w.users["officer"] = add_user(session, "officer", Role.RESEARCH_OFFICER, None)
    w.users["officer_b"] = add_user(session, "officer.b", Role.RESEARCH_OFFICER, None,
                                    extra_centre_ids=[b.id or 0])
    w.users["statistician"] = add_user(session, "stat", Role.STATISTICIAN, None)
    w.users["admin"] = add_user(session, "admin", Role.ADMIN, None)
    w.pa = factory.participant(factory.actor(w.users["worker_a"].staff), group=Group.INTERVENTION)
    w.pb = factory.participant(factory.actor(w.users["worker_b"].staff), group=Group.COMPARISON)
    return w


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[typer.Typer, str]]:
    """The ``cohort user`` commands on a fresh SQLite file with centre C04."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("COHORT_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = engine_for(url)
    create_schema(engine)
    with Session(engine) as session:
        create_centre(session, actor=COMMAND_LINE,
                      data=CentreCreate(code="C04", name="Four", city="Metz"))
    app = typer.Typer()
    register(app)
    yield app, url
    engine.dispose()
    get_settings.cache_clear()
