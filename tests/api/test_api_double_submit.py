"""A double-submitted create answers 409 visit.duplicate; any other failure is still an
RFC 9457 problem body that leaks nothing (500 server-error)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cohort.services import questionnaires
from tests.api.conftest import World
from tests.factories import questionnaire_answers


def test_second_concurrent_create_is_visit_duplicate_not_500(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both saves passed the rule (they read before either wrote): the unique constraint
    stops the second, which answers like the rule visit.duplicate."""
    assert world.pa is not None
    found = questionnaires._participant_and_done

    def nothing_done_yet(*args: Any) -> Any:
        participant, _, lock = found(*args)
        return participant, frozenset(), lock

    monkeypatch.setattr(questionnaires, "_participant_and_done", nothing_done_yet)
    body: dict[str, Any] = {"answers": questionnaire_answers(world.pa.inclusion_date)}
    url = f"/api/v1/participants/{world.pa.code}/questionnaires/M0"
    first = client.post(url, json=body, headers=world.h("worker_a"))
    assert first.status_code == 201, first.text
    second = client.post(url, json=body, headers=world.h("worker_a"))
    assert second.status_code == 409, second.text
    problem = second.json()
    assert problem["rule_id"] == "visit.duplicate"
    assert second.headers["content-type"].startswith("application/problem+json")
    assert client.get(url, headers=world.h("worker_a")).json()["version"] == 1


def test_unexpected_error_is_a_problem_body_without_internals(
    app: FastAPI, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    with TestClient(app, raise_server_exceptions=False) as client, \
            caplog.at_level(logging.ERROR, logger="api.problems"):
        response = client.get("/api/v1/boom", headers=world.h("admin"))
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == "/problems/server-error" and body["status"] == 500
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert "hunter2" in caplog.text  # the traceback stays in the server log


@pytest.mark.parametrize("path", ["/api/v1/boom-busy", "/boom-busy"])
def test_a_busy_database_answers_503_with_retry_after_not_a_server_error(
    app: FastAPI, world: World, path: str
) -> None:
    """SQLite's busy timeout ran out behind a long import: the person is told nothing was
    saved and to try again, on the API and on pages alike."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    @app.get(path)
    def busy() -> None:
        raise OperationalError("INSERT INTO questionnaire", {},
                               sqlite3.OperationalError("database is locked"))

    with TestClient(app, raise_server_exceptions=True) as client:
        response = client.get(path, headers=world.h("admin"))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "60"
    assert "Nothing was saved" in response.text and "INSERT" not in response.text
    if path.startswith("/api/"):
        assert response.json()["type"] == "/problems/database-busy"
