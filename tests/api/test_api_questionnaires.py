"""Questionnaires over the API: dictionary validation, optimistic concurrency, rules.

Rules cited: visit.duplicate (409), visit.out_of_window (soft, flagged),
date.before_inclusion (422).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from cohort.models import AuditEntry, Questionnaire
from cohort.vocab import Timepoint
from tests.api.conftest import World
from tests.cohort.helpers import row_counts
from tests.factories import questionnaire_answers


def m0(world: World, **overrides: Any) -> dict[str, Any]:
    assert world.pa is not None
    return {"answers": questionnaire_answers(world.pa.inclusion_date, Timepoint("M0"), **overrides)}


def url(world: World, tp: str = "M0") -> str:
    assert world.pa is not None
    return f"/api/v1/participants/{world.pa.code}/questionnaires/{tp}"


def test_create_get_and_duplicate(client: TestClient, world: World) -> None:
    created = client.post(url(world), json=m0(world), headers=world.h("worker_a"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["deviations"] == [] and body["questionnaire"]["version"] == 1
    assert body["questionnaire"]["answers"]["share_syringe"] == "0"
    assert client.get(url(world), headers=world.h("worker_a")).json()["version"] == 1
    again = client.post(url(world), json=m0(world), headers=world.h("worker_a"))
    assert again.status_code == 409 and again.json()["rule_id"] == "visit.duplicate"


def test_dictionary_errors_are_field_level(client: TestClient, world: World,
                                           session: Session) -> None:
    before = row_counts(session)
    response = client.post(url(world), json=m0(world, inj_freq="99", share_syringe="maybe"),
                           headers=world.h("worker_a"))
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "/problems/validation"
    fields = {e["field"] for e in problem["errors"]}
    assert {"inj_freq", "share_syringe"} <= fields
    assert all(e["message"] and "label" in e and e["code"] for e in problem["errors"])
    assert row_counts(session) == before


def test_stale_update_is_409_and_overwrites_nothing(client: TestClient, world: World,
                                                    session: Session) -> None:
    client.post(url(world), json=m0(world), headers=world.h("worker_a"))
    first = client.put(url(world), json={**m0(world, share_cooker="0"), "version": 1},
                       headers=world.h("worker_a"))
    assert first.status_code == 200 and first.json()["questionnaire"]["version"] == 2
    stale = client.put(url(world), json={**m0(world, share_cooker="1", abscess="1"),
                                         "version": 1}, headers=world.h("worker_a2"))
    assert stale.status_code == 409
    problem = stale.json()
    assert problem["type"] == "/problems/stale-version" and problem["current_version"] == 2
    stored = client.get(url(world), headers=world.h("worker_a")).json()
    assert stored["version"] == 2
    assert stored["answers"]["share_cooker"] == "0" and stored["answers"]["abscess"] == "0"
    row = session.exec(select(Questionnaire)).one()
    changes = session.exec(select(AuditEntry).where(
        AuditEntry.table_name == "questionnaire", AuditEntry.record_id == row.id,
        AuditEntry.field == "answers.share_cooker")).all()
    assert [(c.old_value, c.new_value) for c in changes] == [("1", "0")]


def test_out_of_window_is_saved_and_flagged(client: TestClient, world: World) -> None:
    assert world.pa is not None
    late = world.pa.inclusion_date + timedelta(days=182 + 60)
    response = client.post(url(world, "M6"),
                           json={"answers": questionnaire_answers(late, Timepoint("M6"))},
                           headers=world.h("worker_a"))
    assert response.status_code == 201
    body = response.json()
    assert body["questionnaire"]["in_window"] is False
    assert [d["rule_id"] for d in body["deviations"]] == ["visit.out_of_window"]
    listed = client.get("/api/v1/deviations?rule=visit.out_of_window",
                        headers=world.h("officer")).json()
    assert listed["count"] == 1


def test_visit_before_inclusion_refused(client: TestClient, world: World) -> None:
    assert world.pa is not None
    early = world.pa.inclusion_date - timedelta(days=3)
    response = client.post(url(world), json={"answers": questionnaire_answers(early)},
                           headers=world.h("worker_a"))
    assert response.status_code == 422
    assert response.json()["rule_id"] == "date.before_inclusion"


def test_statistician_reads_without_free_text(client: TestClient, world: World) -> None:
    note = "Met near the station, prefers mornings"
    client.post(url(world), json=m0(world, questionnaire_note=note),
                headers=world.h("worker_a"))
    full = client.get(url(world), headers=world.h("officer")).json()
    assert full["answers"]["questionnaire_note"] == note
    deid = client.get(url(world), headers=world.h("statistician")).json()
    assert "questionnaire_note" not in deid["answers"]
    assert deid["answers"]["share_syringe"] == "0"
    listed = client.get(url(world).rsplit("/", 1)[0], headers=world.h("statistician")).json()
    assert all("questionnaire_note" not in q["answers"] for q in listed["data"])
