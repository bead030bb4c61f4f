"""The offline app's routes (``api.pages.offline``) with the page session cookie, on SQLite
and PostgreSQL: what the phone may download, and how entries come back.

Rules: scope.role (offline entry is for outreach workers), scope.other_centre (only the
worker's own centre is on the phone, and entries for another centre are refused like an
unknown code), sync.once, sync.conflict, and CSRF on every POST.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from cohort.models import Questionnaire
from cohort.vocab import Timepoint
from tests.api.conftest import World
from tests.api.test_api_pages import sign_in
from tests.conftest import TODAY
from tests.factories import questionnaire_answers


def bundle(client: TestClient) -> dict[str, Any]:
    response = client.get("/offline/data")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    data: dict[str, Any] = response.json()
    return data


def send(client: TestClient, csrf: str, **entry: Any) -> Any:
    entry.setdefault("uuid", str(uuid.uuid4()))
    return client.post("/offline/entries", data={"csrf_token": csrf, "entry": json.dumps(entry)})


def test_the_phone_gets_its_own_centre_only_and_pseudonymous(client: TestClient,
                                                             world: World) -> None:
    sign_in(client, "worker.a")
    data = bundle(client)
    assert world.pa is not None and world.pb is not None
    codes = [p["code"] for p in data["participants"]]
    assert world.pa.code in codes and world.pb.code not in codes
    assert set(data["participants"][0]) == {
        "code", "group", "status", "inclusion_date", "done", "next_timepoint", "next_opens",
        "next_closes", "window_state"}
    assert data["worker"]["centre"] == "C01"
    assert data["offline_days"] == 7
    assert {"enrolment", "M0", "M6", "M12", "session", "status"} <= set(data["forms"])
    assert 'data-branching=' in data["forms"]["M0"]["html"]  # branching goes with the form
    assert all(s["name"] != "Name of worker.b" for s in data["staff"])


def test_other_roles_have_no_offline_copy(client: TestClient, world: World) -> None:
    for username in ("officer", "stat"):
        sign_in(client, username)
        assert client.get("/offline/data").status_code == 403
        client.cookies.clear()


def test_the_shell_the_worker_and_the_manifest_are_served(client: TestClient) -> None:
    shell = client.get("/offline/")
    assert shell.status_code == 200 and 'id="offline-app"' in shell.text
    worker = client.get("/sw.js")
    assert worker.status_code == 200 and "text/javascript" in worker.headers["content-type"]
    assert worker.headers["service-worker-allowed"] == "/"
    manifest = client.get("/offline/manifest.webmanifest").json()
    assert manifest["start_url"] == "/offline/"
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).content[:4] == b"\x89PNG"


def test_entries_are_applied_once_and_refusals_and_conflicts_answered(
        client: TestClient, world: World, session: Session) -> None:
    sign_in(client, "worker.a")
    csrf = bundle(client)["csrf"]
    assert world.pa is not None and world.pb is not None
    m0 = {"kind": "questionnaire", "participant": world.pa.code, "timepoint": "M0",
          "answers": questionnaire_answers(world.pa.inclusion_date), "uuid": str(uuid.uuid4())}
    assert client.post("/offline/entries", data={"entry": json.dumps(m0)}).status_code == 403
    first = send(client, csrf, **m0)
    assert first.status_code == 201 and first.json()["outcome"] == "saved"
    again = send(client, csrf, **m0)
    assert again.status_code == 200 and again.json()["outcome"] == "already_saved"
    stored = session.exec(select(Questionnaire).where(
        Questionnaire.participant_id == world.pa.id)).all()
    assert len(stored) == 1

    other = send(client, csrf, **{**m0, "uuid": str(uuid.uuid4())})
    assert other.status_code == 409
    assert other.json()["outcome"] == "conflict"
    assert other.json()["theirs"]["version"] == 1

    early = send(client, csrf, kind="questionnaire", participant=world.pa.code, timepoint="M6",
                 answers=questionnaire_answers(world.pa.inclusion_date - timedelta(days=3),
                                               Timepoint("M6")))
    assert early.status_code == 422 and early.json()["outcome"] == "refused"
    assert early.json()["rule_id"]

    elsewhere = send(client, csrf, kind="questionnaire", participant=world.pb.code,
                     timepoint="M0", answers=questionnaire_answers(TODAY))
    assert elsewhere.status_code == 422 and "No participant" in elsewhere.json()["message"]

    bad = client.post("/offline/entries", data={"csrf_token": csrf, "entry": "{not json"})
    assert bad.status_code == 422 and bad.json()["outcome"] == "invalid"
    unknown = send(client, csrf, kind="delete", participant=world.pa.code)
    assert unknown.status_code == 422 and "kind" in unknown.json()["errors"]
