"""The pages research officers, statisticians and data managers use, for a French reader
(issue 14): headings, tables, buttons, flags and flash messages in French, dates as
31/03/2026, percentages as 50 %; codes and links unchanged.

Rules cited: session.comparison_group (a flagged session on the deviations queue).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from cohort.vocab import Group, Timepoint
from tests.api.conftest import World
from tests.api.test_api_pages import csrf, sign_in
from tests.factories import Factory


@pytest.fixture
def french(client: TestClient) -> TestClient:
    client.headers["Accept-Language"] = "fr-FR,fr;q=0.9"
    return client


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_retention_and_centre_pages_in_french(french: TestClient, world: World,
                                              factory: Factory) -> None:
    w = factory.actor(world.users["worker_a"].staff)
    old = factory.participant(w, inclusion_date=factory.today - timedelta(days=460))
    factory.questionnaire(w, old)
    factory.questionnaire(w, old, Timepoint("M6"))
    sign_in(french, "officer")
    page = french.get("/retention")
    assert page.headers["content-language"] == "fr"
    text = text_of(page.text)
    assert "Rétention par centre" in text and "Intervention et comparaison" in text
    assert factory.today.strftime("%d/%m/%Y") in text
    assert "50\u00a0%" in page.text and "50%" not in text
    assert "Retention per centre" not in text and "Download as CSV" not in text
    assert 'data-label="Centre"' in page.text and 'data-label="M6 faits"' in page.text
    centre = text_of(french.get("/centres/C01").text)
    assert "Visites à faire" in centre and "inclus·es" in centre
    assert "Visits due" not in centre


def test_deviations_queue_and_bulk_review_in_french(french: TestClient, world: World,
                                                    factory: Factory) -> None:
    w = factory.actor(world.users["worker_a"].staff)
    ids = [factory.aerli_session(w, factory.participant(w, group=Group.COMPARISON))
           .deviations[0].id for _ in range(2)]
    sign_in(french, "officer")
    page = french.get("/deviations?rule=session.comparison_group")
    text = text_of(page.text)
    assert "Écarts au protocole" in text and "Clore les écarts cochés" in text
    assert 'value="session.comparison_group"' in page.text  # codes unchanged
    assert "Acknowledge ticked" not in text
    done = french.post("/deviations/bulk", data={
        "action": "acknowledge", "ids": ids, "comment": "Vu avec l'équipe",
        "csrf_token": csrf(page.text)})
    assert "2 écarts au protocole pris en compte." in done.text


def test_data_manager_pages_in_french(french: TestClient, world: World) -> None:
    sign_in(french, "admin")
    accounts = text_of(french.get("/accounts").text)
    assert "Nouveau compte" in accounts and "Créer le compte" in accounts
    assert "New account" not in accounts
    lock = text_of(french.get("/study-lock").text)
    assert "Verrouillage de l'étude" in lock and "Jamais verrouillée." in lock
    log = text_of(french.get("/access-log").text)
    assert "Journal des accès" in log and "Quand (UTC)" in log
    jobs = text_of(french.get("/jobs").text)
    assert "Tâches en arrière-plan" in jobs and "Aucune tâche pour l'instant." in jobs


def test_workbooks_refusal_for_a_statistician_in_french(french: TestClient,
                                                        world: World) -> None:
    sign_in(french, "stat")
    refused = french.get("/workbooks")
    assert refused.status_code == 403
    text = text_of(refused.text)
    assert "Classeurs de saisie" in text and "statisticien·nes" in text
