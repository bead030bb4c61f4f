"""Consistency checks declared in the dictionary (issue 15 B4): a Text Validation Min or
Max may name another field with REDCap's piping brackets (``[age]``), so "age at first
injection not above age" lives in ``data_dictionary.csv``, not in Python."""

from __future__ import annotations

import pytest

from forms import DictionaryError, load_dictionary
from forms.values import FieldBound, fixed_bound
from tests.forms.helpers import dd, line


def _form() -> object:
    return dd(
        line("age", "text", "Age (years)", form="enrolment", validation="integer",
             min="0", max="120"),
        line("first", "text", "Age at first injection", form="baseline",
             validation="integer", min="8", max="[age]"),
        line("visit", "text", "Visit date", form="baseline", validation="date_ymd"),
        line("seen", "text", "Seen again on", form="baseline", validation="date_ymd",
             min="[visit]"),
    )


def test_the_bound_is_read_as_a_field_reference() -> None:
    form = _form()
    first = form.fields["first"]  # type: ignore[attr-defined]
    assert first.bounds == (8, FieldBound("age")) and first.field_bounds == (FieldBound("age"),)
    assert fixed_bound("[age]") is None and fixed_bound("90") == "90"


def test_answer_above_the_named_answer_is_refused_with_both_named() -> None:
    form = _form()
    result = form.validate("baseline", {"first": "40"}, record={"age": 34})  # type: ignore[attr-defined]
    assert [(p.field, p.code) for p in result.problems] == [("first", "out_of_range")]
    message = result.problems[0].message
    assert "at most 34" in message and "'Age (years)'" in message and "'40'" in message
    ok = form.validate("baseline", {"first": "34"}, record={"age": 34})  # type: ignore[attr-defined]
    assert ok.ok and ok.clean["first"] == 34


def test_fixed_bound_still_applies_and_unknown_other_answer_checks_nothing() -> None:
    form = _form()
    low = form.validate("baseline", {"first": "5"}, record={"age": 34})  # type: ignore[attr-defined]
    assert [p.code for p in low.problems] == ["out_of_range"]
    assert "at least 8" in low.problems[0].message
    assert form.validate("baseline", {"first": "60"}).ok  # type: ignore[attr-defined]


def test_a_field_on_the_same_form_is_read_from_the_answers() -> None:
    form = _form()
    late = form.validate("baseline", {"visit": "2026-05-01", "seen": "2026-04-30"})  # type: ignore[attr-defined]
    assert [(p.field, p.code) for p in late.problems] == [("seen", "out_of_range")]
    assert "at least 2026-05-01" in late.problems[0].message
    assert form.validate("baseline", {"visit": "2026-05-01", "seen": "2026-05-01"}).ok  # type: ignore[attr-defined]


def test_a_bound_naming_an_unknown_field_is_a_dictionary_error() -> None:
    with pytest.raises(DictionaryError) as refused:
        dd(line("first", "text", validation="integer", max="[agee]"))
    assert any(p.code == "unknown_reference" and "[agee]" in p.message
               for p in refused.value.problems)


def test_the_study_dictionary_declares_the_age_check() -> None:
    study = load_dictionary("data_dictionary.csv")
    assert study.fields["age_first_injection"].field_bounds == (FieldBound("age"),)
    assert study.bounds_read_record
