"""Backups that restore: a consistent copy of the whole database, and a manifest to check it.

* **SQLite**: SQLite's online backup API copies the database page by page from one read
  snapshot, so a backup taken while the server writes is consistent (WAL readers never
  block the writer). The copy is a plain SQLite file, checked with ``PRAGMA
  integrity_check`` before it is put in place.
* **PostgreSQL**: ``pg_dump --format=custom`` (restored by ``pg_restore``), run on a
  snapshot exported by the transaction that computes the manifest, so that the dump and
  the manifest describe exactly the same state. Owners and grants are left out: the
  restored database belongs to whoever restores it, and ``cohort db app-role`` grants the
  application's role again.

Beside ``FILE`` goes ``FILE.manifest.json``: per table its row count and a SHA-256 over its
rows in primary-key order, and the audit chain (a SHA-256 chained entry by entry through
the audit trail in id order: any entry changed, dropped or reordered changes every digest
after it). ``restore`` recomputes them on the restored database and refuses to call the
restore good when one differs. Backups and restores write to a scratch name and rename at
the end: never half-written. A restore never overwrites study data: the target must be
empty, or (SQLite, ``replace``) the old file is kept beside it under a dated name.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import SQLModel

from cohort import models  # noqa: F401  (registers every table)
from cohort.errors import CohortError
from forms.i18n import _

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
MANIFEST_SUFFIX = ".manifest.json"


class BackupError(CohortError):
    """A backup or restore that cannot be done; nothing was written."""


@dataclass
class Manifest:
    """What a backup holds: rows and digest per table, the audit chain, the schema."""

    engine: str
    taken_at: str
    schema_revision: str | None
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    audit_chain: str = ""
    audit_entries: int = 0

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls(**json.loads(text))

    def differences(self, other: Manifest) -> list[str]:
        """What differs from ``other`` (tables, rows, digests, audit chain), in words."""
        out = []
        for name in sorted(set(self.tables) | set(other.tables)):
            mine, theirs = self.tables.get(name), other.tables.get(name)
            if mine != theirs:
                out.append(f"table {name}: {mine} != {theirs}")
        if (self.audit_chain, self.audit_entries) != (other.audit_chain, other.audit_entries):
            out.append(f"audit chain: {self.audit_entries} entries {self.audit_chain[:16]}… "
                       f"!= {other.audit_entries} entries {other.audit_chain[:16]}…")
        if self.schema_revision != other.schema_revision:
            out.append(f"schema revision {self.schema_revision} != {other.schema_revision}")
        return out


# --------------------------------------------------------------------------- digests
def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _row_bytes(row: sa.Row[Any]) -> bytes:
    return json.dumps([_canonical(v) for v in row], sort_keys=True, default=str).encode()


def _tables() -> list[sa.Table]:
    return [t for _, t in sorted(SQLModel.metadata.tables.items())]


def _ordered(table: sa.Table) -> sa.Select[Any]:
    keys = list(table.primary_key.columns) or list(table.columns)
    return sa.select(*table.columns).order_by(*keys)


def manifest_of(connection: Connection) -> Manifest:
    """Row counts and digests of every table, and the audit chain, as ``connection``
    sees the database (one snapshot when its transaction is REPEATABLE READ)."""
    revision = None
    if sa.inspect(connection).has_table("alembic_version"):
        revision = connection.execute(sa.text("SELECT version_num FROM alembic_version")
                                      ).scalar()
    manifest = Manifest(connection.dialect.name, datetime.now(UTC).isoformat(), revision)
    for table in _tables():
        digest, rows = hashlib.sha256(), 0
        for row in connection.execute(_ordered(table)).yield_per(5000):
            digest.update(_row_bytes(row))
            digest.update(b"\n")
            rows += 1
        manifest.tables[table.name] = {"rows": rows, "sha256": digest.hexdigest()}
    manifest.audit_chain, manifest.audit_entries = audit_chain(connection)
    return manifest


def audit_chain(connection: Connection) -> tuple[str, int]:
    """The audit trail chained entry by entry: h(n) = sha256(h(n-1) || entry n)."""
    table = SQLModel.metadata.tables["audit_entry"]
    link, count = "0" * 64, 0
    for row in connection.execute(_ordered(table)).yield_per(5000):
        link = hashlib.sha256(link.encode() + _row_bytes(row)).hexdigest()
        count += 1
    return link, count


def database_manifest(engine: Engine) -> Manifest:
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        return manifest_of(connection)


# --------------------------------------------------------------------------- backup
@contextmanager
def _staged(target: Path) -> Iterator[Path]:
    """A scratch file beside ``target``, renamed onto it when the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    scratch = Path(name)
    try:
        yield scratch
        scratch.replace(target)
    finally:
        scratch.unlink(missing_ok=True)


def _write_manifest(target: Path, manifest: Manifest) -> Path:
    path = manifest_path(target)
    with _staged(path) as scratch:
        scratch.write_text(manifest.to_json(), encoding="utf-8")
    return path


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + MANIFEST_SUFFIX)


Ready = Callable[[Manifest], None]


def backup(url: str, target: Path, on_ready: Ready | None = None) -> Manifest:
    """Write a consistent backup of the database at ``url`` to ``target`` (and its
    manifest beside it); safe while servers read and write. ``on_ready`` is called with
    the manifest once the copy is complete and before it is put in place (the command
    line writes the export log entry there: nothing is handed over unlogged)."""
    parsed = make_url(url)
    ready = on_ready or (lambda _manifest: None)
    if parsed.get_backend_name() == "sqlite":
        manifest = _backup_sqlite(_sqlite_path(url), target, ready)
    elif parsed.get_backend_name() == "postgresql":
        manifest = _backup_postgres(url, target, ready)
    else:
        raise BackupError(_("backups of {engine} databases are not supported; use SQLite or "
                            "PostgreSQL").format(engine=parsed.get_backend_name()))
    _write_manifest(target, manifest)
    return manifest


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(_("an in-memory SQLite database cannot be backed up or restored"))
    return Path(database)


