"""A locked study refuses every write on every web entry point, and still reads and exports.

API writes answer 409 with ``rule_id`` ``study.locked``; page forms show the refusal;
workbook and REDCap CSV imports mark every row and save nothing. The data manager locks
from the Study lock page (rule scope.role, action lock).

Rules: study.locked, scope.role.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session

from cohort.vocab import Timepoint
from tests.api.conftest import World
from tests.api.test_api_pages import csrf, sign_in
from tests.cohort.helpers import row_counts
from tests.conftest import TODAY
from tests.excel.helpers import as_cells, entry_sheet, fill, load, row_of, save
from tests.excel.test_redcap_report_cli import _row, redcap_export
from tests.factories import Factory, questionnaire_answers

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def locked(client: TestClient, world: World, factory: Factory, session: Session) -> World:
    """M0 and a flagged session for centre A's participant, then the study locked from the
    data manager's page."""
    worker = factory.actor(world.users["worker_a"].staff)
    factory.questionnaire(worker, world.pa)  # type: ignore[arg-type]
    flagged = factory.aerli_session(worker, world.pa,  # type: ignore[arg-type]
                                    staff=[factory.staff(trained=False)])
    world.users["deviation"] = flagged.deviations[0].id  # type: ignore[assignment]
    sign_in(client, "admin")
    page = client.get("/study-lock")
    assert page.status_code == 200 and "Never locked" in page.text
    done = client.post("/study-lock", data={"csrf_token": csrf(page.text), "action": "lock",
                                            "reason": "End of follow-up"})
    assert done.status_code == 200 and "locked" in done.text and "End of follow-up" in done.text
    client.cookies.clear()
    return world


def _api_writes(w: World) -> dict[str, Callable[[TestClient], Response]]:
    code = w.pa.code  # type: ignore[union-attr]
    visit = (TODAY - timedelta(days=1)).isoformat()
    h = w.h("worker_a")
    enrol = {"age": 30, "injected_past_month": True, "wish_neck_groin": False, "consent": True,
             "consent_date": visit, "inclusion_date": visit, "reached_via": "in_person",
             "group": "intervention"}
    return {
        "enrol": lambda c: c.post("/api/v1/participants", json=enrol, headers=h),
        "questionnaire": lambda c: c.post(
            f"/api/v1/participants/{code}/questionnaires/M12",
            json={"answers": questionnaire_answers(TODAY - timedelta(days=1))}, headers=h),
        "update": lambda c: c.put(
            f"/api/v1/participants/{code}/questionnaires/M0",
            json={"answers": questionnaire_answers(w.pa.inclusion_date),  # type: ignore[union-attr]
                  "version": 1}, headers=h),
        "session": lambda c: c.post(
            f"/api/v1/participants/{code}/sessions", headers=h,
            json={"session_date": visit, "setting": "squat", "modality": "in_person",
                  "staff_ids": [w.users["worker_a"].staff.id, w.users["worker_a2"].staff.id]}),
        "status": lambda c: c.post(f"/api/v1/participants/{code}/status", headers=h,
                                   json={"status": "withdrawn", "effective_date": visit}),
        "group": lambda c: c.put(f"/api/v1/participants/{code}/group", headers=h,
                                 json={"group": "comparison"}),
        "review": lambda c: c.post(f"/api/v1/deviations/{w.users['deviation']}/acknowledge",
                                   headers=w.h("officer"), json={"comment": "seen"}),
    }


def test_every_api_write_is_refused_with_the_rule_and_nothing_is_written(
        client: TestClient, locked: World, session: Session) -> None:
    before = row_counts(session)
    for name, write in _api_writes(locked).items():
        response = write(client)
        assert response.status_code == 409, (name, response.text)
        body = response.json()
        assert body["rule_id"] == "study.locked", name
        assert "locked" in body["detail"]
    after = row_counts(session)
    assert {k: v for k, v in after.items() if k != "read_log"} == \
        {k: v for k, v in before.items() if k != "read_log"}


