"""``cohort serve --workers 4`` on PostgreSQL, connected as the application's role (row-level
security on): nothing that matters lives in one process. Every request opens a new
connection, so the kernel hands it to any of the four processes; the JSON logs say which
one answered (each line carries the request id and the process id)."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from cohort.vocab import Timepoint
from tests.api.conftest import PASSWORD
from tests.conftest import TODAY
from tests.factories import questionnaire_answers
from tests.ops.conftest import AppDatabase, seed_world
from tests.ops.servers import Server, client, serve

pytestmark = [pytest.mark.db, pytest.mark.slow]


def _token(server: Server, username: str) -> dict[str, str]:
    with client() as c:
        got = c.post(server.base + "/api/v1/auth/token",
                     data={"username": username, "password": PASSWORD})
    assert got.status_code == 200, got.text
    return {"Authorization": f"Bearer {got.json()['access_token']}"}


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found is not None
    return found.group(1)


def test_four_workers_share_throttle_downloads_cache_and_jobs(
        app_database: AppDatabase, tmp_path: Path) -> None:
    world = seed_world(app_database.owner_url)
    assert world.pa is not None
    with serve(app_database.app_url, tmp_path, workers=4) as server:
        ids: set[str] = set()

        # The lockout holds across processes: five wrong passwords, whoever answers each.
        with client() as c:
            for _ in range(5):
                got = c.post(server.base + "/api/v1/auth/token",
                             data={"username": "worker.b", "password": "wrong password"})
                assert got.status_code == 401, got.text
                ids.add(got.headers["X-Request-ID"])
            for _ in range(4):
                refused = c.post(server.base + "/api/v1/auth/token",
                                 data={"username": "worker.b", "password": PASSWORD})
                assert refused.status_code == 429, refused.text
                assert int(refused.headers["Retry-After"]) > 0
                ids.add(refused.headers["X-Request-ID"])
        # and every process refuses, however many ask at once
        assert len(server.pids_of(ids) | server.from_several(
            lambda c: c.post(server.base + "/api/v1/auth/token",
                             data={"username": "worker.b", "password": PASSWORD}),
            lambda got: None if got.status_code == 429 else pytest.fail(got.text))) >= 2

        # An annotated workbook downloads from whichever process answers.
        with client() as pages:
            login = pages.get(server.base + "/login")
            pages.post(server.base + "/login", data={
                "username": "worker.a", "password": PASSWORD, "csrf_token": _csrf(login.text)})
            form = pages.get(server.base + "/workbooks")
            assert form.status_code == 200
            future = (TODAY + timedelta(days=4000)).isoformat()
            rows = f"record_id,redcap_event_name,visit_date,inj_freq\n" \
                   f"{world.pa.code},m6_arm_1,{future},3\n"
            done = pages.post(server.base + "/workbooks/import",
                              data={"csrf_token": _csrf(form.text)},
                              files={"file": ("m6.csv", rows.encode(), "text/csv")})
            assert "nothing was saved" in done.text, done.text[-2000:]
            link = done.text.split('href="/workbooks/annotated/')[1].split('"')[0]

            def workbook(got: httpx.Response) -> None:
                assert got.status_code == 200 and got.content.startswith(b"PK")

            assert len(server.from_several(
                lambda c: c.get(f"{server.base}/workbooks/annotated/{link}"), workbook,
                cookies=pages.cookies)) >= 2

        # A cached retention figure is never stale after a save on another process.
        officer = _token(server, "officer")
        worker = _token(server, "worker.a")
        with client() as c:
            before = {r["centre_code"]: r["visits"][1]["done"] for r in
                      c.get(server.base + "/api/v1/retention", headers=officer).json()}
            for _ in range(4):  # every process has the figure cached now
                c.get(server.base + "/api/v1/retention", headers=officer)
            visit = world.pa.inclusion_date + timedelta(days=182)
            saved = c.post(f"{server.base}/api/v1/participants/{world.pa.code}/questionnaires/M6",
                           headers=worker,
                           json={"answers": questionnaire_answers(visit, Timepoint("M6"))})
            assert saved.status_code == 201, saved.text

            def fresh(got: httpx.Response) -> None:
                after = {r["centre_code"]: r["visits"][1]["done"] for r in got.json()}
                assert after["C01"] == before["C01"] + 1, after

            assert len(server.from_several(
                lambda c: c.get(server.base + "/api/v1/retention", headers=officer),
                fresh)) >= 2

        # A job queued on one process is polled on others and downloaded from any.
        stat = _token(server, "stat")
        with client() as c:
            queued = c.post(server.base + "/api/v1/exports", headers=stat,
                            json={"fmt": "csv", "purpose": "Statistical analysis"})
            assert queued.status_code == 202, queued.text
            deadline = time.monotonic() + 120
            while True:
                state = c.get(server.base + queued.headers["Location"], headers=stat).json()
                if state["status"] in ("done", "failed") or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            assert state["status"] == "done", state
            got = c.get(f"{server.base}/api/v1/jobs/{state['id']}/files/"
                        f"{state['result']['file']}", headers=stat)
            assert got.status_code == 200 and got.text.count("\n") == 4  # header, 3 visits

            # Operations: healthy, and the metrics add up every process's requests.
            health = c.get(server.base + "/healthz").json()
            assert health["status"] == "ok" and health["schema"] == health["expected"]
            metrics = c.get(server.base + "/metrics").text
        total = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                    if line.startswith("cohort_http_requests_total{"))
        assert total >= 40
        assert 'route="/api/v1/participants/{code}/questionnaires/{timepoint}"' in metrics
        assert world.pa.code not in metrics
        assert 'cohort_jobs_total{kind="export",outcome="done"}' in metrics
    lines = server.lines()
    assert lines and all("request_id" in line for line in lines)
    assert not any(world.pa.code in str(line) for line in lines)
