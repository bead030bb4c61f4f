"""Sessions flagged by soft rules, and the deviations queue.

Rules cited: session.comparison_group, session.trained_staff, session.not_in_person.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import World


def session_body(world: World, who: list[str], **overrides: Any) -> dict[str, Any]:
    participant = world.pa
    assert participant is not None
    body: dict[str, Any] = {
        "session_date": (participant.inclusion_date + timedelta(days=15)).isoformat(),
        "setting": "car_park", "modality": "in_person", "injection_site": "arm",
        "risks": ["2"], "topics": ["1"], "note": "Asked about filters",
        "staff_ids": [world.users[w].staff.id for w in who],
    }
    body.update(overrides)
    return body


def test_soft_rule_saves_and_flags(client: TestClient, world: World) -> None:
    assert world.pa is not None
    response = client.post(f"/api/v1/participants/{world.pa.code}/sessions",
                           json=session_body(world, ["worker_a"], modality="phone"),
                           headers=world.h("worker_a"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["session"]["counts_for_protocol"] is False
    assert {d["rule_id"] for d in body["deviations"]} == {"session.trained_staff",
                                                           "session.not_in_person"}
    listed = client.get(f"/api/v1/participants/{world.pa.code}/sessions",
                        headers=world.h("worker_a")).json()
    assert listed["count"] == 1 and listed["data"][0]["note"] == "Asked about filters"
    deid = client.get(f"/api/v1/participants/{world.pa.code}/sessions",
                      headers=world.h("statistician")).json()
    assert deid["data"][0]["note"] is None


def test_on_protocol_session_raises_nothing(client: TestClient, world: World) -> None:
    assert world.pa is not None
    response = client.post(f"/api/v1/participants/{world.pa.code}/sessions",
                           json=session_body(world, ["worker_a", "worker_a2"]),
                           headers=world.h("worker_a"))
    assert response.status_code == 201
    assert response.json()["deviations"] == []
    assert response.json()["session"]["counts_for_protocol"] is True


def _raise_two(client: TestClient, world: World) -> list[dict[str, Any]]:
    assert world.pa is not None and world.pb is not None
    client.post(f"/api/v1/participants/{world.pa.code}/sessions",
                json=session_body(world, ["worker_a"]), headers=world.h("worker_a"))
    body = session_body(world, ["worker_b"])
    body["session_date"] = (world.pb.inclusion_date + timedelta(days=15)).isoformat()
    client.post(f"/api/v1/participants/{world.pb.code}/sessions", json=body,
                headers=world.h("worker_b"))
    rows = client.get("/api/v1/deviations", headers=world.h("officer")).json()
    return list(rows["data"])


def test_filter_acknowledge_resolve(client: TestClient, world: World) -> None:
    rows = _raise_two(client, world)
    rules = {d["rule_id"] for d in rows}
    assert {"session.trained_staff", "session.comparison_group"} <= rules
    c02 = client.get("/api/v1/deviations?centre=C02", headers=world.h("officer")).json()
    assert c02["count"] >= 1 and all(d["centre_id"] == world.b.id for d in c02["data"])
    by_rule = client.get("/api/v1/deviations?rule=session.comparison_group",
                         headers=world.h("officer")).json()
    assert by_rule["data"] and {d["rule_id"] for d in by_rule["data"]} == {
        "session.comparison_group"}
    target = by_rule["data"][0]["id"]
    ack = client.post(f"/api/v1/deviations/{target}/acknowledge", json={},
                      headers=world.h("officer"))
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    no_comment = client.post(f"/api/v1/deviations/{target}/resolve", json={"comment": " "},
                             headers=world.h("officer"))
    assert no_comment.status_code == 422 and "comment" in no_comment.json()["detail"]
    done = client.post(f"/api/v1/deviations/{target}/resolve",
                       json={"comment": "Offered as a service; discussed with the team."},
                       headers=world.h("officer"))
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    assert done.json()["resolution_comment"].startswith("Offered")
    resolved = client.get("/api/v1/deviations?status=resolved", headers=world.h("officer"))
    assert [d["id"] for d in resolved.json()["data"]] == [target]
    scoped = client.get("/api/v1/deviations", headers=world.h("worker_a")).json()
    assert all(d["centre_id"] == world.a.id for d in scoped["data"])


def test_worker_cannot_review(client: TestClient, world: World) -> None:
    rows = _raise_two(client, world)
    mine = next(d for d in rows if d["centre_id"] == world.a.id)
    response = client.post(f"/api/v1/deviations/{mine['id']}/resolve",
                           json={"comment": "done"}, headers=world.h("worker_a"))
    assert response.status_code == 403 and response.json()["rule_id"] == "scope.role"
