"""A real server for the REDCap client tests: uvicorn on a free port, in a thread, over a
database of its own (a SQLite file, or a throw-away PostgreSQL database), seeded with a
small study and one REDCap token per role.

PyCap talks HTTP through ``requests``, so the honest test is a real socket: the same
uvicorn the study serves with, not a TestClient.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.app import create_app
from cohort.db import create_schema, engine_for
from cohort.models import Participant
from cohort.services.context import COMMAND_LINE
from cohort.services.redcap_tokens import new_redcap_token
from cohort.vocab import Group, Role, Timepoint
from tests.api.conftest import add_user, fixed_key_settings
from tests.conftest import TODAY, pg_database
from tests.factories import Factory


@dataclass
class Live:
    """The running server: its URL (ending in /api/), its database and the seeded study."""

    url: str
    database_url: str
    engine: Engine
    tokens: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(session: Session) -> tuple[dict[str, str], dict[str, str]]:
    """Two centres, one account per role with a token, four participants."""
    factory = Factory(session, today=TODAY)
    a, b = factory.centre("C01"), factory.centre("C02")
    users = {"admin": add_user(session, "admin", Role.ADMIN, None),
             "stat": add_user(session, "stat", Role.STATISTICIAN, None),
             "officer": add_user(session, "officer", Role.RESEARCH_OFFICER, None),
             "worker.a": add_user(session, "worker.a", Role.OUTREACH_WORKER, a),
             "worker.a2": add_user(session, "worker.a2", Role.OUTREACH_WORKER, a),
             "worker.b": add_user(session, "worker.b", Role.OUTREACH_WORKER, b)}
    tokens = {name: new_redcap_token(session, actor=COMMAND_LINE, username=name) for name in users}
    wa, wb = factory.actor(users["worker.a"].staff), factory.actor(users["worker.b"].staff)
    one: Participant = factory.participant(wa, group=Group.INTERVENTION)
    factory.questionnaire(wa, one, Timepoint("M0"), questionnaire_note="Met at the squat")
    factory.questionnaire(wa, one, Timepoint("M6"))
    factory.aerli_session(wa, one, staff=[users["worker.a"].staff, users["worker.a2"].staff],
                          note="Talked about filters")
    two = factory.participant(wa, group=Group.COMPARISON, age=52,
                              inclusion_date=TODAY - timedelta(days=300))
    factory.questionnaire(wa, two, Timepoint("M0"), share_syringe="1")
    three = factory.participant(wa, group=Group.INTERVENTION, age=23,
                                inclusion_date=TODAY - timedelta(days=20))
    four = factory.participant(wb, group=Group.COMPARISON)
    factory.questionnaire(wb, four, Timepoint("M0"))
    codes = {"one": one.code, "two": two.code, "three": three.code, "four": four.code}
    return tokens, codes


@contextmanager
def _database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'live.db'}"
        return
    with pg_database("cohort_redcap") as url:
        yield url


@contextmanager
def serving(app: FastAPI) -> Iterator[int]:
    """Serve ``app`` with uvicorn on a free port, in a thread, until the block ends."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextmanager
def live_server(backend: str, tmp: Path) -> Iterator[Live]:
    """Seed a database and serve it until the block ends."""
    with _database(backend, tmp) as database_url:
        engine = engine_for(database_url)
        create_schema(engine)
        with Session(engine, expire_on_commit=False) as session:
            tokens, codes = seed(session)
        app = create_app(fixed_key_settings(), engine=engine, today=lambda: TODAY)
        try:
            with serving(app) as port:
                yield Live(f"http://127.0.0.1:{port}/api/", database_url, engine, tokens,
                           codes)
        finally:
            engine.dispose()
