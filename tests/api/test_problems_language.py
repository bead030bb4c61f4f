"""API problems in the reader's language (issue 14): ``title`` and ``detail`` follow
``Accept-Language``; ``type``, ``status``, ``rule_id``, ``field`` and ``errors[].field`` /
``code`` never change with it.

Rules cited: group.crossing (a refused write, 409).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from cohort.messages import render
from tests.api.conftest import World

FR = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}
#: Members that are codes: identical in every language.
CODES = ("type", "status", "instance", "rule_id", "field", "current_version")


def both(client: TestClient, method: str, url: str, headers: dict[str, str] | None = None,
         **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The same request in English (explicit), with no header (the default) and in French;
    their codes must agree."""
    answers = []
    for language in (EN, {}, FR):
        response = client.request(method, url, headers={**(headers or {}), **language},
                                  **kwargs)
        assert response.headers["content-type"].startswith("application/problem+json")
        answers.append(response)
    en, default, fr = (r.json() for r in answers)
    assert answers[0].headers["content-language"] == "en"
    assert answers[2].headers["content-language"] == "fr"
    assert en == default
    for key in CODES:
        assert fr.get(key) == en.get(key), key
    return en, default, fr


def test_a_refused_group_crossing_is_told_in_french_with_the_same_rule(
        client: TestClient, world: World) -> None:
    assert world.pb is not None
    en, _, fr = both(client, "PUT", f"/api/v1/participants/{world.pb.code}/group",
                     headers=world.h("worker_b"), json={"group": "intervention"})
    assert en["status"] == 409 and en["rule_id"] == "group.crossing"
    assert en["title"] == "Refused by the protocol"
    assert fr["title"] == "Refusé par le protocole"
    # The rule's words come from the messages catalogue, rendered for each reader.
    params = {"participant": world.pb.code}
    assert en["detail"] == render("group.crossing", params, "en")
    assert fr["detail"] == render("group.crossing", params, "fr")


def test_a_bad_value_gives_the_same_fields_and_codes_in_french_words(
        client: TestClient, world: World) -> None:
    body = {"age": "thirty", "consent": True}
    en, _, fr = both(client, "POST", "/api/v1/participants", headers=world.h("worker_a"),
                     json=body)
    assert en["status"] == 422 and en["type"] == "/problems/validation"
    assert en["title"] == "Some answers need correcting"
    assert fr["title"] == "Des réponses sont à corriger"
    assert [(e["field"], e["code"]) for e in fr["errors"]] == [
        (e["field"], e["code"]) for e in en["errors"]]
    age_en = next(e for e in en["errors"] if e["field"] == "age")
    age_fr = next(e for e in fr["errors"] if e["field"] == "age")
    assert age_en["message"].startswith("Input should be a valid integer")
    assert age_fr["message"].startswith("Saisissez un nombre entier")
    missing_fr = next(e for e in fr["errors"] if e["code"] == "missing")
    assert missing_fr["message"] == "Champ obligatoire"
    assert fr["detail"].startswith("age: Saisissez")


def test_our_own_limits_on_values_are_told_in_french(client: TestClient,
                                                     world: World) -> None:
    en, _, fr = both(client, "GET", "/api/v1/participants?offset=99999999999999999999999",
                     headers=world.h("officer"))
    assert en["status"] == 422
    (error_en,), (error_fr,) = en["errors"], fr["errors"]
    assert error_en["field"] == error_fr["field"] == "offset"
    assert error_en["code"] == error_fr["code"] == "int_range"
    assert error_en["message"].startswith("must be a whole number from")
    assert error_fr["message"].startswith("doit être un nombre entier de")


def test_a_value_out_of_bounds_keeps_its_bound_in_french(client: TestClient,
                                                         world: World) -> None:
    en, _, fr = both(client, "GET", "/api/v1/participants?limit=0",
                     headers=world.h("officer"))
    (error_en,), (error_fr,) = en["errors"], fr["errors"]
    assert error_en["message"] == "Input should be greater than or equal to 1"
    assert error_fr["message"] == "La valeur doit être supérieure ou égale à 1"
    assert error_en["code"] == error_fr["code"] == "greater_than_equal"


def test_not_found_in_french(client: TestClient, world: World) -> None:
    en, _, fr = both(client, "GET", "/api/v1/participants/C01-9999-X",
                     headers=world.h("officer"))
    assert en["status"] == 404 and en["title"] == "Not found"
    assert fr["title"] == "Introuvable"


def test_an_unknown_path_is_not_found_in_french(client: TestClient) -> None:
    en, _, fr = both(client, "GET", "/api/v1/no-such-thing")
    assert en["detail"] == "Not Found"
    assert fr["detail"] == "Introuvable"


def test_not_signed_in_in_french(client: TestClient) -> None:
    en, _, fr = both(client, "GET", "/api/v1/participants")
    assert en["status"] == 401
    assert en["detail"] == "Please sign in: send 'Authorization: Bearer <token>'."
    assert fr["title"] == "Connexion nécessaire"
    assert "Authorization: Bearer <token>" in fr["detail"] and "connecter" in fr["detail"]


def test_a_missing_job_file_is_named_in_french(client: TestClient, world: World) -> None:
    # An unknown job answers 404 before any file is looked at, in either language.
    en, _, fr = both(client, "GET", "/api/v1/jobs/nope/files/data.csv",
                     headers=world.h("officer"))
    assert en["status"] == fr["status"] == 404
    assert fr["title"] == "Introuvable"


@pytest.mark.parametrize("slug", ["not-found", "stale-version", "protocol-conflict"])
def test_problem_type_pages_in_french(client: TestClient, slug: str) -> None:
    en = client.get(f"/problems/{slug}", headers=EN).json()
    fr = client.get(f"/problems/{slug}", headers=FR).json()
    assert en["type"] == fr["type"] == f"/problems/{slug}"
    assert fr["title"] != en["title"] and fr["advice"] != en["advice"]
