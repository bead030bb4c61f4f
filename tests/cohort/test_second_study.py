"""A second study, described by files and settings only, runs end to end.

``tests/data/study_m24/`` holds its own data dictionary and event mapping: visits M0, M3,
M6, M12 and M24 (OUTSIDER has M0, M6 and M12). It is selected by environment variables
alone (``COHORT_DICTIONARY``, ``COHORT_VISIT_WINDOW_DAYS``), exactly as a deployment
would, and nothing in the code names its visits: the demo, ``cohort status`` and ``check``,
a workbook template and its import, the pages, the REST API and the analysis report
(with a group × time contrast for every follow-up visit) all come from the schedule.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

import cohort.dictionary
import forms.loader
from cohort.cli.main import app
from cohort.db import engine_for, forget_engines
from cohort.models import Centre, Deviation, Participant, Questionnaire, Staff
from cohort.schedule import get_schedule
from cohort.settings import get_settings
from cohort.vocab import Role, Timepoint

STUDY = Path(__file__).resolve().parents[1] / "data" / "study_m24"
AS_OF = date(2026, 11, 22)
VISITS = ["M0", "M3", "M6", "M12", "M24"]
runner = CliRunner()


def _forget_study() -> None:
    get_settings.cache_clear()
    forms.loader.default_dictionary.cache_clear()
    cohort.dictionary._default.cache_clear()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The second study's demo cohort in its own SQLite file; its settings in force."""
    url = f"sqlite:///{tmp_path_factory.mktemp('study_m24') / 'study.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COHORT_DICTIONARY", str(STUDY / "data_dictionary.csv"))
        mp.setenv("COHORT_DATABASE_URL", url)
        mp.setenv("COHORT_VISIT_WINDOW_DAYS", '{"M3": 21, "M24": 60}')
        mp.setenv("COHORT_ANALYSIS_WORKERS", "2")
        _forget_study()
        out = run("demo", "--participants", "160", "--seed", "11", "--as-of", AS_OF.isoformat())
        assert "160 participants" in out
        try:
            yield url
        finally:
            forget_engines(url)
    _forget_study()


def test_the_schedule_comes_from_the_event_mapping_and_settings(study: str) -> None:
    schedule = get_schedule()
    assert schedule.names == VISITS
    assert [v.target_day for v in schedule] == [0, 91, 182, 365, 730]
    assert [v.event for v in schedule][-1] == "m24_arm_1"
    assert [(v.before, v.after) for v in schedule] == [(0, 14), (21, 21), (42, 42), (42, 42),
                                                       (60, 60)]


def test_demo_status_and_checks_cover_every_visit(study: str) -> None:
    centres = json.loads(run("status", "--json", "--as-of", AS_OF.isoformat()))
    assert all([v["visit"] for v in c["visits"]] == VISITS for c in centres)
    done = {name: sum(next(v for v in c["visits"] if v["visit"] == name)["done"]
                      for c in centres) for name in VISITS}
    assert done["M0"] == 160 and all(done[name] > 0 for name in VISITS), done
    text = run("status", "--as-of", AS_OF.isoformat())
    assert "M3 in win" in text and "M24 in win" in text and "M24 on time" in text
    run("check", "--as-of", AS_OF.isoformat())
    listed = json.loads(run("deviations", "--rule", "time.visit_overdue", "--json"))
    assert listed["data"] and all(d["rule_id"] == "time.visit_overdue" for d in listed["data"])
    with Session(engine_for(study)) as session:
        overdue = session.exec(select(Deviation.message).where(
            Deviation.rule_id == "time.visit_overdue")).all()
    for name in VISITS[1:]:
        assert any(f": {name} questionnaire overdue" in m for m in overdue), name


def _due_at(session: Session, visit: str) -> tuple[Centre, Staff, Participant]:
    """A participant whose ``visit`` window is open today, with a worker of their centre."""
    schedule = get_schedule()
    v = schedule.get(visit)
    opened = AS_OF - timedelta(days=v.opens_day)
    closes = AS_OF - timedelta(days=v.closes_day)
    done = select(Questionnaire.participant_id).where(Questionnaire.timepoint == visit)
    person = session.exec(select(Participant).where(
        col(Participant.inclusion_date) <= opened, col(Participant.inclusion_date) >= closes,
        col(Participant.id).not_in(done), Participant.status == "active")).first()
    assert person is not None
    centre = session.get(Centre, person.centre_id)
    worker = session.exec(select(Staff).where(Staff.centre_id == person.centre_id,
                                              Staff.role == Role.OUTREACH_WORKER)).first()
    assert centre is not None and worker is not None
    return centre, worker, person


