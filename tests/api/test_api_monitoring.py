"""Retention summary, worklist, centres and staff, rules, OpenAPI schema."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlmodel import Session

from cohort.services.monitoring import CentreStatus, centre_status
from cohort.vocab import Timepoint
from tests.api.conftest import World
from tests.factories import Factory, questionnaire_answers


def test_retention_per_centre(client: TestClient, world: World) -> None:
    rows = client.get("/api/v1/retention", headers=world.h("officer")).json()
    by_code = {r["centre_code"]: r for r in rows}
    assert by_code["C01"]["enrolled"] == 1 and by_code["C01"]["intervention"] == 1
    assert by_code["C02"]["comparison"] == 1
    # Included 400 days ago without questionnaires: M6 and M12 windows have closed.
    assert by_code["C01"]["visits"][1]["visit"] == "M6"
    assert by_code["C01"]["visits"][1]["overdue"] == 1
    one = client.get("/api/v1/centres/C02/retention", headers=world.h("officer_b")).json()
    assert one["centre_code"] == "C02" and one["enrolled"] == 1
    earlier = client.get("/api/v1/retention?as_of=2025-01-01", headers=world.h("officer"))
    assert earlier.status_code == 200
    # Retention by attendance beside the status-based figure (fields added in issue 12):
    # C01's participant's windows have closed with nothing done, and nobody recorded a loss.
    c01 = by_code["C01"]
    m6 = c01["visits"][1]
    assert m6["eligible"] == 1 and m6["attended_pct"] == 0.0
    assert m6["attended_in_window_pct"] == 0.0 and c01["retained_by_status_pct"] == 100.0
    from tests.api.test_api_pages import sign_in

    sign_in(client, "officer")
    page = client.get("/retention")
    assert page.status_code == 200 and 'id="attendance-table"' in page.text
    assert "Not recorded lost" in page.text


def test_retention_follows_every_write(client: TestClient, world: World) -> None:
    """The summary is remembered between writes, never across one."""
    assert world.pa is not None

    def c01() -> dict[str, int]:
        rows = client.get("/api/v1/retention", headers=world.h("officer")).json()
        row = next(r for r in rows if r["centre_code"] == "C01")
        return {"m6_done": row["visits"][1]["done"], "m6_overdue": row["visits"][1]["overdue"]}

    before = c01()
    assert c01() == before
    visit = world.pa.inclusion_date + timedelta(days=182)
    saved = client.post(f"/api/v1/participants/{world.pa.code}/questionnaires/M6",
                        json={"answers": questionnaire_answers(visit, Timepoint("M6"))},
                        headers=world.h("worker_a"))
    assert saved.status_code == 201, saved.text
    after = c01()
    assert after["m6_done"] == before["m6_done"] + 1
    assert after["m6_overdue"] == before["m6_overdue"] - 1
    assert c01() == after


def test_worklist(client: TestClient, world: World) -> None:
    items = client.get("/api/v1/worklist", headers=world.h("worker_a")).json()
    assert items and {i["code"] for i in items} == {world.pa.code}  # type: ignore[union-attr]
    assert {i["state"] for i in items} <= {"upcoming", "due", "overdue"}
    assert [i["timepoint"] for i in items] == ["M6", "M12"]


def test_centres_and_staff_admin(client: TestClient, world: World) -> None:
    created = client.post("/api/v1/centres", json={"code": "c33", "name": "Antenne",
                                                   "city": "Brest"}, headers=world.h("admin"))
    assert created.status_code == 201 and created.json()["code"] == "C33"
    dup = client.post("/api/v1/centres", json={"code": "C33", "name": "x", "city": "y"},
                      headers=world.h("admin"))
    assert dup.status_code == 422 and "already exists" in dup.json()["detail"]
    officer = client.post("/api/v1/staff", json={
        "display_name": "Regional officer", "role": "research_officer",
        "extra_centre_codes": ["C01", "C33"]}, headers=world.h("admin"))
    assert officer.status_code == 201
    account = client.post("/api/v1/accounts", json={
        "staff_id": officer.json()["id"], "username": "regional",
        "password": "a long enough password"}, headers=world.h("admin"))
    assert account.status_code == 201 and account.json()["role"] == "research_officer"
    token = client.post("/api/v1/auth/token", data={"username": "regional",
                                                    "password": "a long enough password"})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    visible = [c["code"] for c in client.get("/api/v1/centres", headers=headers).json()]
    assert visible == ["C01", "C33"]
    listed = client.get("/api/v1/accounts", headers=world.h("admin")).json()
    assert "regional" in {a["username"] for a in listed}


def test_rules_and_schema(client: TestClient) -> None:
    rules = client.get("/api/v1/rules").json()
    assert {"group.crossing", "session.trained_staff"} <= {r["id"] for r in rules}
    schema = client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/v1/participants",
                 "/api/v1/participants/{code}/questionnaires/{timepoint}",
                 "/api/v1/participants/{code}/sessions",
                 "/api/v1/deviations/{deviation_id}/resolve", "/api/v1/retention",
                 "/api/v1/worklist", "/api/v1/auth/token",
                 "/api/v1/accounts", "/api/v1/staff", "/api/v1/centres"):
        assert path in paths, path
    assert not any(p.startswith("/participants") for p in paths)  # pages stay out
    problem = client.get("/problems/stale-version").json()
    assert problem["title"] == "Changed by someone else"


def _m6_done_on_page(page: str) -> str:
    """The text of C01's "M6 done" cell on the retention page."""
    row = page[page.index('<a href="/centres/C01">'):]
    cell = re.search(r'data-label="M6 [^"]*"[^>]*>([^<]*)<', row)
    assert cell is not None
    return cell.group(1).strip()


