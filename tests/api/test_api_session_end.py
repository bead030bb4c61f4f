"""Page sessions end for good: a copied cookie stops working after sign-out, after an admin
resets the password and after the account is disabled (the account's session epoch)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from cohort.models import Account, AuditEntry
from cohort.services import accounts
from cohort.services.context import COMMAND_LINE
from cohort.vocab import Role
from tests.api.conftest import World, add_user
from tests.api.test_api_pages import csrf, sign_in
from tests.factories import Factory

COOKIE = "outsider_session"


@pytest.fixture
def thief(app: FastAPI) -> Iterator[TestClient]:
    """A second browser, for a copy of someone's cookie."""
    with TestClient(app, base_url="http://testserver") as other:
        yield other


def copied(client: TestClient, thief: TestClient) -> TestClient:
    value = client.cookies.get(COOKIE)
    assert value
    thief.cookies.set(COOKIE, value)
    assert thief.get("/participants", follow_redirects=False).status_code == 200
    return thief


def refused(browser: TestClient) -> bool:
    response = browser.get("/participants", follow_redirects=False)
    return response.status_code == 303 and response.headers["location"].startswith("/login")


def account_of(session: Session, username: str) -> Account:
    return session.exec(select(Account).where(Account.username == username)).one()


def test_copied_cookie_stops_working_after_sign_out(client: TestClient, thief: TestClient,
                                                    world: World, session: Session) -> None:
    sign_in(client, "worker.a")
    other = copied(client, thief)
    before = account_of(session, "worker.a").session_epoch
    page = client.get("/participants").text
    assert client.post("/logout", data={"csrf_token": csrf(page)},
                       follow_redirects=False).status_code == 303
    assert refused(other)
    assert refused(client)
    account = account_of(session, "worker.a")
    assert account.session_epoch == before + 1
    entry = session.exec(select(AuditEntry).where(
        AuditEntry.table_name == "account", AuditEntry.record_id == account.id,
        AuditEntry.field == "session_epoch")).one()
    assert entry.actor_id == world.users["worker_a"].staff.id
    # Signing in again works, with the new epoch.
    sign_in(client, "worker.a")
    assert client.get("/participants", follow_redirects=False).status_code == 200


def test_copied_cookie_stops_working_after_admin_resets_password(
        client: TestClient, thief: TestClient, world: World, session: Session) -> None:
    sign_in(client, "worker.a")
    other = copied(client, thief)
    account = account_of(session, "worker.a")
    reset = client.patch(f"/api/v1/accounts/{account.id}",
                         json={"password": "a brand new passphrase"}, headers=world.h("admin"))
    assert reset.status_code == 200
    assert refused(other)
    assert refused(client)


def test_copied_cookie_stops_working_after_disabling_even_when_enabled_again(
        client: TestClient, thief: TestClient, world: World, session: Session) -> None:
    sign_in(client, "worker.a")
    other = copied(client, thief)
    account = account_of(session, "worker.a")
    for active in (False, True):
        answer = client.patch(f"/api/v1/accounts/{account.id}", json={"active": active},
                              headers=world.h("admin"))
        assert answer.status_code == 200
    assert refused(other)


def test_admin_page_reset_and_disable_end_page_sessions(
        client: TestClient, thief: TestClient, world: World, session: Session) -> None:
    sign_in(thief, "worker.b")
    account = account_of(session, "worker.b")
    sign_in(client, "admin")
    token = csrf(client.get("/accounts").text)
    client.post(f"/accounts/{account.id}", data={"csrf_token": token, "action": "password",
                                                 "password": "another long passphrase"})
    assert refused(thief)
    token = csrf(client.get("/accounts").text)
    client.post(f"/accounts/{account.id}", data={"csrf_token": token, "action": "disable"})
    assert account_of(session, "worker.b").session_epoch == 2
    assert client.get("/accounts", follow_redirects=False).status_code == 200


def test_epoch_raised_with_its_audit_entry_in_one_commit(session: Session, world: World) -> None:
    account = account_of(session, "worker.b")
    start = account.session_epoch
    accounts.set_password(session, actor=COMMAND_LINE, account_id=account.id or 0,
                          password="yet another passphrase")
    accounts.set_active(session, actor=COMMAND_LINE, account_id=account.id or 0, active=False)
    accounts.set_active(session, actor=COMMAND_LINE, account_id=account.id or 0, active=True)
    assert account_of(session, "worker.b").session_epoch == start + 2
    epochs = session.exec(select(AuditEntry.old_value, AuditEntry.new_value).where(
        AuditEntry.table_name == "account", AuditEntry.record_id == account.id,
        AuditEntry.field == "session_epoch").order_by(col(AuditEntry.id))).all()
    assert [tuple(e) for e in epochs] == [(str(start), str(start + 1)),
                                          (str(start + 1), str(start + 2))]
    assert accounts.signed_in_by_session(session, account.id or 0, start) is None
    assert accounts.signed_in_by_session(session, account.id or 0, start + 2) is not None


def test_sign_out_clears_the_cookie_even_when_the_database_is_busy(
        app: FastAPI, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shared phone must not stay signed in because SQLite's wait ran out during sign-out:
    the error page carries the cleared cookie."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from api import deps

    with TestClient(app, base_url="http://testserver") as browser:
        sign_in(browser, "worker.a")
        page = browser.get("/participants").text

        def busy(*_: object) -> None:
            raise OperationalError("SELECT account", {},
                                   sqlite3.OperationalError("database is locked"))

        monkeypatch.setattr(deps, "signed_in_by_session", busy)
        response = browser.post("/logout", data={"csrf_token": csrf(page)},
                                follow_redirects=False)
        assert response.status_code == 503
        monkeypatch.undo()
        assert refused(browser)


def test_who_asks_and_what_they_reach_is_one_statement(session: Session, world: World,
                                                       factory: Factory) -> None:
    """Every request looks the person up: the account, the staff member and an officer's
    extra centres are read together (one statement, whatever the number of centres),
    and give the same reach as ``actor_for``."""
    from sqlalchemy import event

    from cohort.services.context import actor_for

    c03 = factory.centre("C03")
    regional = add_user(session, "officer.bc", Role.RESEARCH_OFFICER, None,
                        extra_centre_ids=[world.b.id or 0, c03.id or 0])
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(session.get_bind(), "before_cursor_execute", seen)
    try:
        for user, reach in ((regional, {world.b.id, c03.id}), (world.users["officer_b"],
                            {world.b.id}), (world.users["officer"], None),
                            (world.users["worker_a"], {world.a.id})):
            account = account_of(session, user.username)
            for way in ("token", "cookie"):
                statements.clear()
                found = (accounts.signed_in_by_token(session, user.token) if way == "token"
                         else accounts.signed_in_by_session(session, account.id or 0,
                                                            account.session_epoch))
                assert found is not None and len(statements) == 1, (way, statements)
                assert found.actor.centre_ids == (frozenset(reach) if reach else None)
                assert found.actor == actor_for(session, user.staff)
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", seen)
