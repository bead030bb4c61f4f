"""Issue 15 point 10: a statistician downloads the analysis data (CSV, Stata) and the
analysis report from the web pages, through the job machinery, and each is in the export
log. Rule cited: ``export.no_purpose`` (the whole cohort's export needs a purpose)."""

from __future__ import annotations

import io
import zipfile

from sqlmodel import Session, select

from cohort.db import engine_for
from cohort.models import ExportLog
from cohort.vocab import ExportKind, Role
from tests.api.conftest import TestClient, World, add_user
from tests.ops.test_jobs import _csrf, _follow, _sign_in, served

__all__ = ["served"]


def _download(client: TestClient, page: str) -> bytes:
    link = page.split('id="job-files"')[1].split('href="')[1].split('"')[0]
    got = client.get(link)
    assert got.status_code == 200
    return got.content


def test_statistician_exports_from_the_pages(
        served: tuple[TestClient, World, str]) -> None:
    client, _, url = served
    _sign_in(client, "stat")
    jobs = client.get("/jobs")
    assert '<a href="/jobs">Exports and report</a>' in jobs.text
    refused = client.post("/jobs/export", data={"csrf_token": _csrf(jobs.text), "fmt": "csv",
                                                "shape": "wide", "purpose": ""})
    assert refused.status_code == 422 and "purpose" in refused.text
    for fmt in ("csv", "dta"):
        started = client.post("/jobs/export", data={
            "csrf_token": _csrf(jobs.text), "fmt": fmt, "shape": "wide",
            "purpose": "Statistical analysis"}, follow_redirects=False)
        assert started.status_code == 303, started.text
        page = _follow(client, started.headers["location"])
        assert "Finished" in page, page
        data = _download(client, page)
        assert data[:2] == b"PK" or len(data) > 100  # a bundle or a file, not empty
    with Session(engine_for(url)) as session:
        logged = session.exec(select(ExportLog).where(ExportLog.actor_name == "stat")).all()
    assert [e.kind for e in logged] == [ExportKind.EXPORT] * 2
    assert {e.fmt for e in logged} == {"csv", "dta"}
    assert {e.purpose for e in logged} == {"Statistical analysis"}


def test_statistician_gets_the_analysis_report_from_the_pages(
        served: tuple[TestClient, World, str]) -> None:
    """On the demo cohort (the fixture builds one for tests named "analysis"): the models
    need more than a handful of participants."""
    client, _, url = served
    with Session(engine_for(url)) as session:
        add_user(session, "stat", Role.STATISTICIAN, None)
    _sign_in(client, "stat")
    jobs = client.get("/jobs")
    report = client.post("/jobs/analysis", data={"csrf_token": _csrf(jobs.text),
                                                 "what": "retention"},
                         follow_redirects=False)
    assert report.status_code == 303, report.text
    page = _follow(client, report.headers["location"])
    assert "Finished" in page, page
    with zipfile.ZipFile(io.BytesIO(_download(client, page))) as bundle:
        assert any(n.endswith(".html") for n in bundle.namelist())
    with Session(engine_for(url)) as session:
        logged = session.exec(select(ExportLog).where(ExportLog.actor_name == "stat")).all()
    assert [e.kind for e in logged] == [ExportKind.ANALYSIS]
