"""Staff through every interface: ``POST /staff`` checks what ``cohort user add`` checks,
``PATCH /staff/{id}``, the admin page's AERLI training form and ``cohort user train``."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import typer
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from cohort.cli.main import parse_date
from cohort.db import engine_for
from cohort.models import AuditEntry, Staff
from cohort.services.accounts import create_staff_account
from cohort.services.context import COMMAND_LINE, actor_for
from cohort.vocab import Role
from tests.api.conftest import World
from tests.api.test_api_pages import csrf, sign_in
from tests.conftest import TODAY


def staff_id(world: World, who: str) -> int:
    return world.users[who].staff.id or 0


# ----------------------------------------------------------------- POST /staff
@pytest.mark.parametrize(("body", "field"), [
    ({"display_name": "No centre", "role": "outreach_worker"}, "centre_id"),
    ({"display_name": "Stat", "role": "statistician", "extra_centre_codes": ["C02"]},
     "extra_centre_codes"),
    ({"display_name": "Worker", "role": "outreach_worker", "centre_id": None,
      "extra_centre_codes": ["C02"]}, "centre_id"),
])
def test_post_staff_refuses_what_account_creation_refuses(
        client: TestClient, world: World, session: Session, body: dict[str, object],
        field: str) -> None:
    before = len(session.exec(select(Staff)).all())
    response = client.post("/api/v1/staff", json=body, headers=world.h("admin"))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in problem["errors"]] == [field]
    assert "--" not in problem["detail"]
    assert len(session.exec(select(Staff)).all()) == before


def test_post_staff_worker_limited_to_other_centre_refused(client: TestClient,
                                                           world: World) -> None:
    response = client.post("/api/v1/staff", headers=world.h("admin"), json={
        "display_name": "Worker", "role": "outreach_worker", "centre_id": world.a.id,
        "extra_centre_codes": ["C02"]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "extra_centre_codes"


def test_post_staff_future_training_refused(client: TestClient, world: World) -> None:
    response = client.post("/api/v1/staff", headers=world.h("admin"), json={
        "display_name": "Worker", "role": "outreach_worker", "centre_id": world.a.id,
        "aerli_trained_on": (TODAY + timedelta(days=1)).isoformat()})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "aerli_trained_on"


# ----------------------------------------------------------------- PATCH /staff/{id}
def test_patch_staff_sets_and_clears_training(client: TestClient, world: World,
                                              session: Session) -> None:
    target = staff_id(world, "worker_a")
    url = f"/api/v1/staff/{target}"
    set_ = client.patch(url, json={"aerli_trained_on": "2026-01-15"}, headers=world.h("admin"))
    assert set_.status_code == 200, set_.text
    assert set_.json()["aerli_trained_on"] == "2026-01-15"
    untouched = client.patch(url, json={"active": True}, headers=world.h("admin"))
    assert untouched.json()["aerli_trained_on"] == "2026-01-15"
    cleared = client.patch(url, json={"aerli_trained_on": None}, headers=world.h("admin"))
    assert cleared.status_code == 200 and cleared.json()["aerli_trained_on"] is None
    fields = session.exec(select(AuditEntry.field).where(
        AuditEntry.table_name == "staff", AuditEntry.record_id == target,
        AuditEntry.action == "update")).all()
    assert fields.count("aerli_trained_on") == 2


def test_patch_staff_refuses_future_training_with_a_clear_message(
        client: TestClient, world: World) -> None:
    future = (TODAY + timedelta(days=10)).isoformat()
    response = client.patch(f"/api/v1/staff/{staff_id(world, 'worker_a')}",
                            json={"aerli_trained_on": future}, headers=world.h("admin"))
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "aerli_trained_on" and error["code"] == "date_in_future"
    assert "in the future" in error["message"] and future in error["message"]


def test_patch_staff_unknown_id_is_404_and_admin_only(client: TestClient, world: World) -> None:
    unknown = client.patch("/api/v1/staff/999999", json={"active": False},
                           headers=world.h("admin"))
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    for who in ("worker_a", "officer", "statistician"):
        refused = client.patch(f"/api/v1/staff/{staff_id(world, 'worker_a')}",
                               json={"aerli_trained_on": None}, headers=world.h(who))
        assert refused.status_code == 403 and refused.json()["rule_id"] == "scope.role"


def test_patch_staff_centre_limits_and_active(client: TestClient, world: World,
                                              session: Session) -> None:
    officer = staff_id(world, "officer")
    limited = client.patch(f"/api/v1/staff/{officer}", json={"extra_centre_codes": ["c01"]},
                           headers=world.h("admin"))
    assert limited.status_code == 200
    staff = session.get(Staff, officer)
    assert staff is not None and actor_for(session, staff).centre_ids == {world.a.id}
    assert [c["code"] for c in client.get("/api/v1/centres",
                                          headers=world.h("officer")).json()] == ["C01"]
    national = client.patch(f"/api/v1/staff/{officer}", json={"extra_centre_codes": []},
                            headers=world.h("admin"))
    assert national.status_code == 200
    assert actor_for(session, staff).centre_ids is None
    worker = client.patch(f"/api/v1/staff/{staff_id(world, 'worker_a')}",
                          json={"extra_centre_codes": ["C02"]}, headers=world.h("admin"))
    assert worker.status_code == 422
    assert worker.json()["errors"][0]["field"] == "extra_centre_codes"
    unknown = client.patch(f"/api/v1/staff/{officer}", json={"extra_centre_codes": ["C99"]},
                           headers=world.h("admin"))
    assert unknown.status_code == 404
    gone = client.patch(f"/api/v1/staff/{staff_id(world, 'worker_b')}", json={"active": False},
                        headers=world.h("admin"))
    assert gone.status_code == 200 and gone.json()["active"] is False
    assert client.get("/api/v1/auth/me", headers=world.h("worker_b")).status_code == 401


def test_patch_staff_half_refused_changes_nothing(client: TestClient, world: World,
                                                  session: Session) -> None:
    admin = staff_id(world, "admin")
    response = client.patch(f"/api/v1/staff/{admin}", headers=world.h("admin"),
                            json={"aerli_trained_on": "2025-05-05", "active": False})
    assert response.status_code == 422
    session.expire_all()
    staff = session.get(Staff, admin)
    assert staff is not None and staff.active
    assert staff.aerli_trained_on != date(2025, 5, 5)


# ----------------------------------------------------------------- admin page
def test_admin_page_sets_and_clears_training(client: TestClient, world: World,
                                             session: Session) -> None:
    target = staff_id(world, "worker_a")
    sign_in(client, "admin")
    page = client.get("/accounts")
    assert f'id="training-{target}"' in page.text
    saved = client.post(f"/staff/{target}/training", data={
        "csrf_token": csrf(page.text), "action": "save", "trained_on": "2026-01-15"})
    assert saved.status_code == 200 and "completed on 2026-01-15" in saved.text
    session.expire_all()
    assert session.get(Staff, target).aerli_trained_on == date(2026, 1, 15)  # type: ignore[union-attr]
    future = client.post(f"/staff/{target}/training", data={
        "csrf_token": csrf(saved.text), "action": "save",
        "trained_on": (TODAY + timedelta(days=3)).isoformat()})
    assert "AERLI training date:" in future.text and "in the future" in future.text
    assert "aerli_trained_on" not in future.text.split('id="account-list"')[0]
    cleared = client.post(f"/staff/{target}/training", data={
        "csrf_token": csrf(future.text), "action": "clear"})
    assert "date cleared" in cleared.text
    session.expire_all()
    assert session.get(Staff, target).aerli_trained_on is None  # type: ignore[union-attr]


def test_admin_page_training_for_unknown_staff_is_404(client: TestClient, world: World) -> None:
    sign_in(client, "admin")
    page = client.get("/accounts")
    response = client.post("/staff/999999/training", data={
        "csrf_token": csrf(page.text), "action": "clear"})
    assert response.status_code == 404


def test_admin_page_speaks_no_command_line_flags(client: TestClient, world: World) -> None:
    sign_in(client, "admin")
    page = client.get("/accounts")
    refused = client.post("/accounts", data={
        "username": "new.worker", "password": "long enough password",
        "role": "outreach_worker", "centre_code": "", "csrf_token": csrf(page.text)})
    assert refused.status_code == 422
    assert "Centre: Outreach workers belong to a centre" in refused.text
    assert "--centre" not in refused.text and "centre_id" not in refused.text


# ----------------------------------------------------------------- cohort user train
@pytest.fixture
def cli_worker(cli: tuple[typer.Typer, str]) -> tuple[typer.Typer, str]:
    """The ``cli`` fixture (tests/api/conftest.py) with one outreach worker."""
    app, url = cli
    with Session(engine_for(url)) as session:
        create_staff_account(session, actor=COMMAND_LINE, username="m.dupont",
                             role=Role.OUTREACH_WORKER, password="long enough password",
                             centre_code="C04")
    return app, url


def trained_on(url: str) -> date | None:
    with Session(engine_for(url)) as session:
        return session.exec(select(Staff.aerli_trained_on)).one()


def test_cli_train_sets_and_clears(cli_worker: tuple[typer.Typer, str]) -> None:
    app, url = cli_worker
    result = CliRunner().invoke(app, ["user", "train", "--username", "M.Dupont",
                                      "--on", "2026-01-15"])
    assert result.exit_code == 0, result.output
    assert "completed on 2026-01-15" in result.output
    assert trained_on(url) == date(2026, 1, 15)
    cleared = CliRunner().invoke(app, ["user", "train", "--username", "m.dupont", "--clear"])
    assert cleared.exit_code == 0 and trained_on(url) is None
    with Session(engine_for(url)) as session:
        assert len(session.exec(select(AuditEntry).where(
            AuditEntry.field == "aerli_trained_on")).all()) == 2


def test_cli_train_reads_dates_like_every_command(cli_worker: tuple[typer.Typer, str],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """``user train --on`` uses the command line's one date reader (its error text too)."""
    with pytest.raises(typer.Exit):
        parse_date("15/01/2026")
    shared = capsys.readouterr().err.strip()
    app, url = cli_worker
    result = CliRunner().invoke(app, ["user", "train", "--username", "m.dupont",
                                      "--on", "15/01/2026"])
    assert result.exit_code == 2 and result.output.strip() == shared
    assert trained_on(url) is None


@pytest.mark.parametrize(("args", "message"), [
    (["--username", "m.dupont", "--on", "2999-01-01"],
     "--on: The date 2999-01-01 is in the future"),
    (["--username", "m.dupont", "--on", "15/01/2026"], "is not a date"),
    (["--username", "nobody"], "No account with the username 'nobody'"),
    (["--username", "m.dupont", "--on", "2026-01-15", "--clear"], "not both"),
])
def test_cli_train_errors_are_one_line(cli_worker: tuple[typer.Typer, str], args: list[str],
                                       message: str) -> None:
    app, url = cli_worker
    result = CliRunner().invoke(app, ["user", "train", *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert trained_on(url) is None
