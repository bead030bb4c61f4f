"""Through the REST API, what the dictionary refuses is refused before anything is written
(issue 11, classes 2-4): no 500 after a commit, sessions readable afterwards, notes and
bodies of bounded size, other centres' staff refused like unknown ids."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import World
from tests.conftest import TODAY


def _session(world: World, **overrides: Any) -> dict[str, Any]:
    assert world.pa is not None
    body: dict[str, Any] = {
        "session_date": (world.pa.inclusion_date + timedelta(days=20)).isoformat(),
        "setting": "squat", "modality": "in_person", "product": "1", "risks": ["2"],
        "topics": ["1"], "staff_ids": [world.users["worker_a"].staff.id,
                                       world.users["worker_a2"].staff.id]}
    body.update(overrides)
    return body


@pytest.mark.parametrize(("overrides", "field"), [
    ({"product": "99"}, "product"),
    ({"product": "123456789012"}, "product"),
    ({"risks": ["7"]}, "risks"),
    ({"note": "n" * 5001}, "note"),
])
def test_a_refused_session_leaves_the_list_readable(client: TestClient, world: World,
                                                    overrides: dict[str, Any],
                                                    field: str) -> None:
    assert world.pa is not None
    url = f"/api/v1/participants/{world.pa.code}/sessions"
    refused = client.post(url, json=_session(world, **overrides), headers=world.h("worker_a"))
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == [field]
    listed = client.get(url, headers=world.h("officer"))
    assert listed.status_code == 200 and listed.json()["count"] == 0
    saved = client.post(url, json=_session(world), headers=world.h("worker_a"))
    assert saved.status_code == 201
    assert client.get(url, headers=world.h("officer")).json()["count"] == 1


def test_a_ten_megabyte_note_is_refused_unread(client: TestClient, world: World) -> None:
    assert world.pa is not None
    response = client.post(f"/api/v1/participants/{world.pa.code}/sessions",
                           json=_session(world, note="n" * 10_000_000),
                           headers=world.h("worker_a"))
    assert response.status_code == 413


def test_another_centres_staff_answer_like_unknown_ones(client: TestClient,
                                                        world: World) -> None:
    assert world.pa is not None
    url = f"/api/v1/participants/{world.pa.code}/sessions"
    mine = world.users["worker_a"].staff.id
    answers = []
    for stranger in (world.users["worker_b"].staff.id, 999_999):
        response = client.post(url, json=_session(world, staff_ids=[mine, stranger]),
                               headers=world.h("worker_a"))
        answers.append((response.status_code,
                        response.json()["detail"].replace(str(stranger), "<id>")))
    assert answers[0] == answers[1] and answers[0][0] == 404


@pytest.mark.parametrize(("overrides", "field"), [
    ({"age": 200}, "age"), ({"year_of_birth": 3000}, "year_of_birth"),
])
def test_rest_enrolment_is_held_to_the_dictionary(client: TestClient, world: World,
                                                  overrides: dict[str, Any], field: str) -> None:
    inclusion = (TODAY - timedelta(days=3)).isoformat()
    body = {"centre_code": "C01", "age": 30, "injected_past_month": True,
            "wish_neck_groin": False, "consent": True, "consent_date": inclusion,
            "inclusion_date": inclusion, "group": "intervention", **overrides}
    before = client.get("/api/v1/participants", headers=world.h("admin")).json()["count"]
    response = client.post("/api/v1/participants", json=body, headers=world.h("worker_a"))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert client.get("/api/v1/participants",
                      headers=world.h("admin")).json()["count"] == before
