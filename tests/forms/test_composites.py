"""The composite outcomes (calc fields any_risk_practice, any_complication,
share_any_equipment) follow the standard epidemiological definition: 1 if any item is yes,
0 only when every item is answered no, blank otherwise -- never "no" for a blank form."""

from __future__ import annotations

import math

import pytest

from forms import DataDictionary, default_dictionary

RISK = ("share_syringe", "share_cooker", "share_filter", "share_water")


@pytest.fixture(scope="module")
def study() -> DataDictionary:
    return default_dictionary()


def test_all_blank_gives_blank(study: DataDictionary) -> None:
    assert study.compute_calcs({}) == {}


def test_one_yes_with_the_others_blank_gives_1(study: DataDictionary) -> None:
    calcs = study.compute_calcs({"share_water": "1"})
    assert calcs == {"any_risk_practice": 1, "share_any_equipment": 1}


def test_all_no_gives_0(study: DataDictionary) -> None:
    answers = dict.fromkeys(RISK, "0") | dict.fromkeys(
        ("abscess", "cellulitis", "vein_damage", "missed_hit"), "0")
    assert study.compute_calcs(answers) == {
        "any_risk_practice": 0, "any_complication": 0, "share_any_equipment": 0}


def test_some_no_some_blank_gives_blank(study: DataDictionary) -> None:
    calcs = study.compute_calcs({"share_syringe": "0", "share_cooker": "0"})
    assert "any_risk_practice" not in calcs and "share_any_equipment" not in calcs


def test_a_blank_composite_is_not_stored_as_0(study: DataDictionary) -> None:
    result = study.validate("questionnaire", {"visit_date": "2025-03-01"}, event="m6_arm_1")
    assert "any_risk_practice" not in result.clean
    assert "any_complication" not in result.clean


def test_many_rows_at_once_treat_nan_as_blank(study: DataDictionary) -> None:
    rows = [{}, {"share_syringe": 1.0, "share_cooker": math.nan},
            dict.fromkeys(RISK, 0), {"share_syringe": 0, "share_cooker": None}]
    assert study.compute_calcs_rows(rows) == [
        {}, {"any_risk_practice": 1}, {"any_risk_practice": 0, "share_any_equipment": 0}, {}]
    single = [study.compute_calcs({k: str(int(v)) for k, v in r.items()
                                   if isinstance(v, int | float) and v == v}) for r in rows]
    assert study.compute_calcs_rows(rows) == single
