"""Enrolment and AERLI session workbooks.

Rules cited: enrol.under_18 (hard), session.not_in_person and session.trained_staff
(soft: saved and flagged), import.already_enrolled-style twins, import.unknown_staff.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from cohort.excel import rowwork
from cohort.excel.importer import ImportStopped, import_file
from cohort.excel.layout import Kind
from cohort.excel.templates import build_template
from cohort.models import AerliSession, Participant
from tests.cohort.helpers import row_counts
from tests.excel.conftest import Site
from tests.excel.helpers import columns, entry_sheet, fill, load, save
from tests.factories import Factory


def _book(factory: Factory, site: Site, kind: Kind):  # type: ignore[no-untyped-def]
    data, _ = build_template(factory.session, actor=site.worker, kind=kind,
                             centre_code="C04", as_of=factory.today)
    return load(data)


def _person(factory: Factory, **overrides: object) -> dict[str, object]:
    day = factory.today - timedelta(days=2)
    values: dict[str, object] = {
        "age": "29", "injected_past_month": "1 = Yes", "wish_neck_groin": "No",
        "consent": "yes", "consent_date": day.strftime("%d/%m/%Y"), "year_of_birth": 1997,
        "gender": "2 = Man", "reached_via": "In person", "study_group": "1",
        "inclusion_date": day.isoformat()}
    values.update(overrides)
    return values


def _import(factory: Factory, site: Site, data: bytes, **kw: object):  # type: ignore[no-untyped-def]
    return import_file(factory.session, actor=site.worker, data=data, filename="book.xlsx",
                       on=factory.today, **kw)  # type: ignore[arg-type]


def test_enrolment_rows_create_participants_and_report_their_codes(
        factory: Factory, site: Site) -> None:
    book = _book(factory, site, Kind.ENROLMENT)
    ws = entry_sheet(book)
    fill(ws, 3, _person(factory))
    fill(ws, 5, _person(factory, age=41, study_group="2 = Comparison (questionnaires only)",
                        year_of_birth="1985 "))
    data = save(book)
    report = _import(factory, site, data)
    assert report.problems == [] and report.written == 2
    codes = [code for _, code in report.created]
    people = factory.session.exec(select(Participant).where(
        Participant.code.in_(codes))).all()  # type: ignore[attr-defined]
    assert sorted(p.age_at_inclusion for p in people) == [29, 41]
    assert {p.centre_id for p in people} == {site.centre.id}
    assert _import(factory, site, data).already_imported is not None

    ws["A1"].value = "Age"  # another file holding the same people
    again = _import(factory, site, save(book))
    assert (again.problems, again.written, again.unchanged) == ([], 0, 2)


def test_rows_added_to_an_imported_enrolment_workbook_are_the_only_ones_enrolled(
        factory: Factory, site: Site) -> None:
    book = _book(factory, site, Kind.ENROLMENT)
    ws = entry_sheet(book)
    for row, age in ((3, 25), (4, 33), (5, 47)):
        fill(ws, row, _person(factory, age=age, year_of_birth=2024 - age))
    first = _import(factory, site, save(book))
    assert (first.problems, first.written) == ([], 3)
    before = row_counts(factory.session)

    fill(ws, 6, _person(factory, age=52, year_of_birth=1972))
    fill(ws, 8, _person(factory, age=25, year_of_birth=1999, gender="1 = Woman"))
    again = _import(factory, site, save(book))
    assert (again.problems, again.written, again.unchanged) == ([], 2, 3)
    people = factory.session.exec(select(Participant).where(
        Participant.centre_id == site.centre.id)).all()
    added = [p for p in people if p.code in {code for _, code in again.created}]
    assert sorted(p.age_at_inclusion for p in added) == [25, 52]
    after = row_counts(factory.session)
    assert after["participant"] == before["participant"] + 2
    assert _import(factory, site, save(book)).written == 0  # and once more: nothing new


def test_a_second_identical_new_row_is_refused_as_a_possible_twin(
        factory: Factory, site: Site) -> None:
    book = _book(factory, site, Kind.ENROLMENT)
    ws = entry_sheet(book)
    fill(ws, 3, _person(factory))
    fill(ws, 4, _person(factory))
    before = row_counts(factory.session)
    report = _import(factory, site, save(book))
    assert row_counts(factory.session) == before
    [problem] = report.problems
    assert problem.row == 4 and "already enrolled" in problem.text


def test_an_ineligible_person_stops_the_whole_enrolment_workbook(
        factory: Factory, site: Site) -> None:
    book = _book(factory, site, Kind.ENROLMENT)
    ws = entry_sheet(book)
    fill(ws, 3, _person(factory))
    fill(ws, 4, _person(factory, age=16, year_of_birth=2010))
    before = row_counts(factory.session)
    report = _import(factory, site, save(book))
    assert row_counts(factory.session) == before
    assert report.created == []
    [problem] = report.problems
    assert (problem.row, problem.field, problem.rule) == (4, "age", "enrol.under_18")
    assert problem.column == ws.cell(2, columns(ws)["age"]).column_letter


def test_a_failure_after_two_enrolments_leaves_the_database_unchanged(
        factory: Factory, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    book = _book(factory, site, Kind.ENROLMENT)
    ws = entry_sheet(book)
    for row in range(3, 8):
        fill(ws, row, _person(factory, age=20 + row))
    real = rowwork.enrol
    calls = {"n": 0}

    def enrol_then_fail(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("connection lost")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rowwork, "enrol", enrol_then_fail)
    before = row_counts(factory.session)
    with pytest.raises(ImportStopped):
        _import(factory, site, save(book))
    assert calls["n"] == 3
    assert row_counts(factory.session) == before


def test_session_rows_are_saved_flagged_and_not_duplicated(
        factory: Factory, site: Site) -> None:
    person = site.due[0]
    book = _book(factory, site, Kind.SESSION)
    ws = entry_sheet(book)
    day = (factory.today - timedelta(days=4)).strftime("%d/%m/%Y")
    fill(ws, 3, {"participant_code": person.code.lower() + " ", "session_date": day,
                 "setting": "Squat", "modality": "1 = In person", "injection_site": "Arm",
                 "risks___2": "x", "topics___1": 1, "topics___5": "yes",
                 "workers_present": f"{site.staff.id}, {site.colleague.id}"})
    fill(ws, 4, {"participant_code": person.code, "session_date": day, "setting": "6",
                 "modality": "Phone", "workers_present": str(site.staff.id)})
    data = save(book)
    report = _import(factory, site, data)
    assert report.problems == [] and report.written == 2
    rules = sorted(p.rule for p in report.deviations)
    assert "session.not_in_person" in rules and "session.trained_staff" in rules
    stored = factory.session.exec(select(AerliSession).where(
        AerliSession.participant_id == person.id)).all()
    assert len(stored) == 2
    first = next(s for s in stored if s.topics)
    assert first.topics == ["1", "5"] and first.risks == ["2"]

    ws["A1"].value = "Code"  # edited copy: the same two sessions again
    again = _import(factory, site, save(book))
    assert (again.written, again.unchanged, again.problems) == (0, 2, [])


def test_unknown_workers_are_named(factory: Factory, site: Site) -> None:
    book = _book(factory, site, Kind.SESSION)
    ws = entry_sheet(book)
    fill(ws, 3, {"participant_code": site.due[0].code, "session_date": "2026-11-20",
                 "setting": "1", "modality": "1", "workers_present": "nobody.here"})
    report = _import(factory, site, save(book))
    [problem] = report.problems
    assert problem.rule == "import.unknown_staff" and "nobody.here" in problem.text
    assert problem.column == ws.cell(2, columns(ws)["workers_present"]).column_letter
