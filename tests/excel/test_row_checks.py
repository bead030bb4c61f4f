"""How rows are checked: every problem of a row in one round, and rows repeated in a file.

Rules cited: visit.duplicate (two rows of one file for the same questionnaire),
import.unreadable_value, dictionary.* and protocol rules on the readable cells of the same row.
"""

from __future__ import annotations

from datetime import timedelta

from cohort.excel.importer import import_file
from cohort.excel.layout import Kind
from cohort.excel.templates import build_template
from cohort.vocab import Timepoint
from tests.cohort.helpers import row_counts
from tests.excel.conftest import Site
from tests.excel.helpers import as_cells, entry_sheet, fill, load, row_of, save
from tests.excel.test_redcap_report_cli import _row, redcap_export
from tests.factories import Factory, questionnaire_answers


def _book(factory: Factory, site: Site, kind: Kind = Kind.QUESTIONNAIRE):  # type: ignore[no-untyped-def]
    data, _ = build_template(factory.session, actor=site.worker, kind=kind, centre_code="C04",
                             timepoint=Timepoint("M6") if kind is Kind.QUESTIONNAIRE else None,
                             as_of=factory.today)
    return load(data)


def _import(factory: Factory, site: Site, data: bytes, name: str = "m6.xlsx"):  # type: ignore[no-untyped-def]
    return import_file(factory.session, actor=site.worker, data=data, filename=name,
                       on=factory.today)


def _answers(factory: Factory, **overrides: object) -> dict[str, object]:
    return questionnaire_answers(factory.today - timedelta(days=3), Timepoint("M6"), **overrides)


def test_a_code_entered_twice_names_the_row_of_this_workbook_that_has_it(
        factory: Factory, site: Site) -> None:
    book = _book(factory, site)
    ws = entry_sheet(book)
    person = site.due[0]
    first = row_of(ws, person.code)
    again = ws.max_row + 1
    fill(ws, first, as_cells(_answers(factory)))
    fill(ws, again, {"participant_code": person.code, **as_cells(_answers(factory))})
    before = row_counts(factory.session)

    report = _import(factory, site, save(book))

    assert row_counts(factory.session) == before
    [problem] = report.problems
    assert (problem.row, problem.field, problem.rule) == (again, "participant_code",
                                                          "visit.duplicate")
    assert problem.text.startswith(
        f"Row {first} of this workbook already has {person.code}'s M6 questionnaire")
    assert "open it" not in problem.text


def test_a_code_entered_in_two_sheets_names_the_other_sheet(
        factory: Factory, site: Site) -> None:
    book = _book(factory, site)
    ws = entry_sheet(book)
    copy = book.copy_worksheet(ws)
    copy.title = "copy"
    person = site.due[1]
    fill(ws, row_of(ws, person.code), as_cells(_answers(factory)))
    fill(copy, row_of(copy, person.code), as_cells(_answers(factory, inj_freq="2")))
    [problem] = _import(factory, site, save(book)).problems
    assert problem.sheet == "copy"
    assert problem.text.startswith(
        f"Row {row_of(ws, person.code)} of the sheet 'M6 questionnaire' of this workbook "
        f"already has {person.code}'s M6 questionnaire")


def test_a_record_exported_twice_for_one_event_names_the_first_line(
        factory: Factory, site: Site) -> None:
    person = site.due[2]
    data = redcap_export([_row(person.code, "m6_arm_1", _answers(factory)),
                          _row(person.code, "m6_arm_1", _answers(factory, inj_freq="2"))])
    [problem] = _import(factory, site, data, "export.csv").problems
    assert (problem.row, problem.rule) == (3, "visit.duplicate")
    assert problem.text.startswith(
        f"Row 2 of this export already has record {person.code}'s M6 questionnaire")


def test_an_unreadable_cell_does_not_hide_the_other_problems_of_its_row(
        factory: Factory, site: Site) -> None:
    book = _book(factory, site)
    ws = entry_sheet(book)
    row = row_of(ws, site.due[0].code)
    answers = _answers(factory, hcv_test_ever="perhaps", hcv_last_result="1")
    answers["visit_date"] = "31/02/2026"
    del answers["share_syringe"], answers["share_cooker"]
    fill(ws, row, as_cells(answers))
    before = row_counts(factory.session)

    report = _import(factory, site, save(book))

    assert row_counts(factory.session) == before
    assert sorted((p.row, p.field, p.rule) for p in report.problems) == [
        (row, "hcv_test_ever", "import.unreadable_value"),
        (row, "share_cooker", "dictionary.required"),
        (row, "share_syringe", "dictionary.required"),
        (row, "visit_date", "import.unreadable_value"),
    ]  # hcv_last_result depends on the unreadable answer: not reported on its own


def test_an_unreadable_session_date_does_not_hide_an_unknown_worker(
        factory: Factory, site: Site) -> None:
    book = _book(factory, site, Kind.SESSION)
    ws = entry_sheet(book)
    fill(ws, 3, {"participant_code": site.due[0].code, "session_date": "2026-13-01",
                 "setting": "1", "modality": "1", "workers_present": "nobody.here"})
    report = _import(factory, site, save(book))
    assert sorted((p.field, p.rule) for p in report.problems) == [
        ("session_date", "import.unreadable_value"), ("workers_present", "import.unknown_staff")]
