"""The end-of-study archive bundle: what it holds besides the data, and its SHA-256 manifest.

``analysis.archive.write_archive`` assembles a bundle; this module writes the parts that
need no analysis code and checks a bundle later:

* ``logs/``: the audit trail, the export log, the read log and the lock history, every row;
* ``tables/``: every other table of study data, every row, as stored (accounts and API
  tokens are never archived: they are credentials, not study data);
* ``dictionary/``: the data dictionary and event mapping exactly as loaded, and any
  translation files kept beside them (``*translation*`` or a ``translations/`` folder);
* ``protocol_rules.json``: every rule, its severity and message;
* ``software.json``: the software version, the code's commit, the schema revision, when
  and from which database the bundle was written, the lock state;
* ``MANIFEST.sha256``: one ``<sha256>  <path>`` line per file, the format ``sha256sum -c``
  reads, so a bundle can be checked without this software too.

``verify`` recomputes every digest: one changed byte, a missing or an added file fails it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import platform
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from importlib import metadata
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from cohort import models  # noqa: F401  (registers every table)
from cohort.rules import RULES
from forms.i18n import _

MANIFEST = "MANIFEST.sha256"
LOG_TABLES = ("audit_entry", "export_log", "read_log", "study_lock")
NEVER_ARCHIVED = frozenset({"account", "api_token", "redcap_token", "sign_in_failure",
                            "job", "job_file", "shared_value"})
_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and p.name != MANIFEST)


def write_manifest(folder: Path) -> Path:
    """Digest every file of ``folder`` into ``MANIFEST.sha256`` (sorted, relative paths)."""
    lines = [f"{sha256_of(folder / name)}  {name}" for name in _files(folder)]
    manifest = folder / MANIFEST
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


@dataclass
class Verification:
    checked: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.unexpected or self.problem)


def verify(folder: Path) -> Verification:
    """Check every file of a bundle against its manifest."""
    result = Verification()
    manifest = folder / MANIFEST
    if not manifest.is_file():
        result.problem = _("{folder} has no {manifest}: it is not an archive bundle.").format(
            folder=folder, manifest=MANIFEST)
        return result
    listed: dict[str, str] = {}
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name or name.startswith("/") or ".." in name:
            result.problem = _("{manifest} line {number} is not '<sha256>  <path>'.").format(
                manifest=MANIFEST, number=number)
            return result
        listed[name] = digest
    for name, digest in listed.items():
        path = folder / name
        if not path.is_file():
            result.missing.append(name)
            continue
        result.checked += 1
        if sha256_of(path) != digest:
            result.changed.append(name)
    result.unexpected = [name for name in _files(folder) if name not in listed]
    return result


# --------------------------------------------------------------------------- contents
def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def dump_table(connection: Connection, table: sa.Table, path: Path) -> int:
    """Every row of ``table`` as CSV (UTF-8), in primary-key order; returns the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    order = list(table.primary_key.columns) or list(table.columns)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([c.name for c in table.columns])
        result = connection.execution_options(yield_per=2000).execute(
            sa.select(table).order_by(*order))
        for row in result:
            writer.writerow([_cell(v) for v in row])
            rows += 1
    return rows


def archived_tables() -> list[sa.Table]:
    return [t for name, t in sorted(SQLModel.metadata.tables.items())
            if name not in NEVER_ARCHIVED]


def dump_tables(connection: Connection, folder: Path, *, logs: bool) -> dict[str, int]:
    """The log tables (``logs=True``, into ``logs/``) or the others (into ``tables/``)."""
    counts = {}
    for table in archived_tables():
        if (table.name in LOG_TABLES) != logs:
            continue
        where = "logs" if logs else "tables"
        counts[table.name] = dump_table(connection, table, folder / where / f"{table.name}.csv")
    return counts


def copy_dictionary(dictionary: Path, events: Path | None, folder: Path) -> list[str]:
    """The dictionary files byte for byte, and translations kept beside them."""
    target = folder / "dictionary"
    target.mkdir(parents=True, exist_ok=True)
    sources: list[Path] = [dictionary]
    if events is not None and events.is_file():
        sources.append(events)
    sources += [p for p in sorted(dictionary.parent.glob("*translation*")) if p.is_file()]
    copied = []
    for source in sources:
        shutil.copyfile(source, target / source.name)
        copied.append(source.name)
    translations = dictionary.parent / "translations"
    if translations.is_dir():
        shutil.copytree(translations, target / "translations")
        copied.append("translations/")
    return copied


def write_rules(folder: Path) -> None:
    rows = [{"id": r.id, "severity": r.severity.value, "applies_to": r.applies_to,
             "message": r.message} for r in RULES]
    (folder / "protocol_rules.json").write_text(
        json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def software_version() -> str:
    try:
        return metadata.version("outsider-cohort")
    except metadata.PackageNotFoundError:
        return "unknown"


def schema_revision(connection: Connection) -> str | None:
    """The alembic revision of the database (None for a schema made without migrations)."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    value = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return str(value) if value is not None else None


def write_software(folder: Path, info: dict[str, Any]) -> None:
    base = {"software": "outsider-cohort", "version": software_version(),
            "python": platform.python_version(), "platform": platform.platform()}
    (folder / "software.json").write_text(
        json.dumps({**base, **info}, indent=2, default=str) + "\n", encoding="utf-8")
