"""``cohort user add|list``: passwords never echoed nor taken as options; one-line errors."""

from __future__ import annotations

import pytest
import typer
from sqlmodel import Session, select
from typer.testing import CliRunner

from cohort.db import engine_for
from cohort.models import Account, Staff
from cohort.services.accounts import authenticate
from cohort.services.context import actor_for


def test_add_reads_password_from_stdin_and_never_echoes(cli: tuple[typer.Typer, str]) -> None:
    app, url = cli
    secret = "a very long secret phrase"
    result = CliRunner().invoke(app, ["user", "add", "--username", "M.Dupont", "--role",
                                      "outreach_worker", "--centre", "c04", "--trained",
                                      "--password-stdin"], input=secret + "\n")
    assert result.exit_code == 0, result.output
    assert "Account 'm.dupont' created (outreach_worker, centre C04)" in result.output
    assert secret not in result.output
    with Session(engine_for(url)) as session:
        account = session.exec(select(Account)).one()
        staff = session.get(Staff, account.staff_id)
        assert staff is not None and staff.aerli_trained_on is not None
        assert authenticate(session, username="m.dupont", password=secret) is not None
    listed = CliRunner().invoke(app, ["user", "list"])
    assert "m.dupont" in listed.output and "C04" in listed.output


def test_add_prompts_twice_when_no_stdin_flag(cli: tuple[typer.Typer, str]) -> None:
    app, _ = cli
    result = CliRunner().invoke(app, ["user", "add", "--username", "boss", "--role", "admin"],
                                input="long enough pass\nlong enough pass\n")
    assert result.exit_code == 0, result.output
    assert "long enough pass" not in result.output


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["--role", "chief"], "long enough pass", "unknown role 'chief'"),
    (["--role", "admin"], "short", "too short"),
    (["--role", "outreach_worker"], "long enough pass", "belong to a centre"),
    (["--role", "outreach_worker", "--centre", "C99"], "long enough pass", "No centre"),
])
def test_add_errors_are_one_line(cli: tuple[typer.Typer, str], args: list[str], stdin: str,
                                 message: str) -> None:
    app, _ = cli
    result = CliRunner().invoke(app, ["user", "add", "--username", "x", *args,
                                      "--password-stdin"], input=stdin + "\n")
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_add_research_officer_limited_to_centres(cli: tuple[typer.Typer, str]) -> None:
    app, url = cli
    result = CliRunner().invoke(app, ["user", "add", "--username", "regional", "--role",
                                      "research_officer", "--limit-to", "c04",
                                      "--password-stdin"], input="long enough pass\n")
    assert result.exit_code == 0, result.output
    assert "limited to C04" in result.output
    with Session(engine_for(url)) as session:
        account = session.exec(select(Account)).one()
        staff = session.get(Staff, account.staff_id)
        assert staff is not None
        assert actor_for(session, staff).centre_ids is not None
