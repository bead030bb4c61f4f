"""REDCap records export (flat CSV), the officers' report workbook, and the command line."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from cohort.dictionary import get_dictionary
from cohort.excel.importer import import_file
from cohort.excel.report import build_report
from cohort.models import Questionnaire
from cohort.vocab import Timepoint
from tests.cohort.helpers import row_counts
from tests.excel.conftest import Site
from tests.excel.helpers import load
from tests.factories import Factory, questionnaire_answers


def redcap_export(records: list[dict[str, object]]) -> bytes:
    """A REDCap flat export: every field column, checkboxes as ``field___code``."""
    dictionary = get_dictionary()
    header = ["record_id", "redcap_event_name", "redcap_data_access_group",
              "redcap_repeat_instrument",
              "redcap_repeat_instance"]
    for form in dictionary.forms.values():
        for f in form.fields:
            header.extend(f.export_columns())
        header.append(f"{form.name}_complete")
    out = io.StringIO()
    writer = csv.DictWriter(out, header, restval="")
    writer.writeheader()
    for record in records:
        writer.writerow(dictionary.expand_checkboxes(record))
    return out.getvalue().encode()


def _row(code: str, event: str, answers: dict[str, object]) -> dict[str, object]:
    return {"record_id": code, "redcap_event_name": event, **answers,
            "questionnaire_complete": "2"}


def test_a_redcap_export_moves_questionnaires_over(factory: Factory, site: Site) -> None:
    first, second = site.due[0], site.due[1]
    m0 = questionnaire_answers(first.inclusion_date, Timepoint("M0"))
    m6 = questionnaire_answers(factory.today - timedelta(days=5), Timepoint("M6"))
    data = redcap_export([
        _row(first.code, "m0_arm_1", {**m0, "age": "34", "consent": "1"}),
        _row(first.code, "m6_arm_1", m6),
        _row(second.code, "m6_arm_1", m6),
    ])
    report = import_file(factory.session, actor=site.worker, data=data,
                         filename="export.csv", on=factory.today)
    assert report.problems == [] and report.written == 3
    stored = factory.session.exec(select(Questionnaire).where(
        Questionnaire.participant_id == first.id)).all()
    by_tp = {q.timepoint: q for q in stored}
    assert by_tp[Timepoint("M0")].answers["housing"] == "3"
    assert by_tp[Timepoint("M6")].answers["products"] == ["1", "5"]
    again = import_file(factory.session, actor=site.worker, data=data, filename="export.csv",
                        on=factory.today)
    assert again.already_imported is not None


def test_records_new_here_are_enrolled_then_their_questionnaires_saved(
        factory: Factory, site: Site) -> None:
    inclusion = factory.today - timedelta(days=200)
    enrolment = {"age": "31", "injected_past_month": "1", "wish_neck_groin": "0",
                 "consent": "1", "consent_date": inclusion.isoformat(), "gender": "1",
                 "reached_via": "1", "study_group": "2",
                 "inclusion_date": inclusion.isoformat(), "redcap_data_access_group": "c04"}
    def export(second_age: str) -> bytes:
        rows = []
        for record, age in (("101", "31"), ("102", second_age)):
            rows.append(_row(record, "m0_arm_1", {
                **questionnaire_answers(inclusion, Timepoint("M0")), **enrolment, "age": age}))
            rows.append(_row(record, "m6_arm_1", questionnaire_answers(
                inclusion + timedelta(days=185), Timepoint("M6"))))
        return redcap_export(rows)

    data = export("16")
    refused = import_file(factory.session, actor=site.worker, data=data,
                          filename="export.csv", on=factory.today)
    assert [(p.row, p.field, p.rule) for p in refused.problems] == \
        [(4, "age", "enrol.under_18")]
    assert refused.created == []

    data = export("36")
    report = import_file(factory.session, actor=site.worker, data=data,
                         filename="export.csv", on=factory.today)
    assert report.problems == [], report.problems
    labels = dict(report.created)
    assert set(labels) == {"record 101", "record 102"}
    new_code = labels["record 101"]
    assert new_code.startswith("C04-")
    from cohort.models import Participant

    person = factory.session.exec(select(Participant).where(
        Participant.code == new_code)).one()
    stored = factory.session.exec(select(Questionnaire).where(
        Questionnaire.participant_id == person.id)).all()
    assert sorted(q.timepoint.value for q in stored) == ["M0", "M6"]
    assert report.written == 6  # two enrolments, four questionnaires


def test_a_redcap_export_with_problems_writes_nothing_and_names_the_cells(
        factory: Factory, site: Site) -> None:
    m6 = questionnaire_answers(factory.today - timedelta(days=5), Timepoint("M6"))
    data = redcap_export([
        _row(site.due[0].code, "m6_arm_1", m6),
        _row(site.due[1].code, "m6_arm_1", {**m6, "housing": "3", "inj_freq": "9"}),
        _row("C04-9999-X", "m6_arm_1", m6),
        _row(site.due[2].code, "screening_arm_1", m6),
    ])
    before = row_counts(factory.session)
    report = import_file(factory.session, actor=site.worker, data=data,
                         filename="export.csv", on=factory.today)
    assert row_counts(factory.session) == before
    found = {(p.row, p.field, p.rule) for p in report.problems}
    assert (3, "housing", "redcap.not_in_event") in found
    assert (3, "inj_freq", "import.unreadable_value") in found
    assert (4, "participant_code", "participant.unknown") in found
    assert (5, "redcap_event_name", "redcap.unknown_event") in found

    from cohort.excel.annotate import annotate

    marked = load(annotate(data, report.problems, csv_name="export.csv"))
    assert marked.sheetnames == ["Summary", "records"]
    assert marked["records"]["A4"].comment is not None


def test_the_report_workbook_has_retention_visits_and_deviations(
        factory: Factory, site: Site) -> None:
    factory.questionnaire(site.worker, site.late, Timepoint("M6"),
                          visit_date=factory.today - timedelta(days=1))
    book = load(build_report(factory.session, actor=site.worker, as_of=factory.today))
    assert book.sheetnames[:4] == ["Retention", "Visits due", "Open deviations",
                                   "Deviation list"]
    retention = list(book["Retention"].iter_rows(values_only=True))
    assert retention[0][:3] == ("Centre", "Name", "Enrolled")
    assert retention[1][0] == "C04" and retention[1][2] == 5
    assert book["Retention"].freeze_panes == "B2"
    assert book["Retention"].conditional_formatting
    visits = list(book["Visits due"].iter_rows(values_only=True))
    assert {r[0] for r in visits[1:]} == {p.code for p in site.due}
    assert {r[3] for r in visits[1:]} == {"due"}
    deviations = list(book["Open deviations"].iter_rows(values_only=True))
    assert deviations[0] == ("Rule", "C04", "Total")
    assert ("visit.out_of_window", 1, 1) in deviations


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings_env: None) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("COHORT_DATABASE_URL", url)
    return url


def test_the_command_line_round_trip(cli_db: str, tmp_path: Path) -> None:
    from cohort.cli.main import app
    from cohort.db import engine_for, forget_engines
    from cohort.migrate import upgrade
    from tests.conftest import TODAY
    from tests.excel.helpers import entry_sheet, fill, save

    upgrade(cli_db)
    with Session(engine_for(cli_db)) as session:
        factory = Factory(session, today=TODAY)
        centre = factory.centre("C04")
        staff = factory.staff(centre=centre)
        worker = factory.actor(staff)
        factory.participant(worker, inclusion_date=TODAY - timedelta(days=190))
        session.commit()
        staff_id = str(staff.id)
    runner = CliRunner()
    template = tmp_path / "m6.xlsx"
    made = runner.invoke(app, ["template", "--centre", "c04", "--timepoint", "M6", "-o",
                               str(template), "--as-of", TODAY.isoformat()])
    assert made.exit_code == 0, made.output
    assert "1 participant(s) due" in made.output

    book = load(template.read_bytes())
    ws = entry_sheet(book)
    fill(ws, 3, {"visit_date": "20/11/2026", "inj_freq": "9"})
    template.write_bytes(save(book))
    missing_who = runner.invoke(app, ["import", str(template)])
    assert missing_who.exit_code != 0
    refused = runner.invoke(app, ["import", str(template), "--as", staff_id,
                                  "--as-of", TODAY.isoformat()])
    assert refused.exit_code == 1
    assert "nothing was saved" in refused.output and "Traceback" not in refused.output
    annotated = tmp_path / "m6-to-correct.xlsx"
    assert annotated.exists()
    assert load(annotated.read_bytes())["Summary"].max_row >= 2

    answers = questionnaire_answers(TODAY - timedelta(days=2), Timepoint("M6"))
    cells = {k: v for k, v in answers.items() if not isinstance(v, list)}
    fill(ws, 3, cells)
    template.write_bytes(save(book))
    saved = runner.invoke(app, ["import", str(template), "--as", staff_id,
                                "--as-of", TODAY.isoformat()])
    assert saved.exit_code == 0, saved.output
    assert "1 row(s) saved" in saved.output
    twice = runner.invoke(app, ["import", str(template), "--as", staff_id])
    assert twice.exit_code == 0 and "already imported" in twice.output

    unknown = runner.invoke(app, ["import", str(template), "--as", "nobody"])
    assert unknown.exit_code == 2 and "nobody" in unknown.output
    report = tmp_path / "report.xlsx"
    done = runner.invoke(app, ["report", "--excel", "-o", str(report),
                               "--purpose", "Monitoring"])
    assert done.exit_code == 0 and report.exists()
    assert runner.invoke(app, ["report", "-o", str(report)]).exit_code != 0
    forget_engines(cli_db)
