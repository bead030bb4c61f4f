"""Validating one answer set: types, ranges, choices, required and hidden fields, calcs."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from forms import DataDictionary
from tests.forms.helpers import dd, line

TODAY = date(2025, 6, 30)


@pytest.fixture(scope="module")
def form() -> DataDictionary:
    return dd(
        line("age", "text", "Age", validation="integer", min="18", max="120", required="y"),
        line("weight", "text", "Weight", validation="number", min="30", max="250"),
        line("height", "text", "Height", validation="number_1dp_comma_decimal", min="0,5",
             max="2,5"),
        line("visit", "text", "Visit date", validation="date_ymd", min="2020-01-01",
             max="today"),
        line("dmy", "text", "Day", validation="date_dmy"),
        line("mdy", "text", "US day", validation="date_mdy"),
        line("stamp", "text", "When", validation="datetime_ymd"),
        line("stamp_s", "text", "When exactly", validation="datetime_seconds_dmy"),
        line("clock", "text", "Time", validation="time"),
        line("lap", "text", "Lap", validation="time_mm_ss"),
        line("email", "text", "E-mail", validation="email"),
        line("postcode", "text", "Postcode", validation="postalcode_french"),
        line("comment", "notes", "Comment"),
        line("free", "text", "Free text"),
        line("colour", "dropdown", "Colour", choices="1, Red | 2, Blue | 9..9, Odd"),
        line("sex", "radio", "Sex", choices="1, Woman | 2, Man", required="y"),
        line("smoker", "yesno", "Smokes", required="y"),
        line("truth", "truefalse", "True?"),
        line("products", "checkbox", "Products", choices="1, Heroin | 2, Cocaine | 8, Other"),
        line("products_other", "text", "Other product", branching="[products(8)] = '1'",
             required="y"),
        line("pregnant", "yesno", "Pregnant", branching="[sex] = '1'"),
        line("mood", "slider", "Mood", choices="Sad | Happy"),
        line("intro", "descriptive", "Read this to the participant"),
        line("upload", "file", "Consent scan"),
        line("bmi", "calc", "BMI", choices="round([weight] / ([height] ^ 2), 1)"),
        line("older", "calc", "Older", choices="if([age] >= 65, 1, 0)"),
        line("age_check", "yesno", "Confirm age", branching="[older] = '1'"),
    )


BASE: dict[str, object] = {"age": "30", "sex": "2", "smoker": "0"}


def check(form: DataDictionary, **answers: object) -> tuple[dict[str, object], list[str]]:
    result = form.validate("f", {**BASE, **answers}, today=TODAY)
    assert result.ok == (not result.problems)
    return result.clean, [f"{p.field}:{p.code}" for p in result.problems]


@pytest.mark.parametrize(("field", "given", "expected"), [
    ("age", " 42 ", 42), ("age", "42.0", 42), ("age", 42, 42), ("age", 42.0, 42),
    ("weight", "70.5", 70.5), ("weight", 70, 70.0), ("weight", "70", 70.0),
    ("height", "1,75", 1.75), ("height", "1.75", 1.75),
    ("visit", "2025-03-01", "2025-03-01"), ("visit", date(2025, 3, 1), "2025-03-01"),
    ("visit", datetime(2025, 3, 1, 10, 0), "2025-03-01"), ("visit", "2025/3/1", "2025-03-01"),
    ("dmy", "31-03-2025", "2025-03-31"), ("dmy", "31/03/2025", "2025-03-31"),
    ("dmy", "2025-03-31", "2025-03-31"), ("mdy", "03-31-2025", "2025-03-31"),
    ("stamp", "2025-03-31 14:05", "2025-03-31T14:05"),
    ("stamp", datetime(2025, 3, 31, 14, 5, 59), "2025-03-31T14:05"),
    ("stamp_s", "31-03-2025 14:05:09", "2025-03-31T14:05:09"),
    ("clock", "9:05", "09:05"), ("clock", time(23, 59), "23:59"), ("lap", "04:30", "04:30"),
    ("email", " a.b@example.org ", "a.b@example.org"), ("postcode", "69008", "69008"),
    ("comment", "  fine  ", "fine"), ("free", 12, "12"),
    ("colour", "9..9", "9..9"), ("colour", 2, "2"), ("sex", "1", "1"),
    ("smoker", True, "1"), ("smoker", 0, "0"), ("truth", "1", "1"),
    ("products", ["2", "1"], ["1", "2"]), ("products", ("8",), ["8"]),
    ("products", "1,2", ["1", "2"]),
    ("products", "2 | 1", ["1", "2"]), ("products", 2, ["2"]), ("mood", "55", 55),
])
def test_values_are_normalised(form: DataDictionary, field: str, given: object,
                               expected: object) -> None:
    answers = {field: given}
    if field == "products" and "8" in str(given):
        answers["products_other"] = "something"
    clean, problems = check(form, **answers)
    assert problems == []
    assert clean[field] == expected
    assert type(clean[field]) is type(expected)


@pytest.mark.parametrize(("field", "given", "code"), [
    ("age", "abc", "invalid"), ("age", "12.5", "invalid"), ("age", "17", "out_of_range"),
    ("age", True, "invalid"), ("weight", "heavy", "invalid"), ("weight", "251", "out_of_range"),
    ("height", "3,0", "out_of_range"), ("visit", "2025-02-30", "invalid"),
    ("visit", "2019-12-31", "out_of_range"), ("visit", "2025-07-01", "out_of_range"),
    ("visit", "31/12/2024", "invalid"), ("mdy", "31-03-2025", "invalid"),
    ("stamp", "2025-03-31", "invalid"), ("stamp", "2025-03-31 25:00", "invalid"),
    ("clock", "24:00", "invalid"), ("lap", "60:00", "invalid"), ("email", "nobody", "invalid"),
    ("postcode", "6900", "invalid"), ("colour", "3", "not_a_choice"),
    ("sex", "Woman", "not_a_choice"), ("smoker", "2", "not_a_choice"),
    ("products", ["1", "4"], "not_a_choice"), ("mood", "101", "out_of_range"),
])
def test_bad_values_are_problems(form: DataDictionary, field: str, given: object,
                                 code: str) -> None:
    clean, problems = check(form, **{field: given})
    assert problems == [f"{field}:{code}"]
    assert field not in clean


def test_messages_speak_to_the_person_entering_data(form: DataDictionary) -> None:
    result = form.validate("f", {**BASE, "age": "abc", "colour": "7"}, today=TODAY)
    messages = {p.field: (p.label, p.message) for p in result.problems}
    assert messages["age"] == ("Age", "Age must be a whole number between 18 and 120; "
                                      "you entered 'abc'.")
    assert messages["colour"][1] == ("Colour must be one of: 1 = Red; 2 = Blue; 9..9 = Odd; "
                                     "you entered '7'.")


def test_required_fields_must_be_answered(form: DataDictionary) -> None:
    result = form.validate("f", {"age": " ", "sex": None}, today=TODAY)
    assert [(p.field, p.code) for p in result.problems] == [
        ("age", "required"), ("sex", "required"), ("smoker", "required")]
    assert result.problems[0].message == "Age: this question needs an answer."
    assert not result.ok


def test_hidden_fields_must_be_empty(form: DataDictionary) -> None:
    clean, problems = check(form, pregnant="1", products=["1"], products_other="x")
    assert problems == ["products_other:hidden_has_value", "pregnant:hidden_has_value"]
    assert "pregnant" not in clean and "products_other" not in clean
    result = form.validate("f", {**BASE, "pregnant": "1"}, today=TODAY)
    assert result.problems[0].message == ("This question does not apply given the answer to "
                                          "'Sex'; leave it empty.")


def test_a_hidden_field_with_a_bad_value_reports_only_that_it_is_hidden(
        form: DataDictionary) -> None:
    _, problems = check(form, pregnant="maybe")
    assert problems == ["pregnant:hidden_has_value"]


def test_shown_required_fields_follow_branching(form: DataDictionary) -> None:
    _, problems = check(form, products=["8"])
    assert problems == ["products_other:required"]
    clean, problems = check(form, sex="1", pregnant="0")
    assert problems == [] and clean["pregnant"] == "0"


def test_checkboxes_in_redcap_export_columns(form: DataDictionary) -> None:
    clean, problems = check(form, products___1="1", products___2=0, products___8=False)
    assert problems == [] and clean["products"] == ["1"]
    _, problems = check(form, products___1="maybe")
    assert problems == ["products:invalid"]
    _, problems = check(form, products___7="1")
    assert problems == ["products___7:unknown_field"]


def test_calc_fields_are_computed_and_user_values_ignored(form: DataDictionary) -> None:
    clean, problems = check(form, weight="70", height="1,75", bmi="999")
    assert problems == []
    assert clean["bmi"] == 22.9 and clean["older"] == 0
    clean, _ = check(form)
    assert "bmi" not in clean


def test_branching_can_depend_on_a_calc(form: DataDictionary) -> None:
    _, problems = check(form, age="70")
    assert problems == []
    clean, problems = check(form, age="70", age_check="1")
    assert problems == [] and clean["age_check"] == "1"
    _, problems = check(form, age_check="1")
    assert problems == ["age_check:hidden_has_value"]


def test_unknown_fields_and_descriptive_fields(form: DataDictionary) -> None:
    _, problems = check(form, nickname="Jo", intro="something")
    assert problems == ["nickname:unknown_field"]


def test_clean_is_json_serialisable(form: DataDictionary) -> None:
    import json

    clean, problems = check(form, visit=date(2025, 1, 2), products=["1", "2"],
                            stamp=datetime(2025, 1, 2, 3, 4), weight=80, height="1,8")
    assert problems == []
    assert json.loads(json.dumps(clean)) == clean


def test_completeness_counts_shown_questions(form: DataDictionary) -> None:
    shown = [f for f in form.forms["f"].fields if f.field_type not in
             ("calc", "descriptive", "file") and not f.branching]
    value = form.completeness("f", BASE)
    assert value == pytest.approx(3 / len(shown))
    assert form.completeness("f", {**BASE, "sex": "1"}) == pytest.approx(3 / (len(shown) + 1))
    # validate() reports the same share from its single pass.
    assert form.validate("f", BASE).completeness == pytest.approx(value)
    assert form.validate("f", {**BASE, "sex": "1"}).completeness == pytest.approx(
        3 / (len(shown) + 1))


def test_compute_calcs_alone(form: DataDictionary) -> None:
    assert form.compute_calcs({"weight": "70", "height": "1,75", "age": 70}) == {
        "bmi": 22.9, "older": 1}
    assert form.compute_calcs({}) == {"older": 0}


def test_expand_checkboxes_like_a_redcap_export(form: DataDictionary) -> None:
    record = {"age": 30, "products": ["1", "8"], "sex": "1"}
    assert form.expand_checkboxes(record) == {
        "age": 30, "products___1": 1, "products___2": 0, "products___8": 1, "sex": "1"}
    assert form.expand_checkboxes({"products": None}) == {
        "products___1": 0, "products___2": 0, "products___8": 0}


def test_value_labels(form: DataDictionary) -> None:
    assert form.value_labels("sex") == {"1": "Woman", "2": "Man"}
    assert form.value_labels("smoker") == {"1": "Yes", "0": "No"}
    assert form.value_labels("products___2") == {"1": "Checked", "0": "Unchecked"}
    assert form.value_labels("age") == {}
    with pytest.raises(KeyError):
        form.value_labels("nope")


def test_unknown_form_is_a_programming_error(form: DataDictionary) -> None:
    with pytest.raises(KeyError, match="no form 'nope'"):
        form.validate("nope", {})


def test_kinds(form: DataDictionary) -> None:
    kinds = {name: f.kind for name, f in form.fields.items()}
    assert kinds["age"] == "integer" and kinds["weight"] == "number"
    assert kinds["visit"] == "date" and kinds["stamp"] == "datetime"
    assert kinds["clock"] == "time" and kinds["email"] == "email"
    assert kinds["postcode"] == "text" and kinds["comment"] == "notes"
    assert kinds["colour"] == kinds["sex"] == kinds["smoker"] == kinds["truth"] == "choice"
    assert kinds["products"] == "multi" and kinds["mood"] == "slider"
    assert kinds["intro"] == "descriptive" and kinds["upload"] == "file"
    assert kinds["bmi"] == "calc"
    assert form.field("products").is_checkbox and form.field("bmi").is_calc
    assert form.field("bmi").calc_ast is not None
    assert form.field("pregnant").branching_ast == {
        "op": "=", "args": [{"op": "var", "name": "sex"}, {"op": "literal", "value": "1"}]}
