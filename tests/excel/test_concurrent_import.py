"""Two imports at once on SQLite (one file, several processes: the command line).

The second import waits for the first to finish, then imports; if the first holds the
database for longer than SQLite's busy timeout, the second stops with a clear message and
exit code 3 (a database problem), and nothing of it is written.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from cohort import db
from cohort.db import engine_for, forget_engines
from cohort.excel.layout import Kind
from cohort.excel.templates import template_bytes
from cohort.vocab import Timepoint
from tests.cohort.helpers import row_counts
from tests.conftest import TODAY
from tests.excel.helpers import as_cells, entry_sheet, fill, load, save
from tests.factories import Factory, questionnaire_answers


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           settings_env: None) -> Iterator[tuple[str, Path, str, Path]]:
    """A migrated SQLite file with one participant due at M6, and a filled workbook."""
    from cohort.migrate import upgrade

    path = tmp_path / "cli.db"
    url = f"sqlite:///{path}"
    monkeypatch.setenv("COHORT_DATABASE_URL", url)
    upgrade(url)
    with Session(engine_for(url)) as session:
        factory = Factory(session, today=TODAY)
        centre = factory.centre("C04")
        staff = factory.staff(centre=centre)
        person = factory.participant(factory.actor(staff),
                                     inclusion_date=TODAY - timedelta(days=190))
        session.commit()
        staff_id, code = str(staff.id), person.code
    book = load(template_bytes(Kind.QUESTIONNAIRE, "C04", Timepoint("M6"), [code], TODAY))
    fill(entry_sheet(book), 3, as_cells(questionnaire_answers(TODAY - timedelta(days=2),
                                                              Timepoint("M6"))))
    workbook = tmp_path / "m6.xlsx"
    workbook.write_bytes(save(book))
    yield url, path, staff_id, workbook
    forget_engines(url)


def _import(workbook: Path, staff_id: str) -> Any:
    from cohort.cli.main import app

    return CliRunner().invoke(app, ["import", str(workbook), "--as", staff_id,
                                    "--as-of", TODAY.isoformat()])


def _counts(url: str) -> dict[str, int]:
    with Session(engine_for(url)) as session:
        return row_counts(session)


def test_an_import_waits_for_another_writer_then_imports(
        cli_db: tuple[str, Path, str, Path]) -> None:
    url, path, staff_id, workbook = cli_db
    before = _counts(url)
    holding = threading.Event()

    def other_import() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE centre SET city = 'Lyon 7e'")
            holding.set()
            threading.Event().wait(1.5)
            other.execute("COMMIT")
        finally:
            other.close()

    writer = threading.Thread(target=other_import)
    writer.start()
    assert holding.wait(10)
    result = _import(workbook, staff_id)
    writer.join()

    assert result.exit_code == 0, result.output
    assert "1 row(s) saved" in result.output
    assert _counts(url)["questionnaire"] == before["questionnaire"] + 1


def test_an_import_that_cannot_get_the_database_says_so_and_writes_nothing(
        cli_db: tuple[str, Path, str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    url, path, staff_id, workbook = cli_db
    before = _counts(url)
    real = db._sqlite_pragmas

    def short_wait(connection: Any, record: Any) -> None:
        real(connection, record)
        connection.execute("PRAGMA busy_timeout=300")

    forget_engines(url)
    monkeypatch.setattr(db, "_sqlite_pragmas", short_wait)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another import, still writing
        result = _import(workbook, staff_id)
    finally:
        other.execute("ROLLBACK")
        other.close()
    forget_engines(url)

    assert result.exit_code == 3, result.output
    assert "another import or save is in progress" in result.output
    assert "Nothing was saved" in result.output and "try again in a minute" in result.output
    assert "unexpected" not in result.output and "Traceback" not in result.output
    assert _counts(url) == before
