"""Workbooks honour the action tags that change entry, piping and missing-data codes.

A REDCap project's dictionary brings them (REDCap's action-tag list, ``Form::getActionTags``;
Missing Data Codes in Project Setup). In an entry workbook: ``@HIDDEN`` fields have no
column, ``@READONLY`` columns are locked, ``@DEFAULT`` pre-fills each participant's row (and
a row holding only its defaults is still an empty row), ``@HIDECHOICE`` narrows the list,
``@CHARLIMIT`` limits the cell; a question piping another visit's answer carries, on each
participant's cell, a comment with the question as it reads for them; a missing-data code
may be picked or typed instead of an answer. The import checks what the tags say through
the dictionary, like every other way in.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import select

from cohort.dictionary import use_dictionary
from cohort.excel.importer import import_file
from cohort.excel.layout import LISTS_SHEET, NAME_ROW, Kind
from cohort.excel.templates import build_template
from cohort.models import Questionnaire
from cohort.vocab import Timepoint
from forms.loader import dictionary_paths, load_dictionary_text
from tests.excel.conftest import Site
from tests.excel.helpers import as_cells, columns, entry_sheet, fill, load, row_of, save
from tests.factories import Factory, questionnaire_answers

CHANGES = {
    "How often did the participant inject?,":
        "How often did the participant inject? (at M0: [m0_arm_1][inj_freq]),",
    '"1, Sterile water ampoule | 2, Bottled water | 3, Tap water | 4, Other",,,,,,,,,,,,':
        '"1, Sterile water ampoule | 2, Bottled water | 3, Tap water | 4, Other",,,,,,,,,,,,'
        "@HIDECHOICE='4' @DEFAULT='1'",
    "overdose,questionnaire,,yesno,Had an overdose,,,,,,,,y,,,,,":
        "overdose,questionnaire,,yesno,Had an overdose,,,,,,,,,,,,,@HIDDEN",
    "hepatitis C (HCV)?,,,,,,,,,,,,,": "hepatitis C (HCV)?,,,,,,,,,,,,,@READONLY",
    "identify someone.\",,,,,,,,,,,": "identify someone.\",,,,,,,,,,,@CHARLIMIT=10",
}


@pytest.fixture
def tagged() -> Iterator[None]:
    path, events = dictionary_paths()
    text = path.read_text(encoding="utf-8")
    for old, new in CHANGES.items():
        assert old in text, old
        text = text.replace(old, new)
    use_dictionary(load_dictionary_text(text, events_text=events.read_text(encoding="utf-8"),
                                        missing_text="UNK, Unknown\nNASK, Not asked"))
    try:
        yield
    finally:
        use_dictionary(None)


def _template(factory: Factory, site: Site) -> bytes:
    for person in site.due:
        factory.questionnaire(site.worker, person, inj_freq="4")
    data, count = build_template(factory.session, actor=site.worker, kind=Kind.QUESTIONNAIRE,
                                 centre_code="C04", timepoint=Timepoint("M6"),
                                 as_of=factory.today)
    assert count >= len(site.due)
    return data


def test_the_template_offers_fields_as_their_tags_say(factory: Factory, site: Site,
                                                      tagged: None) -> None:
    book = load(_template(factory, site))
    ws = entry_sheet(book)
    where = columns(ws)
    assert "overdose" not in where  # @HIDDEN
    row = row_of(ws, site.due[0].code)
    # @DEFAULT pre-fills each participant's row; @READONLY locks its column.
    assert ws.cell(row, where["water_source"]).value == "1"
    assert ws.cell(row, where["hcv_test_ever"]).protection.locked
    assert not ws.cell(row, where["inj_freq"]).protection.locked
    # @HIDECHOICE: the list offers 1-3 (and the missing-data codes), not 4.
    lists = book[LISTS_SHEET]
    entries = [[c.value for c in col if c.value] for col in lists.iter_cols()]
    water = next(e for e in entries if e and e[-1] == "water_source")
    assert water[:-1] == ["1 = Sterile water ampoule", "2 = Bottled water", "3 = Tap water",
                          "UNK = Unknown", "NASK = Not asked"]
    # @CHARLIMIT as a text-length check on the cell.
    letter = ws.cell(NAME_ROW, where["questionnaire_note"]).column_letter
    limits = [dv for dv in ws.data_validations.dataValidation if dv.type == "textLength"]
    assert [(dv.formula1, str(dv.sqref).split(":")[0]) for dv in limits] == [
        ("10", f"{letter}3")]
    # Piping: the header shows ______ for another visit's answer; each participant's cell
    # tells the question as it reads for them.
    label = ws.cell(1, where["inj_freq"]).value
    assert label == "How often did the participant inject? (at M0: ______)"
    comment = ws.cell(row, where["inj_freq"]).comment
    assert comment is not None
    assert comment.text == (f"For {site.due[0].code}: How often did the participant inject? "
                            "(at M0: Once a day)")


def test_the_import_checks_tags_and_takes_missing_codes(factory: Factory, site: Site,
                                                        tagged: None) -> None:
    book = load(_template(factory, site))
    ws = entry_sheet(book)
    first, second = (row_of(ws, p.code) for p in site.due[:2])
    visit = factory.today - timedelta(days=3)
    answers = questionnaire_answers(visit, Timepoint("M6"))
    answers.pop("overdose")
    fill(ws, first, as_cells({**answers, "questionnaire_note": "far too long a note",
                              "share_syringe": "UNK"}))
    report = import_file(factory.session, actor=site.worker, data=save(book),
                         filename="m6.xlsx", on=factory.today, dry_run=True)
    assert [(p.field, p.rule) for p in report.problems] == [
        ("questionnaire_note", "dictionary.too_long")]
    assert "at most 10 characters" in report.problems[0].text

    fill(ws, first, {"questionnaire_note": "short", "share_syringe": "UNK = Unknown",
                     "products___1": "NASK", "products___5": None})
    report = import_file(factory.session, actor=site.worker, data=save(book),
                         filename="m6.xlsx", on=factory.today)
    assert report.ok, report.problems
    # Only the filled row is saved: the second one holds just its defaults (water_source).
    assert ws.cell(second, columns(ws)["water_source"]).value == "1"
    assert report.written == 1 and report.blank_rows >= 1
    saved = factory.session.exec(select(Questionnaire).where(
        Questionnaire.participant_id == site.due[0].id,
        Questionnaire.timepoint == Timepoint("M6"))).one()
    assert saved.answers["share_syringe"] == "UNK"
    assert saved.answers["products"] == "NASK"
    assert saved.answers["water_source"] == "1"
