"""The OpenAPI schema documents the error bodies really sent: RFC 9457 ``Problem`` under
``application/problem+json`` for 401/403/404/409/422, never FastAPI's HTTPValidationError."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.problems import PROBLEM_JSON, Problem
from tests.api.conftest import World
from tests.factories import questionnaire_answers

PROBLEM_REF = "#/components/schemas/Problem"


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in schema["paths"].items()
            for method, op in item.items()]


def test_errors_are_documented_as_problem_details(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    assert "HTTPValidationError" not in str(schema)
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "instance"}
    assert {"rule_id", "field", "errors", "current_version"} <= set(problem["properties"])
    assert "FieldProblem" in schema["components"]["schemas"]
    for path, method, op in operations(schema):
        for status, response in op["responses"].items():
            if int(status) >= 400:
                assert list(response["content"]) == [PROBLEM_JSON], (path, method, status)
                assert response["content"][PROBLEM_JSON]["schema"]["$ref"] == PROBLEM_REF


def test_signed_in_routes_document_401_403_404_422(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    for path, method, op in operations(schema):
        if path.startswith("/api/v1/auth/") or path == "/api/v1/rules":
            continue
        assert {"401", "403", "404", "422"} <= set(op["responses"]), (path, method)
    token = schema["paths"]["/api/v1/auth/token"]["post"]["responses"]
    assert {"401", "422", "429"} <= set(token)


def test_conflicts_documented_where_they_happen(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    questionnaire = paths["/api/v1/participants/{code}/questionnaires/{timepoint}"]
    assert "409" in questionnaire["put"]["responses"]
    assert "409" in questionnaire["post"]["responses"]
    assert "409" in paths["/api/v1/participants/{code}/group"]["put"]["responses"]
    assert "409" not in paths["/api/v1/participants"]["get"]["responses"]


def test_sent_problems_match_the_documented_model(client: TestClient, world: World) -> None:
    """What is documented is what is sent: 401, 403, 404, 409 (stale) and 422 bodies all
    validate against ``Problem``, extensions included."""
    assert world.pa is not None
    code = world.pa.code
    m0 = questionnaire_answers(world.pa.inclusion_date)
    url = f"/api/v1/participants/{code}/questionnaires/M0"
    saved = client.post(url, json={"answers": m0}, headers=world.h("worker_a"))
    assert saved.status_code == 201
    sent = {
        401: client.get("/api/v1/participants"),
        403: client.put(f"/api/v1/participants/{code}/group", json={"group": "comparison"},
                        headers=world.h("statistician")),
        404: client.get("/api/v1/participants/C01-0999-X", headers=world.h("worker_a")),
        409: client.put(url, json={"answers": m0, "version": 0}, headers=world.h("worker_a")),
        422: client.post("/api/v1/participants", json={"age": "old"},
                         headers=world.h("worker_a")),
    }
    for status, response in sent.items():
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        problem = Problem.model_validate(response.json())
        assert problem.status == status
    assert Problem.model_validate(sent[403].json()).rule_id == "scope.role"
    assert Problem.model_validate(sent[409].json()).current_version == 1
    assert Problem.model_validate(sent[422].json()).errors
