"""Statisticians read de-identified data only: no free text in any response
(status-change reasons, deviation resolution comments); deviations tied to no centre are
seen only by those who see every centre (rules scope.*)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from cohort.messages import msg
from cohort.models import Deviation
from cohort.rules import Finding
from cohort.services.deviations import new_deviation, review
from cohort.vocab import DeviationStatus, Severity, Status
from tests.api.conftest import World
from tests.api.test_api_pages import sign_in
from tests.conftest import TODAY
from tests.factories import Factory

REASON = "Moved in with Jeanne Dupont at 12 rue X"
COMMENT = "Called Paul on 06 12 34 56 78"


def _world_with_free_text(session: Session, factory: Factory, world: World) -> Deviation:
    assert world.pa is not None
    worker = factory.actor(world.users["worker_a"].staff)
    from cohort.services.participants import change_status

    change_status(session, actor=worker, code=world.pa.code, status=Status.WITHDRAWN,
                  effective_date=TODAY - timedelta(days=1), reason=REASON, on=TODAY)
    deviation = new_deviation(
        Finding("session.trained_staff", Severity.SOFT,
                msg("session.trained_staff", trained=1, required=2)),
        entity="aerli_session", record_id=1, participant=world.pa)
    session.add(deviation)
    session.commit()
    assert deviation.id is not None
    review(session, actor=factory.actor(world.users["officer"].staff),
           deviation_id=deviation.id, status=DeviationStatus.RESOLVED, comment=COMMENT)
    return deviation


def test_statistician_api_responses_carry_no_free_text(
    client: TestClient, world: World, session: Session, factory: Factory
) -> None:
    deviation = _world_with_free_text(session, factory, world)
    assert world.pa is not None
    code = world.pa.code
    urls = [f"/api/v1/participants/{code}/status", "/api/v1/deviations",
            f"/api/v1/deviations/{deviation.id}", f"/api/v1/participants/{code}/deviations"]
    for url in urls:
        officer = client.get(url, headers=world.h("officer"))
        assert officer.status_code == 200, (url, officer.text)
        stat = client.get(url, headers=world.h("statistician"))
        assert stat.status_code == 200, (url, stat.text)
        assert REASON not in stat.text and COMMENT not in stat.text, url
    officer_text = client.get(f"/api/v1/participants/{code}/status",
                              headers=world.h("officer")).text
    assert REASON in officer_text  # the stored record is untouched
    assert COMMENT in client.get(f"/api/v1/deviations/{deviation.id}",
                                 headers=world.h("officer")).text


def test_statistician_pages_carry_no_free_text(
    client: TestClient, world: World, session: Session, factory: Factory
) -> None:
    _world_with_free_text(session, factory, world)
    assert world.pa is not None
    sign_in(client, "stat")
    for url in ("/deviations?status=", f"/participants/{world.pa.code}"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert REASON not in page.text and COMMENT not in page.text, url


def test_deviation_with_no_centre_is_seen_only_by_national_roles(
    client: TestClient, world: World, session: Session
) -> None:
    orphan = Deviation(rule_id="session.trained_staff", severity=Severity.SOFT,
                       entity="aerli_session", record_id=99, message="no centre",
                       dedupe_key="test:orphan")
    session.add(orphan)
    session.commit()
    url = f"/api/v1/deviations/{orphan.id}"
    assert client.get(url, headers=world.h("officer")).status_code == 200
    for who in ("worker_a", "worker_b", "officer_b"):
        assert client.get(url, headers=world.h(who)).status_code == 404, who
