"""PATCH /accounts/{id}: password reset and disabling in one service and one commit, so a
refused part leaves the other undone (rule: a data manager cannot disable their own
account)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from cohort.models import Account
from tests.api.conftest import PASSWORD, World


def test_half_refused_patch_changes_nothing(client: TestClient, world: World,
                                            session: Session) -> None:
    admin_staff = world.users["admin"].staff
    account = session.exec(
        Account.__table__.select().where(Account.staff_id == admin_staff.id)  # type: ignore[attr-defined]
    ).first()
    assert account is not None
    before = account.password_hash
    response = client.patch(f"/api/v1/accounts/{account.id}",
                            json={"password": "a brand new passphrase", "active": False},
                            headers=world.h("admin"))
    assert response.status_code == 422, response.text
    assert "own account" in response.json()["detail"]
    stored = session.get(Account, account.id)
    assert stored is not None
    session.refresh(stored)
    assert stored.password_hash == before and stored.active
    token = client.post("/api/v1/auth/token",
                        data={"username": "admin", "password": PASSWORD})
    assert token.status_code == 200  # the old password still opens it


def test_patch_resets_password_and_disables_together(client: TestClient,
                                                     world: World, session: Session) -> None:
    worker = world.users["worker_a"].staff
    account = session.exec(
        Account.__table__.select().where(Account.staff_id == worker.id)  # type: ignore[attr-defined]
    ).first()
    assert account is not None
    response = client.patch(f"/api/v1/accounts/{account.id}",
                            json={"password": "a brand new passphrase", "active": False},
                            headers=world.h("admin"))
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert client.get("/api/v1/participants", headers=world.h("worker_a")).status_code == 401
