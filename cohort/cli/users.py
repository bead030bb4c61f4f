"""``cohort user add|list`` and ``cohort serve``.

Passwords are never echoed nor accepted as an option (they would land in the shell
history): they are typed at a hidden prompt or piped with ``--password-stdin``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

user_app = typer.Typer(help="Sign-in accounts of the study team.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


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
    from cohort.vocab import Role

    try:
        wanted = Role(role)
    except ValueError:
        _fail(f"unknown role '{role}'; use one of: {', '.join(r.value for r in Role)}.")
        return
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with session_scope() as session:
            account = create_staff_account(
                session, actor=None, username=username, password=password, role=wanted,
                centre_code=centre, display_name=name, aerli_trained=trained,
                limit_to=limit_to or (),
            )
    except CohortError as error:
        rule = getattr(error, "rule_id", None)
        _fail(f"[{rule}] {error.message}" if rule else error.message)
        return
    except SQLAlchemyError as error:
        _fail(f"cannot use the database ({str(error).splitlines()[0]}); "
              "run `cohort init` first, or check COHORT_DATABASE_URL.", 3)
        return
    typer.echo(f"Account '{account.username}' created ({wanted.value}"
               f"{', centre ' + centre.upper() if centre else ''}"
               f"{', limited to ' + ', '.join(c.upper() for c in limit_to) if limit_to else ''}).")


@user_app.command("list")
def list_users() -> None:
    """Every account: username, role, centre, active, last sign-in."""
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import select

    from cohort.db import session_scope
    from cohort.models import Centre
    from cohort.services.accounts import list_accounts

    try:
        with session_scope() as session:
            codes = {c.id: c.code for c in session.exec(select(Centre)).all()}
            rows = list_accounts(session, actor=None)
    except SQLAlchemyError as error:
        _fail(f"cannot use the database ({str(error).splitlines()[0]}); "
              "run `cohort init` first, or check COHORT_DATABASE_URL.", 3)
        return
    for account, staff in rows:
        last = account.last_sign_in_at.strftime("%Y-%m-%d %H:%M") if account.last_sign_in_at \
            else "never"
        typer.echo(f"{account.username:24} {staff.role.value:17} "
                   f"{codes.get(staff.centre_id, 'national'):9} "
                   f"{'active' if account.active else 'disabled':9} last sign-in {last}")
    typer.echo(f"{len(rows)} account(s)")


def serve(
    host: Annotated[str, typer.Option(help="Interface; keep 127.0.0.1 unless behind TLS.")] =
    "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=32)] = 1,
) -> None:
    """Serve the web pages and the REST API (uvicorn)."""
    import uvicorn

    typer.echo(f"Serving on http://{host}:{port}/  (API docs: /api/docs; Ctrl-C stops)")
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info", proxy_headers=False)


def register(app: typer.Typer) -> None:
    """Add ``user`` and ``serve`` to the main app."""
    app.add_typer(user_app, name="user")
    app.command("serve")(serve)
