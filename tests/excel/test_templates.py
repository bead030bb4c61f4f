"""What a template lets a person type, and what its Instructions sheet promises.

The Instructions say a list answer may be typed as its number or its words, and a date
typed as 31/03/2026: the cell checks must let those through (warning style, not stop), and
the import must read them.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from cohort.excel.importer import import_file
from cohort.excel.layout import INSTRUCTIONS_SHEET, Kind
from cohort.excel.templates import build_template
from cohort.models import AerliSession, Questionnaire
from cohort.vocab import Timepoint
from tests.excel.conftest import Site
from tests.excel.helpers import as_cells, columns, entry_sheet, fill, load, row_of, save
from tests.factories import Factory, questionnaire_answers


def _validations(ws: object) -> dict[str, object]:
    """Column letter -> its data validation."""
    found: dict[str, object] = {}
    for dv in ws.data_validations.dataValidation:  # type: ignore[attr-defined]
        for cells in dv.sqref.ranges:
            found[cells.coord.split(":")[0].rstrip("0123456789")] = dv
    return found


def test_lists_and_dates_warn_instead_of_refusing_what_the_instructions_allow(
        factory: Factory, site: Site) -> None:
    data, _ = build_template(factory.session, actor=site.worker, kind=Kind.QUESTIONNAIRE,
                             centre_code="C04", timepoint=Timepoint("M6"), as_of=factory.today)
    book = load(data)
    ws = entry_sheet(book)
    names = columns(ws)
    checks = _validations(ws)

    def check(name: str) -> object:
        return checks[ws.cell(2, names[name]).column_letter]

    for name in ("inj_freq", "share_syringe", "products___1"):
        dv = check(name)
        assert dv.type == "list" and dv.errorStyle == "warning", name  # type: ignore[attr-defined]
        assert "keep it" in dv.error  # type: ignore[attr-defined]
    date = check("visit_date")
    assert date.type == "date" and date.errorStyle == "warning"  # type: ignore[attr-defined]
    text = " ".join(str(c.value) for c in book[INSTRUCTIONS_SHEET]["A"] if c.value)
    assert "pick from it (or type the number)" not in text
    assert "type the answer's number" in text and "answer Yes" in text and "press OK" in text
    assert "31/03/2026 is read as day/month/year" in text


def test_what_the_instructions_say_may_be_typed_is_imported(
        factory: Factory, site: Site) -> None:
    data, _ = build_template(factory.session, actor=site.worker, kind=Kind.QUESTIONNAIRE,
                             centre_code="C04", timepoint=Timepoint("M6"), as_of=factory.today)
    book = load(data)
    ws = entry_sheet(book)
    person = site.due[0]
    visit = factory.today - timedelta(days=3)
    answers = questionnaire_answers(visit, Timepoint("M6"), inj_freq="2",
                                    share_cooker="Yes", acidifier="2")
    answers["visit_date"] = visit.strftime("%d/%m/%Y")
    cells = as_cells(answers)
    cells["products___1"], cells["products___5"] = "1", "yes"
    fill(ws, row_of(ws, person.code), cells)
    report = import_file(factory.session, actor=site.worker, data=save(book),
                         filename="m6.xlsx", on=factory.today)
    assert report.problems == [] and report.written == 1
    stored = factory.session.exec(select(Questionnaire).where(
        Questionnaire.participant_id == person.id)).one()
    assert (stored.answers["inj_freq"], stored.answers["share_cooker"]) == ("2", "1")
    assert stored.visit_date == visit and stored.answers["products"] == ["1", "5"]

    sessions, _ = build_template(factory.session, actor=site.worker, kind=Kind.SESSION,
                                 centre_code="C04", as_of=factory.today)
    book = load(sessions)
    ws = entry_sheet(book)
    fill(ws, 3, {"participant_code": person.code, "session_date": visit.isoformat(),
                 "setting": "Squat", "modality": "1",
                 "workers_present": f"{site.staff.id}, {site.colleague.id}"})
    report = import_file(factory.session, actor=site.worker, data=save(book),
                         filename="s.xlsx", on=factory.today)
    assert report.problems == [] and report.written == 1
    assert factory.session.exec(select(AerliSession).where(
        AerliSession.participant_id == person.id)).one().setting.value == "squat"
