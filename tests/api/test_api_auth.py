"""Accounts and tokens: Argon2 hashes, digests only, sign-in failures all look alike."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from cohort.errors import ActionNotAllowed, CohortError
from cohort.models import Account, ApiToken, AuditEntry, utcnow
from cohort.services import accounts
from cohort.services.context import COMMAND_LINE
from cohort.vocab import Role
from tests.api.conftest import PASSWORD, World
from tests.factories import Factory


def test_password_is_stored_as_argon2_hash(session: Session, factory: Factory) -> None:
    staff = factory.staff(role=Role.RESEARCH_OFFICER, national=True)
    account = accounts.create_account(session, actor=COMMAND_LINE, staff_id=staff.id or 0,
                                      username="Ofc.One", password="a long password here")
    assert account.username == "ofc.one"
    assert account.password_hash.startswith("$argon2id$")
    assert "a long password here" not in account.password_hash
    assert accounts.authenticate(session, username="OFC.ONE",
                                 password="a long password here") is not None
    assert accounts.authenticate(session, username="ofc.one", password="wrong password") is None
    assert accounts.authenticate(session, username="nobody", password="whatever") is None
    audited = session.exec(select(AuditEntry).where(AuditEntry.table_name == "account")).all()
    assert audited and all("password" not in (e.new_value or "") for e in audited)


def test_short_password_and_taken_username_refused(session: Session, factory: Factory) -> None:
    staff = factory.staff()
    with pytest.raises(CohortError, match="at least 15"):
        accounts.create_account(session, actor=COMMAND_LINE, staff_id=staff.id or 0, username="x",
                                password="short")
    accounts.create_account(session, actor=COMMAND_LINE, staff_id=staff.id or 0, username="x",
                            password="long enough password")
    other = factory.staff()
    with pytest.raises(CohortError, match="taken"):
        accounts.create_account(session, actor=COMMAND_LINE, staff_id=other.id or 0, username="X",
                                password="long enough password")


def test_only_admins_create_accounts(session: Session, factory: Factory) -> None:
    worker = factory.worker()
    with pytest.raises(ActionNotAllowed) as refused:
        accounts.create_staff_account(session, actor=worker, username="new.one",
                                      password="long enough password", role=Role.ADMIN)
    assert refused.value.rule_id == "scope.role"


def test_token_digest_only_expiry_and_revocation(session: Session, world: World) -> None:
    user = world.users["worker_a"]
    digests = session.exec(select(ApiToken.token_digest)).all()
    assert user.token not in digests
    assert hashlib.sha256(user.token.encode()).hexdigest() in digests
    assert accounts.account_for_token(session, user.token) is not None
    accounts.revoke_token(session, user.token)
    assert accounts.account_for_token(session, user.token) is None
    account = session.exec(select(Account).where(Account.username == "worker.b")).one()
    expired = accounts.issue_token(session, account=account, ttl=timedelta(seconds=-1))
    assert accounts.account_for_token(session, expired) is None
    assert accounts.account_for_token(session, "not-a-token") is None


def test_disabled_account_loses_tokens(session: Session, world: World,
                                       client: TestClient) -> None:
    account = session.exec(select(Account).where(Account.username == "worker.b")).one()
    admin = client.patch(f"/api/v1/accounts/{account.id}", json={"active": False},
                         headers=world.h("admin"))
    assert admin.status_code == 200 and admin.json()["active"] is False
    assert client.get("/api/v1/auth/me", headers=world.h("worker_b")).status_code == 401
    assert accounts.authenticate(session, username="worker.b", password=PASSWORD) is None


def test_token_endpoint_and_me(client: TestClient, world: World) -> None:
    bad = client.post("/api/v1/auth/token", data={"username": "worker.a", "password": "nope"})
    assert bad.status_code == 401
    assert bad.headers["content-type"].startswith("application/problem+json")
    unknown = client.post("/api/v1/auth/token", data={"username": "ghost", "password": "nope"})
    assert unknown.json()["detail"] == bad.json()["detail"]
    good = client.post("/api/v1/auth/token", data={"username": "worker.a", "password": PASSWORD})
    assert good.status_code == 200
    token = good.json()["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["role"] == "outreach_worker" and me["centre_ids"] == [world.a.id]
    officer = client.get("/api/v1/auth/me", headers=world.h("officer")).json()
    assert officer["centre_ids"] is None
    out = client.post("/api/v1/auth/revoke", headers={"Authorization": f"Bearer {token}"})
    assert out.status_code == 204
    assert client.get("/api/v1/auth/me",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_demo_accounts_bound_to_staff_and_idempotent(session: Session, factory: Factory) -> None:
    a, b = factory.centre("C01"), factory.centre("C02")
    existing_worker = factory.staff(centre=a)
    first = accounts.create_demo_accounts(session)
    by_name = {d.username: d for d in first}
    assert set(by_name) == {"admin", "officer", "statistician", "worker.c01", "worker.c02"}
    assert by_name["worker.c01"].staff_id == existing_worker.id
    assert by_name["worker.c02"].centre_code == b.code
    assert len({d.password for d in first}) == len(first)
    again = accounts.create_demo_accounts(session)
    assert {d.username for d in again} == set(by_name)
    assert {d.staff_id for d in again} == {d.staff_id for d in first}
    for demo in again:
        assert accounts.authenticate(session, username=demo.username,
                                     password=demo.password) is not None
        assert accounts.authenticate(session, username=demo.username,
                                     password=by_name[demo.username].password) is None
    assert session.exec(select(Account)).all().__len__() == len(first)
    assert utcnow()  # aware clock used for last_sign_in_at


def test_repeated_failed_sign_ins_are_slowed_down(client: TestClient, world: World) -> None:
    from api.throttle import MAX_FAILURES

    for _ in range(MAX_FAILURES):
        bad = client.post("/api/v1/auth/token", data={"username": "worker.a2", "password": "no"})
        assert bad.status_code == 401
    # Even the right password waits now; the answer says so and for how long.
    blocked = client.post("/api/v1/auth/token",
                          data={"username": "Worker.A2", "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json()["type"].endswith("too-many-attempts")
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    page = client.post("/login", data={"username": "worker.a2", "password": PASSWORD,
                                       "csrf_token": token}, follow_redirects=False)
    assert page.status_code == 429 and "Too many sign-in attempts" in page.text
    # Another account is not affected.
    other = client.post("/api/v1/auth/token", data={"username": "worker.a", "password": PASSWORD})
    assert other.status_code == 200


def test_throttle_window_slides_and_success_clears(session: Session) -> None:
    from api.throttle import SignInThrottle
    from cohort.services.throttle import ThrottleRules

    now = [datetime(2026, 11, 22, 9, 0, tzinfo=UTC)]
    throttle = SignInThrottle(session, ThrottleRules(max_failures=2, max_address_failures=3,
                                                     window=timedelta(seconds=60),
                                                     clock=lambda: now[0]))
    throttle.failed("a", "ip")
    throttle.failed("A ", "ip")
    assert throttle.wait_seconds("a", "ip") == 60
    assert throttle.wait_seconds("a", "other-ip") == 0
    assert throttle.wait_seconds("b", "ip") == 0
    now[0] += timedelta(seconds=30)
    assert throttle.wait_seconds("a", "ip") == 30
    now[0] += timedelta(seconds=31)
    assert throttle.wait_seconds("a", "ip") == 0
    throttle.failed("a", "ip")
    throttle.succeeded("a", "ip")
    throttle.failed("a", "ip")
    assert throttle.wait_seconds("a", "ip") == 0
    # Per address: three failures on three accounts close the address to every account.
    throttle.failed("b", "ip")
    throttle.failed("c", "ip")
    assert throttle.wait_seconds("d", "ip") == 60
    assert throttle.wait_seconds("d", "other-ip") == 0
