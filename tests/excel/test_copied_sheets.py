"""A person copies the entry sheet and fills the copy (or both): no filled row is ignored.

Rows of every sheet with the entry header are read; each problem and flag names its sheet.
Sheets holding different kinds of rows, or a copy named for another timepoint than the
workbook's, are refused as a whole with the sheets named.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from cohort.excel.annotate import annotate
from cohort.excel.importer import import_file
from cohort.excel.layout import META_SHEET, Kind
from cohort.excel.reader import WorkbookUnreadable
from cohort.excel.templates import build_template
from cohort.models import Questionnaire
from cohort.vocab import Timepoint
from tests.cohort.helpers import row_counts
from tests.excel.conftest import Site
from tests.excel.helpers import as_cells, columns, entry_sheet, fill, load, row_of, save
from tests.factories import Factory, questionnaire_answers


def _book(factory: Factory, site: Site, kind: Kind = Kind.QUESTIONNAIRE):  # type: ignore[no-untyped-def]
    data, _ = build_template(factory.session, actor=site.worker, kind=kind, centre_code="C04",
                             timepoint=Timepoint("M6") if kind is Kind.QUESTIONNAIRE else None,
                             as_of=factory.today)
    return load(data)


def _import(factory: Factory, site: Site, data: bytes):  # type: ignore[no-untyped-def]
    return import_file(factory.session, actor=site.worker, data=data, filename="m6.xlsx",
                       on=factory.today)


def _answers(factory: Factory, **overrides: object) -> dict[str, object]:
    return as_cells(questionnaire_answers(factory.today - timedelta(days=3), Timepoint("M6"),
                                          **overrides))


def test_rows_filled_in_a_copy_of_the_entry_sheet_are_imported(
        factory: Factory, site: Site) -> None:
    book = _book(factory, site)
    original = entry_sheet(book)
    copy = book.copy_worksheet(original)
    copy.title = "M6 questionnaire (2)"
    first, second, third = site.due
    fill(copy, row_of(copy, first.code), _answers(factory))
    fill(copy, row_of(copy, second.code), _answers(factory))
    fill(original, row_of(original, third.code), _answers(factory))

    report = _import(factory, site, save(book))

    assert report.problems == [], report.problems
    assert (report.rows, report.written) == (3, 3)
    assert report.sheets == ["M6 questionnaire", "M6 questionnaire (2)"]
    stored = factory.session.exec(select(Questionnaire.participant_id).where(
        Questionnaire.timepoint == Timepoint("M6"))).all()
    assert set(stored) == {first.id, second.id, third.id}


def test_a_problem_in_the_copy_names_the_copy_and_is_marked_there(
        factory: Factory, site: Site) -> None:
    book = _book(factory, site)
    original = entry_sheet(book)
    copy = book.copy_worksheet(original)
    copy.title = "field copy"
    first, second, _ = site.due
    fill(original, row_of(original, first.code), _answers(factory))
    row = row_of(copy, second.code)
    fill(copy, row, _answers(factory, inj_freq="7"))
    data = save(book)
    before = row_counts(factory.session)

    report = _import(factory, site, data)

    assert row_counts(factory.session) == before
    [problem] = report.problems
    assert (problem.sheet, problem.row, problem.field) == ("field copy", row, "inj_freq")
    marked = load(annotate(data, report.problems))
    column = columns(copy)["inj_freq"]
    assert marked["field copy"].cell(row, column).comment is not None
    assert marked["M6 questionnaire"].cell(row, column).comment is None


def test_the_command_line_names_the_sheet_of_each_problem(
        factory: Factory, site: Site, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from cohort.cli.excel import _print

    book = _book(factory, site)
    copy = book.copy_worksheet(entry_sheet(book))
    copy.title = "copy"
    fill(copy, row_of(copy, site.due[0].code), _answers(factory, inj_freq="7"))
    report = _import(factory, site, save(book))
    _print(report)
    out = capsys.readouterr()
    assert "sheets 'M6 questionnaire', 'copy'" in out.out and "1 filled row(s)" in out.out
    assert f"sheet 'copy' row {row_of(copy, site.due[0].code)}" in out.err


def test_sheets_of_different_kinds_are_refused_by_name(factory: Factory, site: Site) -> None:
    book = _book(factory, site)
    del book[META_SHEET]  # a hand-assembled workbook: kinds come from the columns
    enrolment = entry_sheet(_book(factory, site, Kind.ENROLMENT))
    pasted = book.create_sheet("new people")
    for values in enrolment.iter_rows(min_row=1, max_row=2, values_only=True):
        pasted.append(values)
    with pytest.raises(WorkbookUnreadable) as refused:
        _import(factory, site, save(book))
    message = refused.value.message
    assert "'M6 questionnaire': questionnaire" in message
    assert "'new people': enrolment" in message
    assert refused.value.message_id == "workbook.mixed_kinds"


def test_a_copy_named_for_another_timepoint_is_refused(factory: Factory, site: Site) -> None:
    book = _book(factory, site)
    copy = book.copy_worksheet(entry_sheet(book))
    copy.title = "M12 questionnaire"
    fill(copy, row_of(copy, site.due[0].code), _answers(factory))
    before = row_counts(factory.session)
    with pytest.raises(WorkbookUnreadable, match="'M12 questionnaire' is named for M12"):
        _import(factory, site, save(book))
    assert row_counts(factory.session) == before
