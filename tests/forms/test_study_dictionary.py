"""The study's own dictionary: the names other packages use, the events, the language."""

from __future__ import annotations

import re

import pytest

from forms import DataDictionary, default_dictionary
from forms.constants import NO_IDENTIFIERS_NOTE
from forms.events import ONGOING_EVENT


@pytest.fixture(scope="module")
def study() -> DataDictionary:
    return default_dictionary()


def test_loads_without_warnings_and_is_cached(study: DataDictionary) -> None:
    assert study.warnings == []
    assert default_dictionary() is study


def test_forms_and_events(study: DataDictionary) -> None:
    assert list(study.forms) == ["enrolment", "baseline", "questionnaire", "aerli_session",
                                 "follow_up_status"]
    assert study.events.events == ["m0_arm_1", "m6_arm_1", "m12_arm_1", ONGOING_EVENT]
    assert [f.name for f in study.forms_for_event("m0_arm_1")] == [
        "enrolment", "baseline", "questionnaire"]
    for event in ("m6_arm_1", "m12_arm_1"):
        assert [f.name for f in study.forms_for_event(event)] == ["questionnaire"]
    # Every form is designated for an event, or REDCap could not fill it; the session log
    # and follow-up status are filled between visits, never inside a questionnaire.
    assert [f.name for f in study.forms_for_event(ONGOING_EVENT)] == [
        "aerli_session", "follow_up_status"]
    assert study.unmapped_forms() == []


CONTRACT = {
    "enrolment": "age injected_past_month wish_neck_groin consent consent_date year_of_birth "
                 "gender reached_via study_group inclusion_date",
    "baseline": "housing income_source education years_injecting age_first_injection "
                "prison_ever",
    "questionnaire": "visit_date inj_freq products products_other inj_sites share_syringe "
                     "share_cooker share_filter share_water reuse_own_syringe water_source "
                     "acidifier swab_before swab_after rotate_sites inject_outdoors_hurry "
                     "abscess cellulitis vein_damage missed_hit overdose hcv_test_ever "
                     "hcv_last_result hiv_test_ever hiv_last_result oat_current oat_type "
                     "hr_services questionnaire_note any_risk_practice any_complication "
                     "share_any_equipment",
    "aerli_session": "session_date setting modality product injection_site risks topics "
                     "session_note",
    "follow_up_status": "fu_status fu_status_date fu_reason",
}


@pytest.mark.parametrize("form", list(CONTRACT))
def test_field_names_are_the_contract(study: DataDictionary, form: str) -> None:
    assert [f.name for f in study.form(form).fields] == CONTRACT[form].split()


def test_types_and_rules_of_key_fields(study: DataDictionary) -> None:
    age = study.field("age")
    assert (age.kind, age.min, age.max, age.required) == ("integer", "0", "120", True)
    assert study.field("consent_date").branching == "[consent] = '1'"
    assert study.field("products_other").branching == "[products(8)] = '1'"
    assert study.field("product").choices == study.field("products").choices
    assert study.field("study_group").choices == {
        "1": "Intervention (AERLI sessions)", "2": "Comparison (questionnaires only)"}
    assert {f.name for f in study.fields.values() if f.is_calc} == {
        "any_risk_practice", "any_complication", "share_any_equipment"}
    assert "composite" in study.field("any_risk_practice").note
    assert study.identifier_fields() == set()


def test_every_free_text_field_warns_against_identifying_details(study: DataDictionary) -> None:
    notes = [f for f in study.fields.values() if f.field_type == "notes"]
    assert {f.name for f in notes} == {"questionnaire_note", "session_note", "fu_reason"}
    assert all(f.note == NO_IDENTIFIERS_NOTE for f in notes)


def test_language_is_person_first(study: DataDictionary) -> None:
    banned = re.compile(r"\b(addicts?|addiction|abusers?|abuse|clean|dirty|junkies?)\b", re.I)
    for f in study.fields.values():
        text = " ".join([f.label, f.note, f.section_header, *f.choices.values()])
        assert not banned.search(text), (f.name, text)


def test_the_composite_outcomes(study: DataDictionary) -> None:
    calcs = study.compute_calcs({"share_syringe": "0", "share_cooker": "0", "share_filter": "1",
                                 "share_water": "0", "abscess": "0", "cellulitis": "0",
                                 "vein_damage": "0", "missed_hit": "0"})
    assert calcs == {"any_risk_practice": 1, "any_complication": 0, "share_any_equipment": 1}


def test_a_full_questionnaire_is_valid(study: DataDictionary) -> None:
    yes_no = "share_syringe share_cooker share_filter share_water reuse_own_syringe " \
             "swab_before swab_after rotate_sites inject_outdoors_hurry abscess cellulitis " \
             "vein_damage missed_hit overdose".split()
    answers: dict[str, object] = dict.fromkeys(yes_no, "0")
    answers |= {"visit_date": "2025-03-01", "inj_freq": "3", "products": ["1", "8"],
                "products_other": "Pregabalin", "hcv_test_ever": "1", "hcv_last_result": "1",
                "hr_services": ["1", "4"]}
    result = study.validate("questionnaire", answers, event="m6_arm_1")
    assert result.ok, result.problems
    assert result.clean["any_risk_practice"] == 0
    missing = study.validate("questionnaire", {"visit_date": "2025-03-01"}, event="m6_arm_1")
    assert {p.field for p in missing.problems} == {"inj_freq", *yes_no}


def test_a_form_outside_its_event_is_flagged(study: DataDictionary) -> None:
    result = study.validate("baseline", {"housing": "1"}, event="m6_arm_1")
    assert [p.code for p in result.problems] == ["form_not_in_event"]
