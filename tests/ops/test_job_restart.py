"""A job survives the restart of the web process that runs it: killed half-way (SIGKILL,
nothing cleaned up), the job is run again from the start by the next server and finishes
once, with one export-log entry (its work is all-or-nothing)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from cohort.db import engine_for, forget_engines
from cohort.migrate import upgrade
from cohort.models import ExportLog
from cohort.vocab import ExportKind, Role
from tests.api.conftest import PASSWORD, add_user
from tests.conftest import TODAY, pg_database
from tests.ops.servers import client, serve, stop

pytestmark = [pytest.mark.db, pytest.mark.slow]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'restart.db'}"
        _seed(url)
        yield url
        forget_engines(url)
        return
    request.getfixturevalue("pg_url")
    with pg_database("cohort_restart") as url:
        _seed(url)
        yield url


def _seed(url: str) -> None:
    from cohort.demo import build_demo

    upgrade(url)
    with Session(engine_for(url), expire_on_commit=False) as session:
        build_demo(session, participants=400, seed=5, as_of=TODAY)
        add_user(session, "officer", Role.RESEARCH_OFFICER, None)


def _state(base: str, job: str, who: dict[str, str]) -> dict[str, Any]:
    with client() as c:
        got = c.get(f"{base}/api/v1/jobs/{job}", headers=who)
    assert got.status_code == 200, got.text
    return dict(got.json())


def test_a_job_killed_half_way_finishes_after_the_restart(database: str,
                                                           tmp_path: Path) -> None:
    env = {"COHORT_JOB_STALLED_SECONDS": "4"}
    with serve(database, tmp_path, workers=1, env=env) as first:
        with client() as c:
            token = c.post(first.base + "/api/v1/auth/token",
                           data={"username": "officer", "password": PASSWORD}).json()
            who = {"Authorization": f"Bearer {token['access_token']}"}
            queued = c.post(first.base + "/api/v1/analyses", headers=who,
                            json={"what": "all", "purpose": "Steering committee"})
        assert queued.status_code == 202, queued.text
        job = queued.json()["id"]
        deadline = time.monotonic() + 60
        while _state(first.base, job, who)["status"] != "running":
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.05)
        time.sleep(0.5)  # inside the work now
        stop(first, signal.SIGKILL)
    killed = _state_after_kill(database, job)
    assert killed == "running"  # the row says running; its process is gone

    with serve(database, tmp_path, workers=1, env=env) as second:
        deadline = time.monotonic() + 240
        while (state := _state(second.base, job, who))["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, state
            time.sleep(0.5)
    assert state["status"] == "done", state["error"]
    assert state["attempts"] >= 2
    with Session(engine_for(database)) as session:
        entries = session.exec(select(ExportLog).where(
            ExportLog.kind == ExportKind.ANALYSIS)).all()
    assert len(entries) == 1 and entries[0].purpose == "Steering committee"


def _state_after_kill(url: str, job: str) -> str | None:
    from cohort.jobs.store import status_of

    return status_of(engine_for(url), job)
