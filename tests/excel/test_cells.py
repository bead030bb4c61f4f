"""Reading single cells as a person meant them (rule: import.unreadable_value).

A number typed into a cell that Excel or LibreOffice formats as a date is saved as a date;
the message must say so and say what to type, not just that the date is not an answer.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from cohort.excel.cells import CellError, reader_for
from cohort.excel.importer import import_file
from cohort.excel.layout import Kind, columns_for
from cohort.excel.templates import build_template
from cohort.vocab import Timepoint
from tests.cohort.helpers import row_counts
from tests.excel.conftest import Site
from tests.excel.helpers import as_cells, columns, entry_sheet, fill, load, row_of, save
from tests.factories import Factory, questionnaire_answers


def _reader(name: str, timepoint: Timepoint = Timepoint("M6")):  # type: ignore[no-untyped-def]
    [column] = [c for c in columns_for(Kind.QUESTIONNAIRE, timepoint) if c.name == name]
    return reader_for(column)


@pytest.mark.parametrize("value", [datetime(1900, 1, 2), date(1900, 1, 2)])
def test_a_code_typed_in_a_date_cell_is_named_with_what_to_type(value: object) -> None:
    with pytest.raises(CellError) as caught:
        _reader("inj_freq")(value)
    message = str(caught.value)
    assert "formatted as a date" in message and "the 2 typed here" in message
    assert "format the cell as text" in message and "3 = " in message
    assert "00:00:00" not in message


def test_a_real_date_or_a_time_in_a_choice_or_tick_cell_is_refused_plainly() -> None:
    with pytest.raises(CellError, match="formatted as a date and holds 2026-03-31"):
        _reader("inj_freq")(datetime(2026, 3, 31))
    with pytest.raises(CellError, match="formatted as a time"):
        _reader("inj_freq")(time(12, 30))
    with pytest.raises(CellError, match=r"the 1 typed here.*1 \(ticked\) or 0"):
        _reader("products___1")(datetime(1900, 1, 1))


def test_a_date_formatted_choice_cell_in_a_workbook_is_reported_at_its_cell(
        factory: Factory, site: Site) -> None:
    data, _ = build_template(factory.session, actor=site.worker, kind=Kind.QUESTIONNAIRE,
                             centre_code="C04", timepoint=Timepoint("M6"), as_of=factory.today)
    book = load(data)
    ws = entry_sheet(book)
    visit = factory.today - timedelta(days=3)
    row = row_of(ws, site.due[0].code)
    fill(ws, row, as_cells(questionnaire_answers(visit, Timepoint("M6"))))
    cell = ws.cell(row, columns(ws)["inj_freq"])
    cell.value = 2
    cell.number_format = "yyyy-mm-dd"
    before = row_counts(factory.session)
    report = import_file(factory.session, actor=site.worker, data=save(book),
                         filename="m6.xlsx", on=factory.today)
    assert row_counts(factory.session) == before
    [problem] = report.problems
    assert (problem.row, problem.column, problem.rule) == (
        row, cell.column_letter, "import.unreadable_value")
    assert "formatted as a date, so the 2 typed here" in problem.text
