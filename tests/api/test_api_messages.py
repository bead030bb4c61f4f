"""Words are rendered at the edge from message ids and parameters: API problem details,
the deviations API, pages and the command line show the catalogue's text, and a stored
deviation is shown from its id and parameters, not from the English column.

Rules: date.before_inclusion, session.not_in_person, session.trained_staff.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from cohort.cli.main import app as cli
from cohort.db import engine_for
from cohort.messages import render
from cohort.models import Deviation
from cohort.settings import get_settings
from tests.api.conftest import World
from tests.api.test_api_deviations import session_body
from tests.api.test_api_pages import sign_in


def _flag_and_spoil(client: TestClient, world: World, session: Session) -> Deviation:
    """A session flagged session.not_in_person, whose English column is then spoiled."""
    assert world.pa is not None
    response = client.post(f"/api/v1/participants/{world.pa.code}/sessions",
                           json=session_body(world, ["worker_a", "worker_a2"],
                                             modality="online"),
                           headers=world.h("worker_a"))
    assert response.status_code == 201, response.text
    brief = {d["rule_id"]: d for d in response.json()["deviations"]}["session.not_in_person"]
    assert brief["message_id"] == "session.not_in_person.online"
    assert brief["message"] == f"{world.pa.code}: {EXPECTED}"
    deviation = session.exec(select(Deviation).where(
        Deviation.rule_id == "session.not_in_person")).one()
    deviation.message = "stale English words"
    session.add(deviation)
    session.flush()
    return deviation


EXPECTED = ("Session held online: AERLI needs the injection observed in person, so it does "
            "not count for the protocol.")


def test_a_refusal_detail_is_the_catalogue_text(client: TestClient, world: World) -> None:
    """date.before_inclusion: the problem's detail is the message rendered with its values."""
    assert world.pa is not None
    early = world.pa.inclusion_date - timedelta(days=3)
    response = client.post(f"/api/v1/participants/{world.pa.code}/sessions",
                           json=session_body(world, ["worker_a", "worker_a2"],
                                             session_date=early.isoformat()),
                           headers=world.h("worker_a"))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["rule_id"] == "date.before_inclusion"
    assert problem["detail"] == render("date.before_inclusion.session", {
        "when": early.isoformat(), "inclusion_date": world.pa.inclusion_date.isoformat()})
    assert problem["detail"].startswith(f"The session date ({early.isoformat()}) is before")


def test_the_deviations_api_renders_from_id_and_parameters(
        client: TestClient, world: World, session: Session) -> None:
    assert world.pa is not None
    _flag_and_spoil(client, world, session)
    listed = client.get("/api/v1/deviations?rule_id=session.not_in_person",
                        headers=world.h("officer")).json()["data"]
    assert len(listed) == 1
    shown = listed[0]
    assert shown["message_id"] == "session.not_in_person.online"
    assert shown["message_params"] == {"participant": world.pa.code}
    assert shown["message"] == f"{world.pa.code}: {EXPECTED}"


def test_pages_render_from_id_and_parameters(
        client: TestClient, world: World, session: Session) -> None:
    assert world.pa is not None
    _flag_and_spoil(client, world, session)
    sign_in(client, "officer")
    for url in (f"/participants/{world.pa.code}", "/deviations"):
        page = client.get(url).text
        assert EXPECTED in page, url
        assert "stale English words" not in page, url


def test_the_command_line_renders_from_id_and_parameters(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COHORT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        made = runner.invoke(cli, ["demo", "--participants", "40", "--seed", "3",
                                   "--as-of", "2026-11-22"])
        assert made.exit_code == 0, made.stderr
        with Session(engine_for(get_settings().database_url)) as session:
            first = session.exec(select(Deviation).order_by(Deviation.id)).first()
            assert first is not None and first.message_id != "legacy.text"
            words, rule_id = first.message, first.rule_id
            first.message = "stale English words"
            session.add(first)
            session.commit()
        listed = runner.invoke(cli, ["deviations", "--rule", rule_id, "--limit", "500"])
        assert listed.exit_code == 0, listed.stderr
        assert words in listed.stdout and "stale English words" not in listed.stdout
    finally:
        get_settings.cache_clear()
