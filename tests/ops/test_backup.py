"""``cohort backup`` / ``cohort restore``: a backup taken while the database is written to
restores into a fresh database with every table and the audit chain identical
(``cohort.backup``), on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select
from typer.testing import CliRunner

from cohort.backup import BackupError, audit_chain, database_manifest, restore
from cohort.cli.main import app
from cohort.db import engine_for, forget_engines
from cohort.migrate import upgrade
from cohort.models import AuditEntry, ExportLog, Participant
from cohort.settings import get_settings
from cohort.vocab import ExportKind, Group, Role, Timepoint
from tests.api.conftest import add_user
from tests.conftest import TODAY, pg_database
from tests.factories import Factory

pytestmark = pytest.mark.db


def _populate(url: str) -> None:
    with Session(engine_for(url), expire_on_commit=False) as session:
        factory = Factory(session, today=TODAY)
        worker = add_user(session, "worker.a", Role.OUTREACH_WORKER, factory.centre("C01"))
        actor = factory.actor(worker.staff)
        for i in range(6):
            person = factory.participant(actor, group=Group.INTERVENTION if i % 2
                                         else Group.COMPARISON)
            factory.questionnaire(actor, person)
            factory.questionnaire(actor, person, Timepoint("M6"))
            if i % 2:
                factory.aerli_session(actor, person)


@pytest.fixture(params=["sqlite", "postgresql"])
def source_and_target(request: pytest.FixtureRequest, tmp_path: Path
                      ) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'live.db'}", f"sqlite:///{tmp_path / 'restored.db'}"
        return
    request.getfixturevalue("pg_url")
    with pg_database("cohort_live") as live, pg_database("cohort_restored") as fresh:
        yield live, fresh


def _cli(monkeypatch: pytest.MonkeyPatch, url: str, *args: str) -> str:
    monkeypatch.setenv("COHORT_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args))
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output


def test_a_backup_taken_while_writing_restores_every_table_and_the_audit_chain(
        source_and_target: tuple[str, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    live, fresh = source_and_target
    upgrade(live)
    _populate(live)
    stop = threading.Event()
    writes: list[int] = []

    def keep_writing() -> None:  # a server saving questionnaires during the backup
        # As the web's writers do on SQLite: ask for the write lock up front.
        engine = engine_for(live).execution_options(sqlite_begin="IMMEDIATE")
        with Session(engine, expire_on_commit=False) as session:
            factory = Factory(session, today=TODAY)
            actor = factory.worker(factory.centre("C02"))
            while not stop.is_set() and len(writes) < 200:
                person = factory.participant(actor, inclusion_date=TODAY - timedelta(days=30))
                writes.append(int(person.id or 0))

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        target = tmp_path / "backups" / "cohort.backup"
        said = _cli(monkeypatch, live, "backup", "-o", str(target))
    finally:
        stop.set()
        writer.join()
    assert "Backup written" in said and target.is_file()
    assert writes, "the writer never wrote during the backup"
    manifest_file = Path(f"{target}.manifest.json")
    assert manifest_file.is_file()

    said = _cli(monkeypatch, fresh, "restore", str(target))
    assert "every table and the audit chain match the manifest" in said
    restored = database_manifest(engine_for(fresh))
    from cohort.backup import Manifest

    taken = Manifest.from_json(manifest_file.read_text())
    assert taken.differences(restored) == []
    assert taken.tables["participant"]["rows"] >= 6
    assert taken.audit_entries > 20
    # The backup is one consistent state: what the writer added after it is not there,
    # and everything the backup holds is exactly as in the live database.
    with engine_for(live).connect() as connection:
        live_people = connection.execute(sa.text("SELECT count(*) FROM participant")).scalar()
        logged = connection.execute(select(ExportLog.kind, ExportLog.fmt)).all()
    assert taken.tables["participant"]["rows"] <= live_people
    assert (ExportKind.BACKUP, "sqlite" if live.startswith("sqlite") else "pg_dump") in logged
    with Session(engine_for(fresh)) as session:
        first = session.exec(select(AuditEntry).order_by(AuditEntry.id)).first()
        assert first is not None
        # The restored database takes new writes (sequences restored on PostgreSQL).
        factory = Factory(session, today=TODAY)
        factory.participant(factory.worker(factory.centre("C03")))
        assert session.exec(select(Participant)).all()
    forget_engines(live)
    forget_engines(fresh)


def test_a_changed_backup_is_refused_on_restore(tmp_path: Path) -> None:
    live = f"sqlite:///{tmp_path / 'live.db'}"
    upgrade(live)
    _populate(live)
    from cohort.backup import backup

    target = tmp_path / "cohort.backup"
    manifest = backup(live, target)
    with engine_for(live).connect() as connection:
        assert audit_chain(connection) == (manifest.audit_chain, manifest.audit_entries)
    # Someone edits an audit entry inside the backup file (triggers are bypassed by
    # dropping them in the copy): the restore notices the audit chain changed.
    tampered = tmp_path / "tampered.backup"
    shutil.copy(target, tampered)
    shutil.copy(f"{target}.manifest.json", f"{tampered}.manifest.json")
    import sqlite3

    with sqlite3.connect(tampered) as db:
        db.execute("DROP TRIGGER audit_entry_no_update")
        db.execute("UPDATE audit_entry SET new_value = 'changed' WHERE id = 3")
    with pytest.raises(BackupError, match="audit chain"):
        restore(tampered, f"sqlite:///{tmp_path / 'fresh.db'}")
    # Never over a database that holds data, unless asked; the old file is then kept.
    with pytest.raises(BackupError, match="already holds"):
        restore(target, live)
    done = restore(target, live, replace=True)
    assert done.kept_previous is not None and done.kept_previous.is_file()
    with pytest.raises(BackupError, match="sqlite backup"):
        restore(target, "postgresql+psycopg://nobody@127.0.0.1:1/none")
    forget_engines(live)
