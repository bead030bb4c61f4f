"""Enrolment API: a refused eligibility check is kept in the screening log (rules enrol.*)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from cohort.models import Participant, Screening
from cohort.vocab import ScreeningOutcome
from tests.api.conftest import World
from tests.factories import Factory


def _count(session: Session, model: type) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


def test_api_refusal_is_logged(client: TestClient, world: World, session: Session,
                               factory: Factory) -> None:
    body = factory.enrolment(age=16).model_dump(mode="json")
    before = _count(session, Participant)
    response = client.post("/api/v1/participants", json=body, headers=world.h("worker_a"))
    assert response.status_code == 422, response.text
    rule_id = response.json()["rule_id"]
    assert _count(session, Participant) == before
    line = session.exec(select(Screening).where(
        Screening.outcome == ScreeningOutcome.NOT_ELIGIBLE)).one()
    assert line.reason == rule_id and line.centre_id == world.a.id
