"""Pages answer the same HTTP status as the API for the same refusal."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import World
from tests.api.test_api_pages import csrf, sign_in
from tests.conftest import TODAY

ANSWERS = {"age": "30", "injected_past_month": "1", "wish_neck_groin": "0", "consent": "1",
           "consent_date": TODAY.isoformat(), "inclusion_date": TODAY.isoformat(),
           "year_of_birth": "1996", "gender": "1", "reached_via": "1", "study_group": "1"}


def test_enrolling_for_another_centre_is_403_on_page_and_api(client: TestClient,
                                                             world: World) -> None:
    """scope.other_centre: the officer limited to C02 tries to enrol for C01."""
    api = client.post("/api/v1/participants", headers=world.h("officer_b"), json={
        "centre_code": "C01", "age": 30, "injected_past_month": True, "wish_neck_groin": False,
        "consent": True, "consent_date": TODAY.isoformat(),
        "inclusion_date": TODAY.isoformat(), "group": "intervention"})
    sign_in(client, "officer.b")
    form = client.get("/participants/new")
    page = client.post("/participants/new", data={**ANSWERS, "centre_code": "C01",
                                                  "csrf_token": csrf(form.text)})
    assert api.status_code == page.status_code == 403, (api.text, page.text[:300])
    assert api.json()["rule_id"] == "scope.other_centre"
    assert 'id="form-error"' in page.text


def test_worker_forging_another_centre_gets_403_on_page_and_api(client: TestClient,
                                                                world: World) -> None:
    api = client.post("/api/v1/participants", headers=world.h("worker_a"), json={
        "centre_code": "C02", "age": 30, "injected_past_month": True, "wish_neck_groin": False,
        "consent": True, "consent_date": TODAY.isoformat(),
        "inclusion_date": TODAY.isoformat(), "group": "intervention"})
    sign_in(client, "worker.a")
    form = client.get("/participants/new")
    page = client.post("/participants/new", data={**ANSWERS, "centre_code": "C02",
                                                  "csrf_token": csrf(form.text)})
    assert api.status_code == page.status_code == 403


def test_enrolling_for_an_unknown_centre_is_404_on_page_and_api(client: TestClient,
                                                                world: World) -> None:
    api = client.post("/api/v1/participants", headers=world.h("officer"), json={
        "centre_code": "C99", "age": 30, "injected_past_month": True, "wish_neck_groin": False,
        "consent": True, "consent_date": TODAY.isoformat(),
        "inclusion_date": TODAY.isoformat(), "group": "intervention"})
    sign_in(client, "officer")
    form = client.get("/participants/new")
    page = client.post("/participants/new", data={**ANSWERS, "centre_code": "C99",
                                                  "csrf_token": csrf(form.text)})
    assert api.status_code == page.status_code == 404


def test_a_refused_value_is_still_422_on_the_page(client: TestClient, world: World) -> None:
    sign_in(client, "worker.a")
    form = client.get("/participants/new")
    page = client.post("/participants/new", data={**ANSWERS, "age": "17",
                                                  "year_of_birth": "2009",
                                                  "csrf_token": csrf(form.text)})
    assert page.status_code == 422
