"""Moving a REDCap project over: fresh exports again, and the forms filled between visits.

Rules cited: scope.other_centre, date.in_future (status and session dates),
session.not_in_person (soft: saved and flagged), import.no_staff, redcap.repeating_row,
import.status_out_of_order.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from openpyxl.utils import get_column_letter
from sqlmodel import select

from cohort.dictionary import get_dictionary
from cohort.excel.importer import import_file
from cohort.models import (
    AerliSession,
    ExternalRecord,
    Participant,
    Questionnaire,
    StatusChange,
)
from cohort.vocab import Status, Timepoint
from tests.cohort.helpers import row_counts
from tests.excel.conftest import Site
from tests.factories import Factory, questionnaire_answers

INCLUSION_DAYS_AGO = 380


def export(records: list[dict[str, Any]], *, workers: bool = False) -> bytes:
    """A REDCap flat export of the whole project (optionally with ``workers_present``)."""
    dictionary = get_dictionary()
    header = ["record_id", "redcap_event_name", "redcap_repeat_instrument",
              "redcap_repeat_instance", "redcap_data_access_group"]
    for form in dictionary.forms.values():
        for f in form.fields:
            header.extend(f.export_columns())
        header.append(f"{form.name}_complete")
    if workers:
        header.append("workers_present")
    out = io.StringIO()
    writer = csv.DictWriter(out, header, restval="")
    writer.writeheader()
    for record in records:
        writer.writerow(dictionary.expand_checkboxes(record))
    return out.getvalue().encode()


def _inclusion(factory: Factory) -> date:
    return factory.today - timedelta(days=INCLUSION_DAYS_AGO)


def _m0(factory: Factory, record: str, age: int = 31) -> dict[str, Any]:
    day = _inclusion(factory)
    return {"record_id": record, "redcap_event_name": "m0_arm_1",
            "redcap_data_access_group": "c04",
            **questionnaire_answers(day, Timepoint("M0")),
            "age": str(age), "injected_past_month": "1", "wish_neck_groin": "0",
            "consent": "1", "consent_date": day.isoformat(), "gender": "1",
            "reached_via": "1", "study_group": "1", "inclusion_date": day.isoformat()}


def _visit(factory: Factory, record: str, timepoint: Timepoint) -> dict[str, Any]:
    days = {Timepoint("M6"): 185, Timepoint("M12"): 368}[timepoint]
    event = {Timepoint("M6"): "m6_arm_1", Timepoint("M12"): "m12_arm_1"}[timepoint]
    return {"record_id": record, "redcap_event_name": event,
            **questionnaire_answers(_inclusion(factory) + timedelta(days=days), timepoint)}


def _status(factory: Factory, record: str, instance: int, code: str, days: int,
            reason: str = "") -> dict[str, Any]:
    return {"record_id": record, "redcap_event_name": "ongoing_arm_1",
            "redcap_repeat_instrument": "follow_up_status", "redcap_repeat_instance": instance,
            "fu_status": code, "fu_status_date": (_inclusion(factory) + timedelta(
                days=days)).isoformat(), "fu_reason": reason}


def _session(factory: Factory, record: str, instance: int, days: int,
             workers: str | None = None, modality: str = "1") -> dict[str, Any]:
    row = {"record_id": record, "redcap_event_name": "ongoing_arm_1",
           "redcap_repeat_instrument": "aerli_session", "redcap_repeat_instance": instance,
           "session_date": (_inclusion(factory) + timedelta(days=days)).isoformat(),
           "setting": "1", "modality": modality, "injection_site": "1", "risks": ["2"],
           "topics": ["1", "5"]}
    return row if workers is None else row | {"workers_present": workers}


def _import(factory: Factory, site: Site, data: bytes):  # type: ignore[no-untyped-def]
    return import_file(factory.session, actor=site.worker, data=data, filename="export.csv",
                       on=factory.today)


def _person(factory: Factory, code: str) -> Participant:
    return factory.session.exec(select(Participant).where(Participant.code == code)).one()


def test_a_fresh_export_of_the_same_project_imports_again(
        factory: Factory, site: Site) -> None:
    first = export([_m0(factory, "101"), _visit(factory, "101", Timepoint("M6"))])
    report = _import(factory, site, first)
    assert report.problems == [] and report.written == 3
    [(label, code)] = report.created
    assert label == "record 101"
    link = factory.session.exec(select(ExternalRecord)).one()
    assert (link.source, link.external_id, link.participant_id) == \
        ("redcap", "101", _person(factory, code).id)

    later = export([_m0(factory, "101"), _visit(factory, "101", Timepoint("M6")),
                    _visit(factory, "101", Timepoint("M12")), _m0(factory, "102", age=45)])
    again = _import(factory, site, later)

    assert again.problems == [], again.problems
    assert (again.written, again.unchanged) == (3, 2)  # 101's M12; 102 enrolled with its M0
    assert [label for label, _ in again.created] == ["record 102"]
    stored = factory.session.exec(select(Questionnaire.timepoint).where(
        Questionnaire.participant_id == _person(factory, code).id)).all()
    assert sorted(tp.value for tp in stored) == ["M0", "M12", "M6"]
    assert {r.external_id for r in factory.session.exec(select(ExternalRecord))} == \
        {"101", "102"}
    before = row_counts(factory.session)
    third = _import(factory, site, later + b"\n")  # the same export, saved once more
    assert (third.problems, third.written, third.unchanged) == ([], 0, 4)  # one per row
    assert row_counts(factory.session) == before


def _forget_links(factory: Factory) -> None:
    """As a project moved over before migration 0003 (no ``external_record`` rows)."""
    for link in factory.session.exec(select(ExternalRecord)).all():
        factory.session.delete(link)
    factory.session.commit()


def test_a_record_moved_before_links_were_kept_is_linked_not_refused(
        factory: Factory, site: Site) -> None:
    first = export([_m0(factory, "101"), _visit(factory, "101", Timepoint("M6"))])
    [(_, code)] = _import(factory, site, first).created
    _forget_links(factory)
    before = row_counts(factory.session)

    later = export([_m0(factory, "101"), _visit(factory, "101", Timepoint("M6")),
                    _visit(factory, "101", Timepoint("M12"))])
    again = _import(factory, site, later)

    assert again.problems == [], again.problems
    assert (again.created, again.written, again.unchanged) == ([], 1, 2)  # M12; M0, M6
    link = factory.session.exec(select(ExternalRecord)).one()
    assert (link.source, link.external_id, link.participant_id) == \
        ("redcap", "101", _person(factory, code).id)
    assert row_counts(factory.session)["participant"] == before["participant"]
    third = _import(factory, site, later + b"\n")  # now known by its link
    assert (third.problems, third.written, third.unchanged) == ([], 0, 3)


def test_a_record_matching_a_linked_or_several_participants_is_still_refused(
        factory: Factory, site: Site) -> None:
    first = _import(factory, site, export([_m0(factory, "101")]))
    assert first.problems == [], first.problems
    [(_, code)] = first.created
    before = row_counts(factory.session)
    linked = _import(factory, site, export([_m0(factory, "102")]))  # 101 has its link
    [problem] = linked.problems
    assert "answer for answer" in problem.text
    _forget_links(factory)
    person = _person(factory, code)
    twin = factory.participant(site.worker, inclusion_date=person.inclusion_date,
                               age=person.age_at_inclusion, year_of_birth=person.year_of_birth,
                               consent_date=person.consent_date, gender=person.gender,
                               group=person.group, reached_via=person.reached_via,
                               injected_past_month=person.injected_past_month,
                               wish_neck_groin=person.wish_neck_groin)
    assert twin.id != person.id
    several = _import(factory, site, export([_m0(factory, "103")]))  # which of the two?
    [problem] = several.problems
    assert "answer for answer" in problem.text
    assert factory.session.exec(select(ExternalRecord)).all() == []
    assert row_counts(factory.session)["participant"] == before["participant"] + 1


def test_a_refused_export_stores_no_link(factory: Factory, site: Site) -> None:
    before = row_counts(factory.session)
    report = _import(factory, site, export([
        _m0(factory, "101"), _visit(factory, "101", Timepoint("M6")) | {"inj_freq": "9"}]))
    assert report.problems and report.created == []
    assert row_counts(factory.session) == before


def test_a_record_linked_to_another_centre_is_not_imported_in_its_place(
        factory: Factory, site: Site) -> None:
    other = factory.centre("C09")
    elsewhere = factory.participant(factory.worker(other))
    factory.session.add(ExternalRecord(source="redcap", external_id="101",
                                       participant_id=elsewhere.id))
    factory.session.commit()
    before = row_counts(factory.session)
    report = _import(factory, site, export([_m0(factory, "101"),
                                            _visit(factory, "101", Timepoint("M6"))]))
    assert row_counts(factory.session) == before
    [problem] = report.problems
    assert (problem.row, problem.rule) == (2, "scope.other_centre")
    assert "Record 101" in problem.text and elsewhere.code not in problem.text


def test_follow_up_status_rows_become_the_status_history(
        factory: Factory, site: Site) -> None:
    rows = [_m0(factory, "101"),
            _status(factory, "101", 3, "5", 300, "came back to the van"),
            _status(factory, "101", 1, "1", 0),
            _status(factory, "101", 2, "4", 200)]
    report = _import(factory, site, export(rows))
    assert report.problems == [], report.problems
    assert (report.written, report.unchanged) == (4, 1)  # enrolment, M0, lost, returned
    person = _person(factory, report.created[0][1])
    history = factory.session.exec(select(StatusChange).where(
        StatusChange.participant_id == person.id).order_by(StatusChange.id)).all()
    assert [(h.status, (h.effective_date - person.inclusion_date).days) for h in history] == [
        (Status.ACTIVE, 0), (Status.LOST_TO_FOLLOW_UP, 200), (Status.RETURNED, 300)]
    assert history[-1].reason == "came back to the van"
    assert person.status is Status.RETURNED

    before = row_counts(factory.session)
    again = _import(factory, site, export(rows) + b"\n")
    assert (again.problems, again.written, again.unchanged) == ([], 0, 4)
    assert row_counts(factory.session) == before


def test_a_status_the_rules_refuse_is_shown_at_its_cells(
        factory: Factory, site: Site) -> None:
    person = site.due[0]
    before = row_counts(factory.session)
    report = _import(factory, site, export([
        _status(factory, person.code, 1, "3", 1) | {
            "fu_status_date": (person.inclusion_date + timedelta(days=20)).isoformat()},
        _status(factory, person.code, 2, "5", 1) | {
            "fu_status_date": (person.inclusion_date + timedelta(days=40)).isoformat()},
        _status(factory, site.due[1].code, 1, "4", 1) | {
            "fu_status_date": (factory.today + timedelta(days=3)).isoformat()},
        _status(factory, site.due[2].code, 1, "", 1)]))
    assert row_counts(factory.session) == before
    found = {(p.row, p.field, p.rule) for p in report.problems}
    assert found == {(3, "fu_status", "import.refused"),
                     (4, "fu_status_date", "date.in_future"),
                     (5, "fu_status", "dictionary.required")}
    refused = next(p for p in report.problems if p.row == 3)
    assert "deceased" in refused.text and "cannot become 'returned'" in refused.text
    header = export([]).decode().splitlines()[0].split(",")
    assert refused.column == get_column_letter(header.index("fu_status") + 1)


def test_a_status_dated_before_a_later_change_is_refused(
        factory: Factory, site: Site) -> None:
    person = site.due[0]
    factory.session.add(StatusChange(
        participant_id=person.id, status=Status.WITHDRAWN, recorded_by=site.staff.id,
        effective_date=person.inclusion_date + timedelta(days=100)))
    factory.session.commit()
    report = _import(factory, site, export([_status(factory, person.code, 1, "4", 1) | {
        "fu_status_date": (person.inclusion_date + timedelta(days=50)).isoformat()}]))
    [problem] = report.problems
    assert (problem.field, problem.rule) == ("fu_status_date", "import.status_out_of_order")
    assert "withdrawn on" in problem.text


def test_session_rows_are_logged_with_the_same_rules_and_not_twice(
        factory: Factory, site: Site) -> None:
    workers = f"{site.staff.id}, {site.colleague.id}"
    rows = [_m0(factory, "101"),
            _session(factory, "101", 1, 30, workers),
            _session(factory, "101", 2, 60, str(site.staff.id), modality="3")]
    report = _import(factory, site, export(rows, workers=True))
    assert report.problems == [], report.problems
    assert report.written == 4  # enrolment, M0, two sessions
    assert sorted(p.rule for p in report.deviations) == [
        "session.not_in_person", "session.trained_staff"]
    assert {p.row for p in report.deviations} == {4}
    person = _person(factory, report.created[0][1])
    stored = factory.session.exec(select(AerliSession).where(
        AerliSession.participant_id == person.id)).all()
    assert sorted((s.session_date - person.inclusion_date).days for s in stored) == [30, 60]
    assert {tuple(s.topics) for s in stored} == {("1", "5")}
    assert [s.counts_for_protocol for s in sorted(stored, key=lambda s: s.session_date)] == \
        [True, False]

    before = row_counts(factory.session)
    again = _import(factory, site, export(rows, workers=True) + b"\n")
    assert (again.problems, again.written, again.unchanged) == ([], 0, 3)
    assert row_counts(factory.session) == before


def test_session_rows_without_their_workers_say_what_to_add(
        factory: Factory, site: Site) -> None:
    person = site.due[0]
    before = row_counts(factory.session)
    report = _import(factory, site, export([
        _session(factory, person.code, 1, 30) | {"setting": ""}]))
    assert row_counts(factory.session) == before
    found = sorted((p.field, p.rule) for p in report.problems)
    assert found == [("setting", "dictionary.required"), ("workers_present", "import.no_staff")]
    message = next(p.text for p in report.problems if p.rule == "import.no_staff")
    assert "add a column 'workers_present'" in message


def test_a_repeating_instrument_that_cannot_be_mapped_is_named_for_what_it_is(
        factory: Factory, site: Site) -> None:
    person = site.due[0]
    report = _import(factory, site, export([
        _visit(factory, person.code, Timepoint("M6")) | {
            "redcap_repeat_instrument": "questionnaire", "redcap_repeat_instance": 1},
        {"record_id": person.code, "redcap_event_name": "ongoing_arm_1",
         "redcap_repeat_instrument": "photo_log", "redcap_repeat_instance": 1}]))
    messages = {p.row: p.text for p in report.problems if p.rule == "redcap.repeating_row"}
    assert set(messages) == {2, 3}
    assert "(questionnaire)" in messages[2] and "AERLI" not in messages[2].split(":")[0]
    assert "session workbook" not in messages[2]
    assert "'photo_log' is not a form" in messages[3]