def test_page_forms_are_refused_and_reads_and_exports_still_work(
        client: TestClient, locked: World, session: Session) -> None:
    code = locked.pa.code  # type: ignore[union-attr]
    sign_in(client, "worker.a")
    page = client.get(f"/participants/{code}")
    assert page.status_code == 200 and 'id="locked"' in page.text
    assert "Log a session" not in page.text
    form = client.get(f"/participants/{code}/questionnaires/M0")
    assert form.status_code == 200 and "<fieldset disabled>" in form.text
    assert "Save M0" not in form.text
    token = csrf(form.text)
    before = row_counts(session)
    answers = {k: v for k, v in questionnaire_answers(TODAY - timedelta(days=1)).items()
               if not isinstance(v, list)}
    refused = [
        client.post(f"/participants/{code}/questionnaires/M12",
                    data={"csrf_token": token, **answers}),
        client.post(f"/participants/{code}/sessions/new",
                    data={"csrf_token": token, "session_date": answers["visit_date"]}),
        client.post("/participants/new", data={
            "csrf_token": token, "age": "30", "injected_past_month": "1",
            "wish_neck_groin": "0", "consent": "1", "consent_date": "2026-11-20",
            "inclusion_date": "2026-11-20", "year_of_birth": "1996", "gender": "1",
            "reached_via": "1", "study_group": "1"}),
    ]
    for response in refused:
        assert response.status_code in (409, 422), response.text
        assert "locked" in response.text
    assert client.get(f"/participants/{code}/sessions/new").status_code == 409
    client.cookies.clear()
    sign_in(client, "officer")
    deviations = client.get("/deviations")
    review = client.post(f"/deviations/{locked.users['deviation']}",
                         data={"csrf_token": csrf(deviations.text), "action": "acknowledge"})
    assert "locked" in review.text
    assert client.get("/workbooks/report.xlsx",
                      params={"purpose": "Final report"}).status_code == 200
    assert client.get("/api/v1/participants", headers=locked.h("officer")).status_code == 200
    changed = {k for k, v in row_counts(session).items() if before[k] != v}
    assert changed <= {"read_log", "export_log", "account", "api_token"}


def test_workbook_and_redcap_imports_are_refused_row_by_row(
        client: TestClient, locked: World, session: Session) -> None:
    sign_in(client, "worker.a")
    got = client.get("/workbooks/template", params={"centre": "C01", "kind": "questionnaire",
                                                     "timepoint": "M12"})
    book = load(got.content)
    ws = entry_sheet(book)
    fill(ws, row_of(ws, locked.pa.code),  # type: ignore[union-attr]
         as_cells(questionnaire_answers(TODAY - timedelta(days=1), Timepoint("M12"))))
    before = row_counts(session)
    token = csrf(client.get("/workbooks").text)
    workbook = client.post("/workbooks/import", data={"csrf_token": token},
                           files={"file": ("m12.xlsx", save(book), XLSX)})
    answers = questionnaire_answers(TODAY - timedelta(days=1), Timepoint("M12"))
    records = redcap_export([_row(locked.pa.code, "m12_arm_1",  # type: ignore[union-attr]
                                  answers)])
    csv = client.post("/workbooks/import", data={"csrf_token": token},
                      files={"file": ("records.csv", records, "text/csv")})
    for response in (workbook, csv):
        assert response.status_code == 200
        assert "nothing was saved" in response.text and "study.locked" in response.text
    changed = {k for k, v in row_counts(session).items() if before[k] != v}
    # No study data; the marked copies wait for download in the shared store (PostgreSQL).
    assert changed <= {"read_log", "export_log", "shared_value"}


def test_only_the_data_manager_locks(client: TestClient, world: World) -> None:
    sign_in(client, "officer")
    assert client.get("/study-lock").status_code == 403
    client.cookies.clear()
    sign_in(client, "admin")
    page = client.get("/study-lock")
    empty = client.post("/study-lock", data={"csrf_token": csrf(page.text), "action": "lock",
                                             "reason": ""})
    assert empty.status_code == 422 and "reason" in empty.text
