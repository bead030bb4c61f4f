"""REDCap tokens made and revoked by data managers: ``cohort user token`` and the Accounts
page. The token is shown once, never kept, never put in the page-session cookie."""

from __future__ import annotations

import re

import typer
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from cohort.db import engine_for
from cohort.models import Account, RedcapToken
from cohort.services.redcap_tokens import signed_in_by_redcap_token
from tests.api.conftest import World
from tests.api.test_api_pages import csrf, sign_in

HEX32 = re.compile(r"\b[0-9A-F]{32}\b")


def test_cli_prints_a_token_once_and_revokes_it(cli: tuple[typer.Typer, str]) -> None:
    app, url = cli
    added = CliRunner().invoke(app, ["user", "add", "--username", "stat", "--role",
                                     "statistician", "--password-stdin"],
                               input="long enough pass\n")
    assert added.exit_code == 0, added.output
    made = CliRunner().invoke(app, ["user", "token", "--username", "stat"])
    assert made.exit_code == 0, made.output
    [token] = HEX32.findall(made.output)
    with Session(engine_for(url)) as session:
        assert signed_in_by_redcap_token(session, token) is not None
        assert token not in session.exec(select(RedcapToken)).one().token_digest
    revoked = CliRunner().invoke(app, ["user", "token", "--username", "stat", "--revoke"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    with Session(engine_for(url)) as session:
        assert signed_in_by_redcap_token(session, token) is None
    unknown = CliRunner().invoke(app, ["user", "token", "--username", "nobody"])
    assert unknown.exit_code == 2 and "No account" in unknown.output


def test_accounts_page_makes_and_revokes_tokens(client: TestClient, world: World,
                                                session: Session) -> None:
    target = session.exec(select(Account).where(Account.username == "stat")).one()
    sign_in(client, "admin")
    page = client.get("/accounts")
    assert f'id="redcap-token-{target.id}"' in page.text and "Make token" in page.text
    made = client.post(f"/accounts/{target.id}/redcap-token",
                       data={"csrf_token": csrf(page.text), "action": "new"})
    assert made.status_code == 200 and "shown only this once" in made.text
    [token] = HEX32.findall(made.text)
    assert token not in str(client.cookies.get("outsider_session"))
    assert signed_in_by_redcap_token(session, token) is not None
    again = client.get("/accounts")
    assert token not in again.text and "Revoke token" in again.text
    revoked = client.post(f"/accounts/{target.id}/redcap-token",
                          data={"csrf_token": csrf(again.text), "action": "revoke"})
    assert revoked.status_code == 200 and "revoked" in revoked.text
    assert signed_in_by_redcap_token(session, token) is None


def test_only_data_managers_make_tokens(client: TestClient, world: World,
                                        session: Session) -> None:
    target = session.exec(select(Account).where(Account.username == "stat")).one()
    sign_in(client, "officer")
    page = client.get("/retention")
    refused = client.post(f"/accounts/{target.id}/redcap-token",
                          data={"csrf_token": csrf(page.text), "action": "new"})
    assert refused.status_code == 403
    assert session.exec(select(RedcapToken)).all() == []
