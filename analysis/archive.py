"""``cohort archive -o DIR``: the study's data, documentation and logs in open formats.

The bundle holds the full long export (one row per participant and visit, free text
included: the archive is the study's record, not a de-identified extract) as CSV and
Parquet with its codebook and variable labels, the dictionary's codebook, and what
``cohort.archive`` adds (every table, the audit/export/read logs and lock history, the
dictionary files, the protocol rules, the software version, the retention status) under a
SHA-256 manifest. It is written in a scratch folder and renamed into place at the end, so
a failure leaves no half-written bundle; the export-log entry is written before the logs
are copied, so the bundle holds its own entry.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import forms
from analysis.data import git_commit, load_frames
from analysis.export import export
from cohort import archive
from cohort.models import Centre
from cohort.services.locks import retention_report
from cohort.services.lockstate import read_lock_state

LONG_NAME = "cohort_long"


@dataclass
class ArchiveResult:
    folder: Path
    rows: int
    columns: list[str]
    tables: dict[str, int] = field(default_factory=dict)
    logs: dict[str, int] = field(default_factory=dict)
    files: int = 0


def _refuse_existing(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} already exists and is not empty; choose a new folder "
                              "(an archive is never written over another one).")


def write_archive(engine: Engine, out: Path, *, as_of: date,
                  log: Callable[[int, Sequence[str]], None],
                  dictionary_files: tuple[Path, Path | None] | None = None) -> ArchiveResult:
    """Write the bundle to ``out`` (a new or empty folder).

    ``log(rows, columns)`` records the export (``record_export``) once the data are built
    and before the logs are copied; if it raises, nothing is left behind.
    """
    out = Path(out)
    _refuse_existing(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        result = _fill(engine, scratch, as_of=as_of, log=log,
                       dictionary_files=dictionary_files or _dictionary_files())
        if out.exists():
            out.rmdir()
        scratch.rename(out)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    result.folder = out
    return result


def _dictionary_files() -> tuple[Path, Path | None]:
    from forms.loader import dictionary_paths

    path, events = dictionary_paths()
    return path, events if events.is_file() else None


def _fill(engine: Engine, folder: Path, *, as_of: date,
          log: Callable[[int, Sequence[str]], None],
          dictionary_files: tuple[Path, Path | None]) -> ArchiveResult:
    dictionary = forms.default_dictionary()
    data = load_frames(engine, as_of=as_of, dictionary=dictionary)
    data_dir = folder / "data"
    csv_file = export(data, data_dir / f"{LONG_NAME}.csv", fmt="csv", shape="long",
                      dictionary=dictionary, include_free_text=True)
    export(data, data_dir / f"{LONG_NAME}.parquet", fmt="parquet", shape="long",
           dictionary=dictionary, include_free_text=True)
    (folder / "codebook.md").write_text(dictionary.codebook_markdown(), encoding="utf-8")
    (folder / "codebook.csv").write_text(dictionary.codebook_csv(), encoding="utf-8")
    archive.copy_dictionary(dictionary_files[0], dictionary_files[1], folder)
    archive.write_rules(folder)
    result = ArchiveResult(folder, csv_file.rows, csv_file.columns)
    with engine.connect() as connection:
        result.tables = archive.dump_tables(connection, folder, logs=False)
    log(csv_file.rows, csv_file.columns)
    with engine.connect() as connection:
        result.logs = archive.dump_tables(connection, folder, logs=True)
        revision = archive.schema_revision(connection)
    with Session(engine) as session:
        retention = retention_report(session, as_of=as_of)
        state = read_lock_state(session)
        codes = {c.id: c.code for c in session.exec(select(Centre))}
    (folder / "retention.json").write_text(
        json.dumps(retention.as_dict(), indent=2) + "\n", encoding="utf-8")
    archive.write_software(folder, {
        "git_commit": git_commit(), "schema_revision": revision,
        "written_at": data.snapshot.extracted_at, "as_of": as_of,
        "database": data.snapshot.database, "rows": data.snapshot.rows,
        "study_locked_since": state.study_since,
        "centres_locked_since": {codes.get(k, str(k)): v
                                 for k, v in sorted(state.centres_since.items())},
    })
    archive.write_manifest(folder)
    result.files = sum(1 for p in folder.rglob("*") if p.is_file())
    return result
