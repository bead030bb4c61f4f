"""Enrolment, group and status over the API; hard rules refused with their rule id.

Rules cited: enrol.under_18, enrol.no_consent, group.crossing, date.in_future.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.api.conftest import World
from tests.cohort.helpers import row_counts
from tests.conftest import TODAY


def enrolment(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "age": 29, "injected_past_month": True, "wish_neck_groin": False, "consent": True,
        "consent_date": TODAY.isoformat(), "inclusion_date": TODAY.isoformat(),
        "year_of_birth": 1997, "gender": "woman", "reached_via": "in_person",
        "group": "intervention",
    }
    body.update(overrides)
    return body


def test_enrol_generates_code_and_sets_group(client: TestClient, world: World) -> None:
    response = client.post("/api/v1/participants", json=enrolment(), headers=world.h("worker_a"))
    assert response.status_code == 201, response.text
    body = response.json()
    code = body["participant"]["code"]
    assert code.startswith("C01-") and body["participant"]["group"] == "intervention"
    assert body["deviations"] == []
    fetched = client.get(f"/api/v1/participants/{code}", headers=world.h("worker_a")).json()
    assert fetched["centre_id"] == world.a.id and fetched["version"] == 1
    history = client.get(f"/api/v1/participants/{code}/history",
                         headers=world.h("officer")).json()
    assert any(e["table_name"] == "participant" and e["action"] == "create" for e in history)
    assert history[0]["actor_name"] == "Name of worker.a"


def test_under_18_refused_with_rule_id_and_nothing_written(client: TestClient, world: World,
                                                           session: Session) -> None:
    before = row_counts(session)
    response = client.post("/api/v1/participants", json=enrolment(age=17),
                           headers=world.h("worker_a"))
    assert response.status_code == 422
    problem = response.json()
    assert problem["rule_id"] == "enrol.under_18" and problem["field"] == "age"
    assert problem["type"] == "/problems/protocol-refused" and "18" in problem["detail"]
    # Participant tables untouched; only the anonymous screening line and its audit entry.
    expected = dict(before, screening=before["screening"] + 1,
                    audit_entry=before["audit_entry"] + 1)
    assert row_counts(session) == expected


def test_no_consent_refused(client: TestClient, world: World) -> None:
    response = client.post("/api/v1/participants",
                           json=enrolment(consent=False, consent_date=None),
                           headers=world.h("worker_a"))
    assert response.status_code == 422 and response.json()["rule_id"] == "enrol.no_consent"


def test_malformed_body_gives_field_errors(client: TestClient, world: World) -> None:
    response = client.post("/api/v1/participants", json=enrolment(age="thirty"),
                           headers=world.h("worker_a"))
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "/problems/validation"
    assert any(e["field"] == "age" for e in problem["errors"])


def test_group_crossing_is_409_with_rule_id(client: TestClient, world: World,
                                            session: Session) -> None:
    assert world.pb is not None
    before = row_counts(session)
    response = client.put(f"/api/v1/participants/{world.pb.code}/group",
                          json={"group": "intervention"}, headers=world.h("worker_b"))
    assert response.status_code == 409
    assert response.json()["rule_id"] == "group.crossing"
    assert response.json()["type"] == "/problems/protocol-conflict"
    assert row_counts(session) == before


def test_status_history_appended(client: TestClient, world: World) -> None:
    assert world.pa is not None
    url = f"/api/v1/participants/{world.pa.code}/status"
    lost = client.post(url, json={"status": "lost_to_follow_up",
                                  "effective_date": TODAY.isoformat()},
                       headers=world.h("worker_a"))
    assert lost.status_code == 201
    back = client.post(url, json={"status": "returned", "effective_date": TODAY.isoformat(),
                                  "reason": "Came back to the van"},
                       headers=world.h("worker_a"))
    assert back.status_code == 201
    statuses = [s["status"] for s in client.get(url, headers=world.h("worker_a")).json()]
    assert statuses == ["active", "lost_to_follow_up", "returned"]
    future = client.post(url, json={"status": "withdrawn", "effective_date": "2099-01-01"},
                         headers=world.h("worker_a"))
    assert future.status_code == 422 and future.json()["rule_id"] == "date.in_future"


def test_list_paging(client: TestClient, world: World) -> None:
    for _ in range(3):
        client.post("/api/v1/participants", json=enrolment(), headers=world.h("worker_a"))
    page = client.get("/api/v1/participants?limit=2&offset=1", headers=world.h("officer")).json()
    assert page["count"] == 5 and len(page["data"]) == 2
