"""What the command line hands over goes into the export log, like the web's downloads.

Who: ``--as`` (a staff username or id) when given, else the operating-system account;
from where: that account and the machine's name. The commands build the data first,
log it here, and only then write the file, so that nothing leaves unlogged: if the log
cannot be written, the file is not written either.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

Purpose = Annotated[str, typer.Option(
    "--purpose", help="What this export of the whole cohort is for (kept in the export log; "
                      "e.g. 'Statistical analysis', 'Report to the sponsor').")]
OptionalPurpose = Annotated[str | None, typer.Option(
    "--purpose", help="What it is for (kept in the export log).")]
As = Annotated[str | None, typer.Option(
    "--as", help="Who is exporting: staff username or id (default: the operating-system "
                 "account, kept in the export log).")]


def os_account() -> str:
    """The operating-system account running the command, and on which machine."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _has_log(url: str) -> bool:
    """Whether ``url`` holds a study database with an export log (never creates a file)."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from cohort.db import engine_for

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and (
            not parsed.database or not Path(parsed.database).is_file()):
        return False
    try:
        return sa.inspect(engine_for(url)).has_table("export_log")
    except sa.exc.SQLAlchemyError:
        return False


def log_export(*, database: str | None = None, who: str | None = None,
               only_if_study_database: bool = False, **what: Any) -> None:
    """Write one export-log entry through ``cohort.services.access.record_export``.

    ``what`` are ``record_export``'s keywords (kind, fmt, rows, fields, shape, free_text,
    purpose, target…). ``only_if_study_database``: for what holds no participant data (a
    codebook), skip quietly when no study database is configured.
    """
    from cohort.db import engine_for, session_scope
    from cohort.services.access import record_export
    from cohort.services.context import COMMAND_LINE
    from cohort.settings import get_settings
    from cohort.vocab import Channel

    url = database or get_settings().database_url
    if only_if_study_database and not _has_log(url):
        return
    with session_scope(engine_for(url)) as session:
        actor = COMMAND_LINE
        if who:
            from cohort.cli.common import staff_actor

            actor = staff_actor(session, who)
        record_export(session, actor=actor, actor_name=who or f"os:{os_account()}",
                      channel=Channel.CLI, client=os_account(), **what)


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """A scratch folder next to ``target`` for files written before they are logged;
    ``publish`` moves them in place, and anything not published is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".cohort-export-", dir=target.parent))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def publish(scratch: Path, target_dir: Path, names: list[str]) -> None:
    """Move the staged files ``names`` into ``target_dir`` (replacing older copies)."""
    for name in names:
        (scratch / name).replace(target_dir / name)
