"""A workbook made from another version of the data dictionary.

Rule cited: import.dictionary_changed (the whole workbook is refused when a choice code it
shows no longer means the same; other dictionary changes are checked cell by cell).
"""

from __future__ import annotations

from datetime import timedelta

from openpyxl import Workbook

from cohort.dictionary import get_dictionary, use_dictionary
from cohort.excel.importer import import_file
from cohort.excel.layout import LISTS_SHEET, META_SHEET, Kind
from cohort.excel.templates import build_template
from cohort.messages import Message
from cohort.vocab import Timepoint
from forms.loader import dictionary_paths, load_dictionary_text
from tests.cohort.helpers import row_counts
from tests.excel.conftest import Site
from tests.excel.helpers import as_cells, columns, entry_sheet, fill, load, row_of, save
from tests.factories import Factory, questionnaire_answers


def _made_with(factory: Factory, site: Site, old: str, new: str) -> Workbook:
    """A template made while the dictionary said ``new`` where today's says ``old``."""
    path, events = dictionary_paths()
    text = path.read_text(encoding="utf-8")
    assert old in text
    use_dictionary(load_dictionary_text(text.replace(old, new),
                                        events_text=events.read_text(encoding="utf-8")))
    try:
        data, _ = build_template(factory.session, actor=site.worker, kind=Kind.QUESTIONNAIRE,
                                 centre_code="C04", timepoint=Timepoint("M6"),
                                 as_of=factory.today)
    finally:
        use_dictionary(None)
    return load(data)


def _filled(factory: Factory, site: Site, book: Workbook, **overrides: object) -> bytes:
    ws = entry_sheet(book)
    fill(ws, row_of(ws, site.due[0].code), as_cells(questionnaire_answers(
        factory.today - timedelta(days=3), Timepoint("M6"), **overrides)))
    return save(book)


def _import(factory: Factory, site: Site, data: bytes):  # type: ignore[no-untyped-def]
    return import_file(factory.session, actor=site.worker, data=data, filename="m6.xlsx",
                       on=factory.today)


def test_a_choice_code_that_changed_meaning_refuses_the_workbook(
        factory: Factory, site: Site) -> None:
    book = _made_with(factory, site, "2, Once a week", "2, Once a fortnight")
    data = _filled(factory, site, book, inj_freq="2")
    before = row_counts(factory.session)

    report = _import(factory, site, data)

    assert row_counts(factory.session) == before and report.written == 0
    [problem] = report.problems
    assert (problem.field, problem.rule) == ("inj_freq", "import.dictionary_changed")
    assert problem.column == entry_sheet(book).cell(
        2, columns(entry_sheet(book))["inj_freq"]).column_letter
    assert "2: 'Once a fortnight' → 'Once a week'" in problem.text
    assert "new template" in problem.text
    assert isinstance(problem.message, Message)
    assert problem.message.id == "workbook.other_version_choices"


def test_a_tick_column_that_changed_meaning_refuses_the_workbook(
        factory: Factory, site: Site) -> None:
    dictionary = get_dictionary()
    products = dictionary.fields["products"].choices
    book = _made_with(factory, site, f"5, {products['5']}", "5, Ketamine")
    report = _import(factory, site, _filled(factory, site, book))
    [problem] = report.problems
    assert (problem.field, problem.rule) == ("products", "import.dictionary_changed")
    assert f"now means '{products['5']}'" in problem.text


def test_another_version_with_the_same_codes_is_imported(
        factory: Factory, site: Site) -> None:
    book = _made_with(factory, site, "How often did the participant inject?",
                      "How often did the person inject?")
    report = _import(factory, site, _filled(factory, site, book))
    assert report.problems == [] and report.written == 1


def test_a_code_added_since_is_no_reason_to_refuse(
        factory: Factory, site: Site) -> None:
    book = _made_with(factory, site, " | 5, Several times a day", "")
    report = _import(factory, site, _filled(factory, site, book, inj_freq="4"))
    assert report.problems == [] and report.written == 1


def test_without_its_lists_an_older_workbook_cannot_be_checked(
        factory: Factory, site: Site) -> None:
    data, _ = build_template(factory.session, actor=site.worker, kind=Kind.QUESTIONNAIRE,
                             centre_code="C04", timepoint=Timepoint("M6"), as_of=factory.today)
    book = load(data)
    for row in book[META_SHEET].iter_rows():
        if row[0].value == "dictionary_version":
            row[1].value = "0123456789ab"
    del book[LISTS_SHEET]
    report = _import(factory, site, _filled(factory, site, book))
    [problem] = report.problems
    assert problem.rule == "import.dictionary_changed" and "'_lists'" in problem.text