def test_template_and_import_of_a_new_visit(study: str, tmp_path: Path) -> None:
    from tests.excel.helpers import as_cells, entry_sheet, fill, load, row_of, save
    from tests.factories import questionnaire_answers

    with Session(engine_for(study)) as session:
        centre, worker, person = _due_at(session, "M24")
    book_path = tmp_path / "m24.xlsx"
    run("template", "--centre", centre.code, "--timepoint", "m24", "-o", str(book_path),
        "--as-of", AS_OF.isoformat(), "--purpose", "Visits due")
    book = load(book_path.read_bytes())
    ws = entry_sheet(book)
    assert ws.title == "M24 questionnaire"
    answers = questionnaire_answers(AS_OF - timedelta(days=1), Timepoint("M24"))
    fill(ws, row_of(ws, person.code), as_cells(answers))
    book_path.write_bytes(save(book))
    run("import", str(book_path), "--as", str(worker.id))
    with Session(engine_for(study)) as session:
        saved = session.exec(select(Questionnaire).where(
            Questionnaire.participant_id == person.id, Questionnaire.timepoint == "M24")).one()
    assert saved.timepoint == "M24" and saved.visit_date == AS_OF - timedelta(days=1)


def test_pages_and_api_follow_the_schedule(study: str) -> None:
    from api.app import create_app
    from tests.api.conftest import PASSWORD, TestClient, add_user, fixed_key_settings
    from tests.api.test_api_pages import sign_in
    from tests.factories import questionnaire_answers

    engine = engine_for(study)
    with Session(engine, expire_on_commit=False) as session:
        centre, _, person = _due_at(session, "M3")
        officer = add_user(session, "officer.m24", Role.RESEARCH_OFFICER, None)
        worker = add_user(session, "worker.m24", Role.OUTREACH_WORKER, centre)
    assert PASSWORD
    application = create_app(fixed_key_settings(), engine=engine, today=lambda: AS_OF)
    with TestClient(application, base_url="http://testserver") as client:
        rows = client.get("/api/v1/retention", headers=officer.headers).json()
        assert [v["visit"] for v in rows[0]["visits"]] == VISITS
        unknown = client.get(f"/api/v1/participants/{person.code}/questionnaires/M18",
                             headers=officer.headers)
        assert unknown.status_code == 422
        saved = client.post(f"/api/v1/participants/{person.code}/questionnaires/M3",
                            json={"answers": questionnaire_answers(AS_OF, Timepoint("M3"))},
                            headers=worker.headers)
        assert saved.status_code == 201, saved.text
        again = client.get(f"/api/v1/participants/{person.code}/questionnaires/M3",
                           headers=officer.headers)
        assert again.status_code == 200 and again.json()["timepoint"] == "M3"
        items = client.get("/api/v1/worklist", headers=officer.headers).json()
        assert {"M3", "M24"} <= {i["timepoint"] for i in items}

        sign_in(client, "officer.m24")
        page = client.get("/retention")
        assert page.status_code == 200
        assert all(f">{name}<" in page.text for name in VISITS[1:])
        card = client.get(f"/participants/{person.code}")
        assert card.status_code == 200 and "M24" in card.text and "M3" in card.text
        form = client.get(f"/participants/{person.code}/questionnaires/M24")
        assert form.status_code == 200 and "M24 questionnaire" in form.text
        workbooks = client.get("/workbooks")
        assert '<option value="M24"' in workbooks.text


def test_analysis_has_a_contrast_for_every_visit(study: str, tmp_path: Path) -> None:
    out = tmp_path / "report"
    run("analyse", "all", "-o", str(out), "--as-of", AS_OF.isoformat(),
        "--purpose", "Second study")
    with (out / "estimates.csv").open(encoding="utf-8") as handle:
        contrasts = {row["contrast"] for row in csv.DictReader(handle) if row.get("contrast")}
    for name in VISITS[1:]:
        assert f"group × time interaction, {name}" in contrasts
        assert f"{name} vs M0, intervention" in contrasts
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "M24" in html and "M3" in html
