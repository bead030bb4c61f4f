"""Data protection at the command line, on a migrated SQLite file and PostgreSQL database.

Exports leave one export-log entry each (a full-cohort export needs ``--purpose``), the
access log is reviewed with filters as JSON and CSV, a locked study refuses the command
line's writes and still exports, and the archive verifies until one byte changes.

Rules: export.no_purpose, study.locked.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cohort.cli.main import app
from cohort.db import engine_for
from cohort.migrate import upgrade
from cohort.models import Account, ExportLog, Participant, ReadLog
from cohort.services.access import record_read
from cohort.settings import get_settings
from cohort.vocab import Channel, ExportKind, Role, Timepoint
from tests.api.conftest import password_hash
from tests.conftest import TODAY, pg_database
from tests.factories import Factory, questionnaire_answers

runner = CliRunner()


@dataclass
class Study:
    url: str
    codes: dict[str, str]  # centre code -> one participant's code
    admin_id: int
    worker_id: int


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(params=["sqlite", "postgresql"])
def study(request: pytest.FixtureRequest, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Study]:
    """Two centres, a participant with M0 in each, a data manager account ``dm``."""
    if request.param == "postgresql":
        request.getfixturevalue("pg_url")  # skip locally / fail in CI when unreachable
        context = pg_database("cohort_cli")
        url = context.__enter__()
    else:
        context, url = None, f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("COHORT_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    try:
        upgrade(url)
        with Session(engine_for(url), expire_on_commit=False) as session:
            factory = Factory(session, today=TODAY)
            codes = {}
            for centre in ("C01", "C02"):
                worker = factory.worker(factory.centre(centre))
                person = factory.participant(worker)
                factory.questionnaire(worker, person)
                codes[centre] = person.code
            admin = factory.staff(role=Role.ADMIN, national=True)
            session.add(Account(username="dm", password_hash=password_hash(),
                                staff_id=admin.id or 0))
            session.commit()
            worker_id = worker.staff_id
        yield Study(url, codes, admin.id or 0, worker_id)
    finally:
        get_settings.cache_clear()
        if context is not None:
            context.__exit__(None, None, None)


def _exports(url: str) -> list[ExportLog]:
    with Session(engine_for(url)) as session:
        return list(session.exec(select(ExportLog).order_by(col(ExportLog.id))).all())


def test_an_export_needs_a_purpose_and_leaves_exactly_one_entry(
        study: Study, tmp_path: Path) -> None:
    out = tmp_path / "out" / "cohort.csv"
    code, _, err = run("export", "-o", str(out), "--as-of", TODAY.isoformat())
    assert code == 2 and "export.no_purpose" in err
    assert not out.exists() and _exports(study.url) == []
    code, stdout, err = run("export", "-o", str(out), "--as-of", TODAY.isoformat(),
                            "--purpose", "Statistical analysis", "--as", "dm")
    assert code == 0, err
    assert out.exists() and (out.parent / "cohort.csv.codebook.csv").exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".cohort-export")]
    [entry] = _exports(study.url)
    assert (entry.kind, entry.channel, entry.fmt, entry.shape) == (
        ExportKind.EXPORT, Channel.CLI, "csv", "long")
    assert entry.rows == len(pd.read_csv(out)) == 2
    assert "code" in entry.fields and entry.purpose == "Statistical analysis"
    assert entry.actor_id == study.admin_id and entry.actor_name == "dm"
    assert entry.centre_codes is None and entry.deidentified and not entry.free_text
    assert entry.client and "@" in entry.client


def test_template_report_analyse_and_codebook_are_logged(study: Study, tmp_path: Path) -> None:
    assert run("template", "--centre", "C01", "--kind", "enrolment",
               "-o", str(tmp_path / "t.xlsx"))[0] == 0
    assert run("report", "--excel", "-o", str(tmp_path / "r.xlsx"))[0] == 2
    assert not (tmp_path / "r.xlsx").exists()
    assert run("report", "--excel", "-o", str(tmp_path / "r.xlsx"),
               "--purpose", "Steering committee")[0] == 0
    assert run("dictionary", "codebook", "-o", str(tmp_path / "codebook.md"))[0] == 0
    kinds = [(e.kind, e.centre_codes, e.purpose) for e in _exports(study.url)]
    assert kinds == [(ExportKind.TEMPLATE, ["C01"], None),
                     (ExportKind.REPORT, None, "Steering committee"),
                     (ExportKind.CODEBOOK, None, None)]
    assert all(e.actor_name.startswith("os:") and e.actor_id is None
               for e in _exports(study.url))


def _read_as(study: Study, staff_id: int, code: str) -> None:
    from cohort.services.context import load_actor

    with Session(engine_for(study.url), expire_on_commit=False) as session:
        person = session.exec(select(Participant).where(Participant.code == code)).one()
        record_read(session, actor=load_actor(session, staff_id), participant=person,
                    channel=Channel.WEB, what="/participants/{code}", client="10.0.0.7")


def test_the_access_log_with_filters_as_json_and_csv(study: Study) -> None:
    _read_as(study, study.admin_id, study.codes["C01"])
    _read_as(study, study.admin_id, study.codes["C02"])
    _read_as(study, study.worker_id, study.codes["C02"])
    code, out, err = run("access-log", "--json")
    assert code == 0, err
    everything = json.loads(out)
    assert everything["count"] == 3
    assert everything["data"][0]["participant"] == study.codes["C02"]  # newest first
    code, out, _ = run("access-log", "--json", "--centre", "C01")
    assert [r["participant"] for r in json.loads(out)["data"]] == [study.codes["C01"]]
    code, out, _ = run("access-log", "--json", "--staff", "dm",
                       "--participant", study.codes["C02"].lower())
    rows = json.loads(out)["data"]
    assert len(rows) == 1 and rows[0]["staff_id"] == study.admin_id
    assert rows[0]["client"] == "10.0.0.7" and rows[0]["channel"] == "web"
    code, out, _ = run("access-log", "--csv", "--since", TODAY.isoformat())
    table = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(table) == 3 and set(table[0]) >= {"at", "staff", "participant"}
    assert json.loads(run("access-log", "--json", "--until", "2000-01-01")[1])["count"] == 0
    run("export", "-o", "x.csv", "--purpose", "Analysis")
    code, out, _ = run("access-log", "--exports", "--json")
    [export] = json.loads(out)["data"]
    assert export["kind"] == "export" and export["purpose"] == "Analysis"
    with Session(engine_for(study.url)) as session:
        assert len(session.exec(select(ReadLog)).all()) == 3


def test_a_locked_study_refuses_command_line_writes_and_still_exports(
        study: Study, tmp_path: Path) -> None:
    code, out, err = run("lock", "--as", "dm", "--reason", "End of follow-up")
    assert code == 0, err
    assert "locked" in out and "End of follow-up" in out
    assert run("lock", "--as", "dm", "--reason", "again")[0] == 2
    code, _, err = run("check")
    assert code == 2 and "study.locked" in err
    template = tmp_path / "m12.xlsx"
    assert run("template", "--centre", "C01", "--kind", "enrolment", "-o", str(template))[0] == 0
    from tests.excel.test_redcap_report_cli import _row, redcap_export

    records = tmp_path / "records.csv"
    visit = TODAY - timedelta(days=1)
    records.write_bytes(redcap_export([_row(study.codes["C01"], "m12_arm_1",
                                            questionnaire_answers(visit, Timepoint("M12")))]))
    code, out, err = run("import", str(records), "--as", "dm")
    assert code == 1 and "study.locked" in err and "nothing was saved" in err
    assert run("export", "-o", str(tmp_path / "still.csv"), "--purpose", "Final")[0] == 0
    assert run("unlock", "--as", "dm", "--reason", "Late M12 to enter")[0] == 0
    assert run("check")[0] == 0


def test_archive_verifies_and_fails_after_one_byte_changes(
        study: Study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "archive"
    code, _, err = run("archive", "-o", str(bundle))
    assert code == 2 and "not locked" in err and not bundle.exists()
    assert run("lock", "--as", "dm", "--reason", "End of study")[0] == 0
    monkeypatch.setenv("COHORT_RETENTION_YEARS", "0")
    get_settings.cache_clear()
    code, out, err = run("archive", "-o", str(bundle), "--as", "dm")
    assert code == 0, err
    assert "DUE for deletion" in out and "nothing is deleted" in out
    for name in ("data/cohort_long.csv", "data/cohort_long.parquet", "codebook.md",
                 "dictionary/data_dictionary.csv", "dictionary/event_mapping.csv",
                 "logs/audit_entry.csv", "logs/export_log.csv", "logs/read_log.csv",
                 "logs/study_lock.csv", "tables/participant.csv", "protocol_rules.json",
                 "software.json", "retention.json", "MANIFEST.sha256"):
        assert (bundle / name).is_file(), name
    assert not (bundle / "tables" / "account.csv").exists()
    long_csv = pd.read_csv(bundle / "data" / "cohort_long.csv")
    assert len(long_csv) == len(pd.read_parquet(bundle / "data" / "cohort_long.parquet")) == 2
    logged = pd.read_csv(bundle / "logs" / "export_log.csv")
    assert list(logged["kind"]) == ["archive"]  # its own entry is in the bundle
    software = json.loads((bundle / "software.json").read_text())
    assert software["schema_revision"] and software["version"]
    assert json.loads((bundle / "retention.json").read_text())["deletes_nothing"] is True
    code, out, _ = run("archive", "--verify", str(bundle))
    assert code == 0 and "verified" in out
    target = bundle / "data" / "cohort_long.csv"
    data = bytearray(target.read_bytes())
    data[10] ^= 1
    target.write_bytes(bytes(data))
    code, _, err = run("archive", "--verify", str(bundle))
    assert code == 1 and "changed: data/cohort_long.csv" in err
    code, _, err = run("archive", "-o", str(bundle))
    assert code == 1 and "not empty" in err
    with Session(engine_for(study.url)) as session:
        assert session.exec(select(Participant)).all()  # nothing was deleted


def test_privacy_report_covers_every_field(study: Study, tmp_path: Path) -> None:
    code, out, _ = run("privacy-report", "--format", "json")
    assert code == 0
    data = json.loads(out)
    fields = {(f["table"], f["field"]) for f in data["fields"]}
    assert ("participant", "code") in fields and ("read_log", "participant_id") in fields
    assert data["schema_revision"]
    code, out, _ = run("privacy-report", "-o", str(tmp_path / "ropa.md"))
    text = (tmp_path / "ropa.md").read_text()
    assert code == 0 and text.startswith("# Record of processing") and "free text" in text
    assert run("privacy-report", "--format", "csv")[1].startswith("table,field,category")
    assert run("privacy-report", "--format", "pdf")[0] == 1
