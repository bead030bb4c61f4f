"""Background jobs (``cohort.jobs``): exports, the analysis report and imports queued from
the API, run by the server's own runner (a thread on SQLite, procrastinate on
PostgreSQL), polled, downloaded; owned by who asked; logged through ``record_export``."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from api.app import create_app
from cohort.db import engine_for, forget_engines
from cohort.migrate import upgrade
from cohort.models import ExportLog
from cohort.vocab import ExportKind
from tests.api.conftest import PASSWORD, TestClient, World, fixed_key_settings
from tests.conftest import TODAY, pg_database
from tests.ops.conftest import seed_world

pytestmark = pytest.mark.db


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path: Path
           ) -> Iterator[tuple[TestClient, World, str]]:
    demo = 150 if "analysis" in request.node.name else 0
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobs.db'}"
        yield from _serve(url, demo)
        return
    request.getfixturevalue("pg_url")
    with pg_database("cohort_jobs") as url:
        yield from _serve(url, demo)


def _serve(url: str, demo: int = 0) -> Iterator[tuple[TestClient, World, str]]:
    upgrade(url)
    if demo:  # a realistic cohort for the models, and a national research officer
        from cohort.demo import build_demo
        from cohort.models import Centre
        from cohort.vocab import Role
        from tests.api.conftest import add_user

        with Session(engine_for(url), expire_on_commit=False) as session:
            build_demo(session, participants=demo, seed=3, as_of=TODAY)
            a, b = session.exec(select(Centre).order_by(Centre.code).limit(2)).all()
            world = World(a, b)
            world.users["officer"] = add_user(session, "officer", Role.RESEARCH_OFFICER, None)
    else:
        world = seed_world(url, participants=6)
    settings = fixed_key_settings().model_copy(update={"database_url": url,
                                                       "jobs_in_server": True})
    app = create_app(settings, engine=engine_for(url), today=lambda: TODAY)
    with TestClient(app) as client:
        yield client, world, url
    forget_engines(url)


def headers(client: TestClient, username: str) -> dict[str, str]:
    got = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert got.status_code == 200, got.text
    return {"Authorization": f"Bearer {got.json()['access_token']}"}


def wait_for(client: TestClient, job: dict[str, Any], who: dict[str, str],
             seconds: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    seen = set()
    while time.monotonic() < deadline:
        got = client.get(f"/api/v1/jobs/{job['id']}", headers=who)
        assert got.status_code == 200, got.text
        state = got.json()
        seen.add(state["status"])
        if state["status"] in ("done", "failed"):
            state["seen"] = seen
            return state
        time.sleep(0.2)
    raise AssertionError(f"job {job['id']} still {state['status']}: {state['progress_note']}")


def test_an_export_runs_in_the_background_and_is_logged_and_downloaded(
        served: tuple[TestClient, World, str]) -> None:
    client, world, url = served
    stat = headers(client, "stat")
    queued = client.post("/api/v1/exports", headers=stat,
                         json={"fmt": "csv", "shape": "wide",
                               "purpose": "Statistical analysis"})
    assert queued.status_code == 202, queued.text
    assert queued.headers["Location"] == f"/api/v1/jobs/{queued.json()['id']}"
    assert queued.json()["status"] in ("queued", "running", "done")
    state = wait_for(client, queued.json(), stat)
    assert state["status"] == "done", state["error"]
    assert state["result"]["rows"] == 12
    names = {f["name"] for f in state["files"]}
    data_file = state["result"]["file"]
    assert data_file in names and len(names) == 3
    got = client.get(f"/api/v1/jobs/{state['id']}/files/{data_file}", headers=stat)
    assert got.status_code == 200
    assert got.text.count("\n") == 13  # header and one row per participant
    with Session(engine_for(url)) as session:
        logged = session.exec(select(ExportLog).where(ExportLog.kind == ExportKind.EXPORT)
                              ).all()
    assert [(e.actor_name, e.rows, e.purpose, e.deidentified) for e in logged] == [
        ("stat", 12, "Statistical analysis", True)]
    # Someone else's job reads as unknown; an outreach worker cannot export everyone.
    officer = headers(client, "officer")
    assert client.get(f"/api/v1/jobs/{state['id']}", headers=officer).status_code == 404
    assert client.get(f"/api/v1/jobs/{state['id']}/files/{data_file}",
                      headers=officer).status_code == 404
    worker = headers(client, "worker.a")
    refused = client.post("/api/v1/exports", headers=worker, json={"fmt": "csv"})
    assert refused.status_code == 403 and refused.json()["rule_id"] == "scope.role"
    no_purpose = client.post("/api/v1/exports", headers=stat, json={"fmt": "csv"})
    assert no_purpose.status_code == 422
    assert no_purpose.json()["rule_id"] == "export.no_purpose"
    assert client.post("/api/v1/exports", headers=stat, json={
        "fmt": "csv", "include_free_text": True, "purpose": "x"}).status_code == 403


def test_the_analysis_report_runs_in_the_background(
        served: tuple[TestClient, World, str]) -> None:
    client, _, url = served
    officer = headers(client, "officer")
    queued = client.post("/api/v1/analyses", headers=officer,
                         json={"what": "retention"})
    assert queued.status_code == 202, queued.text
    state = wait_for(client, queued.json(), officer)
    assert state["status"] == "done", state["error"]
    name = state["result"]["file"]
    got = client.get(f"/api/v1/jobs/{state['id']}/files/{name}", headers=officer)
    import zipfile

    with zipfile.ZipFile(io.BytesIO(got.content)) as bundle:
        assert any(n.endswith(".html") for n in bundle.namelist())
        assert "estimates.csv" in bundle.namelist()
    with Session(engine_for(url)) as session:
        kinds = session.exec(select(ExportLog.kind)).all()
    assert ExportKind.ANALYSIS in kinds


def test_an_import_runs_in_the_background_all_or_nothing(
        served: tuple[TestClient, World, str]) -> None:
    client, world, _ = served
    worker = headers(client, "worker.a")
    csv_rows = ("record_id,redcap_event_name,visit_date,inj_freq\n"
                f"{world.pa.code if world.pa else ''},m6_arm_1,2030-01-01,3\n")
    queued = client.post("/api/v1/imports", headers=worker,
                         files={"file": ("m6.csv", csv_rows.encode(), "text/csv")})
    assert queued.status_code == 202, queued.text
    state = wait_for(client, queued.json(), worker)
    assert state["status"] == "done", state["error"]
    result = state["result"]
    assert result["problems"] >= 1 and result["written"] == 0
    assert result["annotated"] in {f["name"] for f in state["files"]}
    marked = client.get(f"/api/v1/jobs/{state['id']}/files/{result['annotated']}",
                        headers=worker)
    assert marked.status_code == 200
    book = load_workbook(io.BytesIO(marked.content))
    assert "Summary" in book.sheetnames
    assert state["progress_note"] == "Finished"


def _csrf(text: str) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found is not None
    return found.group(1)


def _sign_in(client: TestClient, username: str) -> None:
    login = client.get("/login")
    client.post("/login", data={"username": username, "password": PASSWORD,
                                "csrf_token": _csrf(login.text)})


def _follow(client: TestClient, url: str) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        page = client.get(url)
        assert page.status_code == 200
        if 'http-equiv="refresh"' not in page.text:
            return page.text
        time.sleep(0.2)
    raise AssertionError(f"{url} never finished")


def test_pages_start_an_export_and_follow_a_large_import(
        served: tuple[TestClient, World, str]) -> None:
    client, world, _ = served
    _sign_in(client, "stat")
    jobs = client.get("/jobs")
    assert 'id="export-form"' in jobs.text and "include_free_text" not in jobs.text
    started = client.post("/jobs/export", data={"csrf_token": _csrf(jobs.text), "fmt": "xlsx",
                                                "shape": "long", "purpose": "Data quality"},
                          follow_redirects=False)
    assert started.status_code == 303, started.text
    page = _follow(client, started.headers["location"])
    assert "Finished" in page and "Kept in the export log" in page
    link = page.split('id="job-files"')[1].split('href="')[1].split('"')[0]
    book = load_workbook(io.BytesIO(client.get(link).content))
    assert book.active is not None and book.active.max_row == 13
    client.post("/logout", data={"csrf_token": _csrf(page)})

    # An outreach worker's large import goes to the background and is followed there.
    client.app.state.settings = client.app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"job_import_bytes": 10})
    _sign_in(client, "worker.a")
    assert world.pa is not None
    form = client.get("/workbooks")
    assert 'id="export-form"' not in client.get("/jobs").text
    rows = ("record_id,redcap_event_name,visit_date,inj_freq\n"
            f"{world.pa.code},m6_arm_1,2030-01-01,3\n")
    sent = client.post("/workbooks/import", data={"csrf_token": _csrf(form.text)},
                       files={"file": ("m6.csv", rows.encode(), "text/csv")},
                       follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"].startswith("/jobs/")
    page = _follow(client, sent.headers["location"])
    assert "thing(s) to correct in m6.csv; nothing was saved" in page
    assert "m6-to-correct.xlsx" in page


def test_old_jobs_lose_their_files_but_keep_their_summary(
        served: tuple[TestClient, World, str]) -> None:
    from datetime import timedelta

    import sqlalchemy as sa

    from cohort.jobs import store
    from cohort.models import utcnow
    from cohort.models_ops import Job

    client, _, url = served
    stat = headers(client, "stat")
    queued = client.post("/api/v1/exports", headers=stat,
                         json={"fmt": "csv", "purpose": "Statistical analysis"}).json()
    state = wait_for(client, queued, stat)
    assert state["files"]
    engine = engine_for(url)
    assert store.sweep_files(engine, keep_days=7) == 0
    with engine.begin() as connection:
        connection.execute(sa.update(Job).where(Job.id == state["id"]).values(
            finished_at=utcnow() - timedelta(days=8)))
    assert store.sweep_files(engine, keep_days=7) > 0
    again = client.get(f"/api/v1/jobs/{state['id']}", headers=stat).json()
    assert again["files"] == [] and again["result"]["rows"] == 12
