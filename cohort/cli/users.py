"""``cohort user add|list|train|token`` and ``cohort serve``.

Passwords are never echoed nor accepted as an option (they would land in the shell
history): they are typed at a hidden prompt or piped with ``--password-stdin``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from forms.i18n import _, format_date, format_datetime

user_app = typer.Typer(help="Sign-in accounts of the study team.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> None:
    typer.echo(_("Error: {message}").format(message=message), err=True)
    raise typer.Exit(code)


def _database_failed(error: Exception) -> None:
    _fail(_("cannot use the database ({error}); run `cohort init` first, or check "
            "COHORT_DATABASE_URL.").format(error=str(error).splitlines()[0]), 3)


def _account_failed(error: Exception) -> None:
    """A refused command about one account (pointing to the list when it is unknown), or
    an unusable database."""
    from cohort.errors import CohortError

    if not isinstance(error, CohortError):
        _database_failed(error)
        return
    unknown = error.message_id in ("account.unknown_username", "account.not_found")
    _fail(_message(error) + (" " + _("(`cohort user list` shows every account.)")
                             if unknown else ""))


# The options of these commands, by the service's field names, so errors name the option.
OPTIONS = {"centre_id": "--centre", "extra_centre_codes": "--limit-to",
           "aerli_trained_on": "--on"}


def _message(error: Exception) -> str:
    """One line for a refused command, naming the option to correct."""
    from cohort.errors import CohortError, ValidationFailed

    assert isinstance(error, CohortError)  # noqa: S101
    if isinstance(error, ValidationFailed) and error.problems:
        return " ".join(f"{OPTIONS.get(p.field, p.label or p.field)}: {p.message}"
                        for p in error.problems)
    rule = getattr(error, "rule_id", None)
    return f"[{rule}] {error.message}" if rule else error.message


@user_app.command("add")
def add(
    username: Annotated[str, typer.Option(help="Sign-in name, e.g. m.dupont.")],
    role: Annotated[str, typer.Option(
        help="outreach_worker | research_officer | statistician | admin")],
    centre: Annotated[str | None, typer.Option(
        help="Centre code (outreach workers; limits a research officer to it).")] = None,
    name: Annotated[str | None, typer.Option(help="Name shown to colleagues.")] = None,
    limit_to: Annotated[list[str] | None, typer.Option(
        "--limit-to", help="Research officers: limit to this centre (repeat for several).")]
    = None,
    trained: Annotated[bool, typer.Option(help="AERLI-trained as of today.")] = False,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input.")] = False,
) -> None:
    """Create a staff member and their account (Argon2-hashed password)."""
    from sqlalchemy.exc import SQLAlchemyError

    from cohort.db import session_scope
    from cohort.errors import CohortError
    from cohort.services.accounts import create_staff_account
    from cohort.services.context import COMMAND_LINE
    from cohort.vocab import Role

    try:
        wanted = Role(role)
    except ValueError:
        _fail(_("unknown role '{role}'; use one of: {roles}.").format(
            role=role, roles=", ".join(r.value for r in Role)))
        return
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with session_scope() as session:
            account = create_staff_account(
                session, actor=COMMAND_LINE, username=username, password=password, role=wanted,
                centre_code=centre, display_name=name, aerli_trained=trained,
                limit_to=limit_to or (),
            )
    except CohortError as error:
        _fail(_message(error))
        return
    except SQLAlchemyError as error:
        _database_failed(error)
        return
    details = wanted.value
    if centre:
        details += _(", centre {centre}").format(centre=centre.upper())
    if limit_to:
        details += _(", limited to {centres}").format(
            centres=", ".join(c.upper() for c in limit_to))
    typer.echo(_("Account '{username}' created ({details}).").format(
        username=account.username, details=details))


@user_app.command("train")
def train(
    username: Annotated[str, typer.Option(help="Sign-in name of the staff member.")],
    on: Annotated[str | None, typer.Option(
        help="Date AERLI training was completed (YYYY-MM-DD); default today.")] = None,
    clear: Annotated[bool, typer.Option(
        "--clear", help="Remove the training date (not AERLI-trained).")] = False,
) -> None:
    """Record (or clear) the date a staff member completed AERLI training (audited).

    Sessions need two AERLI-trained workers; this is the date that decides who counts.
    """
    from datetime import date

    from sqlalchemy.exc import SQLAlchemyError

    from cohort.cli.common import parse_date
    from cohort.db import session_scope
    from cohort.errors import CohortError
    from cohort.services.accounts import get_account_by_username
    from cohort.services.context import COMMAND_LINE
    from cohort.services.setup import set_training

    if clear and on is not None:
        _fail(_("give either --on DATE or --clear, not both."))
        return
    trained_on: date | None = None
    if not clear:
        try:
            trained_on = parse_date(on)
        except typer.Exit as refused:  # a usage error here, like every `user train` error
            raise typer.Exit(2) from refused
    try:
        with session_scope() as session:
            account, staff = get_account_by_username(session, actor=COMMAND_LINE,
                                                     username=username)
            set_training(session, actor=COMMAND_LINE, staff_id=staff.id or 0,
                         trained_on=trained_on,
                         on=date.today())
    except (CohortError, SQLAlchemyError) as error:
        _account_failed(error)
        return
    typer.echo(_("'{username}': AERLI training completed on {date}.").format(
        username=account.username, date=format_date(trained_on)) if trained_on
        else _("'{username}': AERLI training date cleared (not AERLI-trained).").format(
            username=account.username))


@user_app.command("token")
def token(
    username: Annotated[str, typer.Option(help="Sign-in name of the account.")],
    revoke: Annotated[bool, typer.Option(
        "--revoke", help="Revoke the account's REDCap API token instead.")] = False,
) -> None:
    """Make (or with --revoke, revoke) the account's REDCap API token (audited).

    The token is printed once, here: only its digest is kept, so a lost token is replaced,
    never recovered. A new token revokes the previous one. It opens what the account may
    see (a statistician: de-identified data; an outreach worker: their centre).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from cohort.db import session_scope
    from cohort.errors import CohortError
    from cohort.services.context import COMMAND_LINE
    from cohort.services.redcap_tokens import new_redcap_token, revoke_redcap_token

    try:
        with session_scope() as session:
            if revoke:
                count = revoke_redcap_token(session, actor=COMMAND_LINE, username=username)
            else:
                made = new_redcap_token(session, actor=COMMAND_LINE, username=username)
    except (CohortError, SQLAlchemyError) as error:
        _account_failed(error)
        return
    if revoke:
        typer.echo((_("'{username}': REDCap API token revoked.") if count
                    else _("'{username}' had no REDCap API token; nothing to revoke."))
                   .format(username=username))
        return
    typer.echo(made)
    typer.echo(_("This is '{username}''s REDCap API token; it is shown only once. Use it "
                 "with the URL http(s)://<this server>/api/ in PyCap or REDCapR.").format(
                     username=username), err=True)


@user_app.command("list")
def list_users() -> None:
    """Every account: username, role, centre, active, last sign-in."""
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import select

    from cohort.db import session_scope
    from cohort.models import Centre
    from cohort.services.accounts import list_accounts
    from cohort.services.context import COMMAND_LINE

    try:
        with session_scope() as session:
            codes = {c.id: c.code for c in session.exec(select(Centre)).all()}
            rows = list_accounts(session, actor=COMMAND_LINE)
    except SQLAlchemyError as error:
        _database_failed(error)
        return
    national = _("national")
    for account, staff in rows:
        last = format_datetime(account.last_sign_in_at) if account.last_sign_in_at \
            else _("never")
        state = _("active") if account.active else _("disabled")
        typer.echo(f"{account.username:24} {staff.role.value:17} "
                   f"{codes.get(staff.centre_id, national):9} {state:9} "
                   + _("last sign-in {last}").format(last=last))
    typer.echo(_("{count} account(s)").format(count=len(rows)))


def register(app: typer.Typer) -> None:
    """Add ``user`` to the main app (``serve`` is in ``cohort.cli.ops``)."""
    app.add_typer(user_app, name="user")