def _backup_sqlite(source: Path, target: Path, ready: Ready) -> Manifest:
    if not source.exists():
        raise BackupError(_("there is no database at {path}").format(path=source))
    with _staged(target) as scratch:
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)) as src, \
                closing(sqlite3.connect(scratch)) as copy:
            src.execute("PRAGMA busy_timeout=30000")
            src.backup(copy)  # all pages from one read snapshot
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            status = copy.execute("PRAGMA integrity_check").fetchone()
            if status is None or status[0] != "ok":
                raise BackupError(_("the copy failed SQLite's integrity check: {status}")
                                  .format(status=status))
        engine = sa.create_engine(f"sqlite:///{scratch}")
        try:
            manifest = database_manifest(engine)
        finally:
            engine.dispose()
        ready(manifest)
    return manifest


def libpq_env(url: str) -> dict[str, str]:
    """The libpq environment (PGHOST, PGUSER, …) for a SQLAlchemy PostgreSQL URL: the
    password stays out of the command line that ``ps`` shows."""
    parsed = make_url(url)
    env = {**os.environ}
    for key, value in (("PGHOST", parsed.host), ("PGPORT", parsed.port),
                       ("PGUSER", parsed.username), ("PGPASSWORD", parsed.password),
                       ("PGDATABASE", parsed.database)):
        if value is not None:
            env[key] = str(value)
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(_("{tool} was not found; install PostgreSQL's client tools "
                            "(Debian: postgresql-client) of the server's major version")
                          .format(tool=name))
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(_("{tool} failed: {error}").format(tool=Path(command[0]).name,
                                                             error=last))


def _backup_postgres(url: str, target: Path, ready: Ready) -> Manifest:
    pg_dump = _tool("pg_dump")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            snapshot = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
            manifest = manifest_of(connection)
            with _staged(target) as scratch:
                # While this transaction is open its snapshot can be shared with pg_dump.
                _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges",
                      f"--snapshot={snapshot}", f"--file={scratch}"], libpq_env(url))
                ready(manifest)
    finally:
        engine.dispose()
    return manifest


# --------------------------------------------------------------------------- restore
@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    expected: Manifest | None
    kept_previous: Path | None = None


def backup_kind(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql"
    raise BackupError(_("{path} is neither an SQLite backup nor a pg_dump custom-format "
                        "file").format(path=path))


def restore(backup_file: Path, url: str, *, replace: bool = False) -> Restored:
    """Restore ``backup_file`` into the database at ``url`` and check it against the
    manifest beside the backup. The target must hold no study data (``replace``, SQLite
    only: the existing file is kept beside it as ``<name>.before-restore-<time>``)."""
    if not backup_file.is_file():
        raise BackupError(_("there is no backup file at {path}").format(path=backup_file))
    kind, target = backup_kind(backup_file), make_url(url).get_backend_name()
    if kind != target:
        raise BackupError(_("{path} is a {kind} backup; COHORT_DATABASE_URL points at a "
                            "{target} database").format(path=backup_file, kind=kind,
                                                        target=target))
    expected = None
    if manifest_path(backup_file).is_file():
        expected = Manifest.from_json(manifest_path(backup_file).read_text(encoding="utf-8"))
    kept = None
    if kind == "sqlite":
        kept = _restore_sqlite(backup_file, url, replace)
    else:
        _restore_postgres(backup_file, url)
    from cohort.db import forget_engines

    forget_engines(url)
    engine = sa.create_engine(url)
    try:
        manifest = database_manifest(engine)
    finally:
        engine.dispose()
    if expected is not None:
        differences = expected.differences(manifest)
        if differences:
            raise BackupError(_("the restored database differs from the backup's manifest: "
                                "{differences}").format(differences="; ".join(differences[:5])))
    return Restored(manifest, expected, kept)


def _holds_data(url: str) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return bool(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _restore_sqlite(backup_file: Path, url: str, replace: bool) -> Path | None:
    path = _sqlite_path(url)
    kept = None
    if path.exists() and path.stat().st_size > 0 and _holds_data(url):
        if not replace:
            raise BackupError(_("{path} already holds a database; restore into a new file, "
                                "or add --replace (the current file is kept beside it)")
                              .format(path=path))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = path.with_name(f"{path.name}.before-restore-{stamp}")
        with closing(sqlite3.connect(path, timeout=30)) as current, \
                closing(sqlite3.connect(kept)) as copy:
            current.backup(copy)
    with _staged(path) as scratch:
        with closing(sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)) as src, \
                closing(sqlite3.connect(scratch)) as copy:
            src.backup(copy)
            copy.execute("PRAGMA journal_mode=WAL")
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return kept


def _restore_postgres(backup_file: Path, url: str) -> None:
    pg_restore = _tool("pg_restore")
    if _holds_data(url):
        raise BackupError(_("the database {name} already holds tables; restore into a new, "
                            "empty database (createdb), then point COHORT_DATABASE_URL at it")
                          .format(name=make_url(url).database))
    env = libpq_env(url)
    _run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error",
          "--single-transaction", f"--dbname={env.get('PGDATABASE', '')}",
          str(backup_file)], env)
