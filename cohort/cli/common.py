"""What every command of ``cohort`` shares: errors as one line, dates, sessions, who acts.

The feature modules (``cohort.cli.excel``, ``users``, ``analysis``…) import this module,
never ``cohort.cli.main``, which imports them all to register their commands.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from functools import wraps
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from alembic.util.exc import CommandError as AlembicCommandError
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from cohort.errors import CohortError
from cohort.schedule import ScheduleInvalid
from forms.i18n import LANGUAGES, _, default_language, normalise

if TYPE_CHECKING:
    from sqlmodel import Session

    from cohort.services.context import Actor

F = TypeVar("F", bound=Callable[..., Any])

AsOf = Annotated[
    str | None,
    typer.Option("--as-of", help="Evaluate as of this date (YYYY-MM-DD); default today."),
]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def command_language(option: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The language of a command: ``--lang``, else the first of ``LC_ALL``, ``LC_MESSAGES``
    and ``LANG`` naming a language we speak (``C`` or ``de_DE`` name none), else
    ``COHORT_DEFAULT_LANGUAGE``, else English. An unknown ``--lang`` is refused."""
    if option is not None:
        chosen = normalise(option)
        if chosen is None:
            raise typer.BadParameter(
                _("'{lang}' is not a language of this system; use {languages}.").format(
                    lang=option, languages=" or ".join(LANGUAGES)), param_hint="'--lang'")
        return chosen
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        chosen = normalise(env.get(name))
        if chosen is not None:
            return chosen
    return default_language()


def fail(message: str, code: int = 1) -> None:
    typer.echo(_("Error: {message}").format(message=message), err=True)
    raise typer.Exit(code)


def friendly(func: F) -> F:
    """Turn known errors into one line on stderr and a non-zero exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ScheduleInvalid as error:
            fail(_("invalid setting — {message}").format(message=error.message), 4)
        except CohortError as error:
            rule = getattr(error, "rule_id", None)
            fail(f"[{rule}] {error.message}" if rule else error.message, 2)
        except OperationalError as error:
            missing = _missing_sqlite_directory()
            if missing is not None:
                fail(_("the directory {missing} does not exist; create it, or point "
                       "COHORT_DATABASE_URL at a file in an existing directory.").format(
                           missing=missing), 3)
            fail(_("cannot use the database: {error} — run `cohort init` first, or check "
                   "COHORT_DATABASE_URL.").format(
                       error=str(error.orig).strip().splitlines()[0]), 3)
        except SQLAlchemyError as error:
            fail(_("database error: {error}").format(error=str(error).splitlines()[0]), 3)
        except AlembicCommandError as error:
            fail(_("cannot migrate the database: {error} — it was made by another version of "
                   "this software, or COHORT_DATABASE_URL points at another application's "
                   "database.").format(error=str(error).splitlines()[0]), 3)
        except PydanticValidationError as error:
            problems = "; ".join(
                f"COHORT_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                for e in error.errors())
            fail(_("invalid setting — {problems}. Correct or unset it and try again.").format(
                problems=problems), 4)

    return wrapper  # type: ignore[return-value]


def _missing_sqlite_directory() -> str | None:
    """The parent directory of the configured SQLite file, if it does not exist."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from cohort.settings import get_settings

    url = make_url(get_settings().database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    parent = Path(url.database).parent
    return None if parent.is_dir() else str(parent)


def parse_date(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(_("'{value}' is not a date; use YYYY-MM-DD, for example 2026-03-31.").format(
            value=value))
    raise AssertionError  # pragma: no cover


@contextmanager
def db_session() -> Iterator[Any]:
    from cohort.db import session_scope

    with session_scope() as session:
        yield session


def national(session: Any) -> Actor:
    """The command line acts as a system actor with national reach (reads, reports,
    administration); writes of study data name a person with ``--as``."""
    from cohort.services.context import COMMAND_LINE

    del session
    return COMMAND_LINE


def emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@contextmanager
def writer_session() -> Iterator[Session]:
    """A session whose transaction takes SQLite's write lock when it begins.

    Two imports at once: a deferred transaction that has read, then writes while the
    other import writes, fails at once with "database is locked". Beginning IMMEDIATE
    makes the second import wait for the first (SQLite's busy timeout) and then read
    what the first wrote; if the wait runs out, nothing was written and the person is
    told to try again (exit code 3, a database problem).
    """
    from cohort.db import get_engine, session_scope

    engine = get_engine()
    if engine.dialect.name == "sqlite":
        engine = engine.execution_options(sqlite_begin="IMMEDIATE")
    with session_scope(engine) as session:
        yield session


def staff_actor(session: Session, who: str) -> Actor:
    from sqlmodel import select

    from cohort.errors import NotFound
    from cohort.models import Account
    from cohort.services.context import load_actor

    text = who.strip()
    if text.isdigit():
        return load_actor(session, int(text))
    account = session.exec(select(Account).where(Account.username == text.lower())).first()
    if account is None or not account.active:
        raise NotFound(_("No active staff member with username or id '{who}'.").format(
            who=who))
    return load_actor(session, account.staff_id)
