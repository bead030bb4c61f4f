"""Questionnaire workbooks: template, filled by hand, imported all or nothing.

Rules cited: visit.out_of_window (soft: saved and flagged), date.in_future and
visit.duplicate (hard: nothing saved), dictionary validation, import.* reading rules.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from cohort.excel.importer import ImportStopped, import_file
from cohort.excel.layout import META_SHEET, Kind
from cohort.excel.templates import build_template
from cohort.models import Deviation, Questionnaire
from cohort.vocab import Timepoint
from tests.cohort.helpers import row_counts
from tests.conftest import TODAY
from tests.excel.conftest import Site
from tests.excel.helpers import as_cells, columns, entry_sheet, fill, load, row_of, save
from tests.factories import Factory, questionnaire_answers


def _template(factory: Factory, site: Site, timepoint: Timepoint = Timepoint("M6")) -> bytes:
    data, _ = build_template(factory.session, actor=site.worker, kind=Kind.QUESTIONNAIRE,
                             centre_code="C04", timepoint=timepoint, as_of=factory.today)
    return data


def _import(factory: Factory, site: Site, data: bytes, **kw: object):  # type: ignore[no-untyped-def]
    return import_file(factory.session, actor=site.worker, data=data, filename="m6.xlsx",
                       on=factory.today, **kw)  # type: ignore[arg-type]


def _answers(visit: object, **overrides: object) -> dict[str, object]:
    answers = questionnaire_answers(TODAY, Timepoint("M6"), **overrides)
    answers["visit_date"] = visit
    return answers


def _visit(factory: Factory, days_ago: int = 3) -> str:
    return (factory.today - timedelta(days=days_ago)).isoformat()


def test_template_lists_the_participants_due_with_labels_names_and_help(
        factory: Factory, site: Site) -> None:
    book = load(_template(factory, site))
    assert book.sheetnames[:2] == ["Instructions", "M6 questionnaire"]
    assert book[META_SHEET].sheet_state == "hidden"
    ws = entry_sheet(book)
    names = columns(ws)
    assert ws.cell(1, names["inj_freq"]).value.startswith("How often")
    assert "visit_date" in names and "products___1" in names and "housing" not in names
    codes = {ws.cell(r, 1).value for r in range(3, ws.max_row + 1)} - {None}
    assert codes == {p.code for p in [*site.due, site.late]}
    assert ws.freeze_panes == "B3" and ws.protection.sheet
    assert not ws.cell(3, names["inj_freq"]).protection.locked
    assert ws.cell(1, 1).protection.locked
    kinds = {dv.type for dv in ws.data_validations.dataValidation}
    assert {"list", "date"} <= kinds
    prompts = " ".join(dv.prompt or "" for dv in ws.data_validations.dataValidation)
    assert "Please do not write names" in prompts
    meta = {r[0].value: r[1].value for r in book[META_SHEET].iter_rows()}
    assert meta["kind"] == "questionnaire" and meta["timepoint"] == "M6"
    assert meta["centre"] == "C04" and meta["dictionary_version"]


def test_a_workbook_edited_by_hand_is_read_as_meant(factory: Factory, site: Site) -> None:
    """Dates as text (d/m/Y and Y-m-d), numbers as text, spaces, labels, moved columns,
    a renamed sheet and empty rows in between."""
    book = load(_template(factory, site))
    ws = entry_sheet(book)
    ws.title = "my visits"
    # Move a column: swap inj_freq and visit_date, headers and all.
    where = columns(ws)
    a, b = where["inj_freq"], where["visit_date"]
    for row in (1, 2):
        first, second = ws.cell(row, a).value, ws.cell(row, b).value
        ws.cell(row, a).value, ws.cell(row, b).value = second, first
    first, second, third = site.due
    visit = factory.today - timedelta(days=3)
    fill(ws, row_of(ws, first.code), as_cells(_answers(visit.strftime("%d/%m/%Y"), inj_freq=" 3 ",
        share_syringe="1 = Yes", share_cooker="no ", swab_before=1,
        hcv_test_ever="Yes", hcv_last_result="Negative")))
    fill(ws, row_of(ws, second.code), as_cells(_answers(f" {visit.isoformat()} ")))
    late = row_of(ws, site.late.code)
    fill(ws, late, as_cells(_answers(visit.isoformat())))
    ws.cell(late, columns(ws)["visit_date"]).value = visit  # a real date cell
    data = save(book)

    report = _import(factory, site, data)

    assert report.problems == [], report.problems
    assert (report.written, report.rows, report.sheet) == (3, 3, "my visits")
    assert report.blank_rows >= 1  # third.code's row, pre-filled and left empty
    stored = {q.participant_id: q for q in factory.session.exec(
        select(Questionnaire).where(Questionnaire.timepoint == Timepoint("M6")))}
    answers = stored[first.id].answers
    assert answers["visit_date"] == visit.isoformat()
    assert (answers["inj_freq"], answers["share_syringe"], answers["share_cooker"]) == \
        ("3", "1", "0")
    assert (answers["swab_before"], answers["hcv_last_result"]) == ("1", "1")
    assert answers["products"] == ["1", "5"] and answers["hr_services"] == ["1", "3"]
    assert stored[second.id].visit_date == visit
    assert third.id not in stored
    assert [d.rule for d in report.deviations] == ["visit.out_of_window"]
    flagged = factory.session.exec(select(Deviation).where(
        Deviation.participant_id == site.late.id)).all()
    assert [d.rule_id for d in flagged] == ["visit.out_of_window"]


def test_one_bad_row_saves_nothing_and_every_problem_is_marked(
        factory: Factory, site: Site) -> None:
    book = load(_template(factory, site))
    ws = entry_sheet(book)
    first, second, third = site.due
    fill(ws, row_of(ws, first.code), as_cells(_answers(_visit(factory))))
    fill(ws, row_of(ws, second.code), as_cells(_answers("31/02/2026", inj_freq="7")))
    fill(ws, row_of(ws, third.code), as_cells(_answers(_visit(factory, -5))))
    before = row_counts(factory.session)

    report = _import(factory, site, save(book))

    assert row_counts(factory.session) == before
    found = {(p.row, p.field, p.rule) for p in report.problems}
    names = columns(ws)
    assert (row_of(ws, second.code), "visit_date", "import.unreadable_value") in found
    assert (row_of(ws, third.code), "visit_date", "date.in_future") in found
    assert not any(p.row == row_of(ws, first.code) for p in report.problems)

    from cohort.excel.annotate import annotate

    marked = load(annotate(save(book), report.problems))
    assert marked.sheetnames[0] == "Summary"
    summary = list(marked["Summary"].iter_rows(values_only=True))
    assert summary[0][:5] == ("Sheet", "Row", "Column", "Field", "Rule")
    assert len(summary) == len(report.problems) + 1
    cell = marked["M6 questionnaire"].cell(row_of(ws, second.code), names["visit_date"])
    assert cell.fill.fgColor.rgb.endswith("FF9999")
    assert "31/02/2026" in cell.comment.text and "(visit_date)" in cell.comment.text


def test_a_missing_answer_and_a_word_not_in_the_list_are_both_reported(
        factory: Factory, site: Site) -> None:
    book = load(_template(factory, site))
    ws = entry_sheet(book)
    row = row_of(ws, site.due[0].code)
    answers = _answers(_visit(factory), inj_freq="maybe")
    del answers["share_syringe"]
    fill(ws, row, as_cells(answers))
    report = _import(factory, site, save(book))
    found = sorted((p.row, p.field, p.rule) for p in report.problems)
    assert found == [(row, "inj_freq", "import.unreadable_value"),
                     (row, "share_syringe", "dictionary.required")]  # in one round
    assert "Less than once a week" in report.problems[0].text

    fill(ws, row, {"inj_freq": "Once a week"})
    report = _import(factory, site, save(book))
    assert [(p.row, p.field, p.rule) for p in report.problems] == \
        [(row, "share_syringe", "dictionary.required")]
    assert report.problems[0].column == \
        ws.cell(2, columns(ws)["share_syringe"]).column_letter


def test_importing_the_same_workbook_twice_writes_nothing_new(
        factory: Factory, site: Site) -> None:
    book = load(_template(factory, site))
    ws = entry_sheet(book)
    for person in site.due:
        fill(ws, row_of(ws, person.code), as_cells(_answers(_visit(factory))))
    data = save(book)
    assert _import(factory, site, data).written == 3
    after = row_counts(factory.session)

    again = _import(factory, site, data)
    assert again.already_imported is not None and again.written == 0
    ws["A1"].value = "Participant code (edited)"  # another file, same rows
    other = _import(factory, site, save(book))
    assert (other.written, other.unchanged, other.problems) == (0, 3, [])
    assert row_counts(factory.session) == after


def test_dry_run_checks_everything_and_writes_nothing(factory: Factory, site: Site) -> None:
    book = load(_template(factory, site))
    ws = entry_sheet(book)
    fill(ws, row_of(ws, site.late.code), as_cells(_answers(_visit(factory))))
    before = row_counts(factory.session)
    report = _import(factory, site, save(book), dry_run=True)
    assert report.ok and report.written == 1 and not report.saved
    assert [d.rule for d in report.deviations] == ["visit.out_of_window"]
    assert row_counts(factory.session) == before


def test_a_failure_after_the_rows_were_written_leaves_the_database_unchanged(
        factory: Factory, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """The questionnaires are flushed, then writing their audit entries fails."""
    book = load(_template(factory, site))
    ws = entry_sheet(book)
    for person in [*site.due, site.late]:
        fill(ws, row_of(ws, person.code), as_cells(_answers(_visit(factory))))
    from cohort.services import audit

    flushed: list[int] = []

    def fail(session: object, actor_id: object, records: list[Questionnaire]) -> None:
        flushed.extend(r.id for r in records if r.id is not None)
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "record_creates", fail)
    before = row_counts(factory.session)
    with pytest.raises(ImportStopped, match="nothing was saved"):
        _import(factory, site, save(book))
    assert len(flushed) == 4
    assert row_counts(factory.session) == before


def test_hand_made_problems_are_refused_with_a_clear_message(
        factory: Factory, site: Site) -> None:
    book = load(_template(factory, site))
    ws = entry_sheet(book)
    names = columns(ws)
    row = row_of(ws, site.due[0].code)
    fill(ws, row, as_cells(_answers("04/13/2026")))
    ws.cell(2, names["water_source"]).value = "water_sauce"  # a typo in the name row
    ws.cell(row, names["inj_freq"]).value = 45000.0
    ws.cell(row, ws.max_column + 2).value = "note in a column without a name"
    report = _import(factory, site, save(book))
    rules = {(p.field, p.rule) for p in report.problems}
    assert ("water_sauce", "import.unknown_column") in rules
    assert ("visit_date", "import.unreadable_value") in rules
    assert ("inj_freq", "import.unreadable_value") in rules
    assert ("", "import.unnamed_column") in rules
    date_problem = next(p for p in report.problems if p.field == "visit_date")
    assert "month/day/year" in date_problem.text
