"""Schema migrations with alembic, driven from Python so ``cohort init`` needs no ini file."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to the latest schema (creating it if empty)."""
    command.upgrade(alembic_config(url), revision)


DEMO_MARK = "demo"


def is_replaceable_sqlite(url: str) -> bool:
    """True when the SQLite file at ``url`` is absent, empty, or was built by ``cohort demo``.

    ``cohort demo --fresh`` must never delete a real study database that someone pointed
    ``COHORT_DATABASE_URL`` at: only files holding no centre, or carrying the demo's mark
    in ``import_batch``, qualify.
    """
    import sqlite3

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return False
    path = Path(parsed.database)
    if parsed.database == ":memory:" or not path.exists() or path.stat().st_size == 0:
        return True
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "centre" not in tables or not connection.execute(
                "SELECT 1 FROM centre LIMIT 1").fetchone():
            return True
        if "import_batch" not in tables:
            return False
        mark = connection.execute(
            "SELECT 1 FROM import_batch WHERE kind = ? LIMIT 1", (DEMO_MARK,)).fetchone()
        return mark is not None


def remove_sqlite_file(url: str) -> None:
    """Delete an SQLite database file built by the demo (never used on PostgreSQL)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return
    if parsed.database == ":memory:":
        return
    if not is_replaceable_sqlite(url):
        raise RuntimeError(f"{parsed.database} holds study data not built by the demo")
    from cohort.db import forget_engines

    forget_engines(url)  # a pooled connection would keep using the unlinked file
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(parsed.database + suffix).unlink(missing_ok=True)