def test_the_retention_page_follows_every_write_and_the_readers_language(
        client: TestClient, world: World) -> None:
    """The rendered figures are kept between writes (api.pages.monitoring._RENDERED), never
    across one, and each language has its own."""
    from tests.api.test_api_pages import sign_in

    assert world.pa is not None
    sign_in(client, "officer")
    before = client.get("/retention").text
    assert client.get("/retention").text.count("<tr>") == before.count("<tr>")
    french = client.get("/retention", headers={"Accept-Language": "fr"}).text
    assert "Rétention par centre" in french and "Retention per centre" in before
    visit = world.pa.inclusion_date + timedelta(days=182)
    saved = client.post(f"/api/v1/participants/{world.pa.code}/questionnaires/M6",
                        json={"answers": questionnaire_answers(visit, Timepoint("M6"))},
                        headers=world.h("worker_a"))
    assert saved.status_code == 201, saved.text
    after = client.get("/retention").text
    assert int(_m6_done_on_page(after)) == int(_m6_done_on_page(before)) + 1
    assert "Retention per centre" in after


def test_the_kept_retention_answer_is_the_summary_itself(
        client: TestClient, world: World, session: Session, factory: Factory) -> None:
    """The API sends the kept JSON of a state again: it is what the summary computed from
    nothing gives, written out by the response's own schema, before and after a write."""
    assert world.pa is not None
    officer = factory.actor(world.users["officer"].staff)
    schema = TypeAdapter(list[CentreStatus])

    def answer_and_truth() -> tuple[Any, Any]:
        sent = client.get("/api/v1/retention", headers=world.h("officer"))
        assert sent.headers["content-type"] == "application/json"
        truth = schema.dump_python(
            centre_status(session, actor=officer, as_of=factory.today), mode="json")
        return sent.json(), truth

    for _ in range(2):  # computed, then sent again
        sent, truth = answer_and_truth()
        assert sent == truth
    visit = world.pa.inclusion_date + timedelta(days=182)
    saved = client.post(f"/api/v1/participants/{world.pa.code}/questionnaires/M6",
                        json={"answers": questionnaire_answers(visit, Timepoint("M6"))},
                        headers=world.h("worker_a"))
    assert saved.status_code == 201, saved.text
    sent, truth = answer_and_truth()
    assert sent == truth
