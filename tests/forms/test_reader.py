"""Loading and checking a dictionary: every problem at once, located by line and column."""

from __future__ import annotations

import pytest

from forms import DictionaryError, load_dictionary, load_dictionary_text
from forms.constants import BRANCHING, CHOICES, COLUMNS, FIELD_TYPE, FORM, MIN, VARIABLE
from tests.forms.helpers import csv_text, dd, line


def problems_of(text: str, events: str | None = None) -> list[tuple[int, str, str]]:
    with pytest.raises(DictionaryError) as caught:
        load_dictionary_text(text, events_text=events)
    return [(p.row, p.column, p.code) for p in caught.value.problems]


def test_a_small_dictionary_loads_with_typed_fields() -> None:
    d = dd(
        line("record_id", "text"),
        line("age", "text", "Age", validation="integer", min="18", max="120", required="y"),
        line("sex", "radio", choices="1, Woman | 2, Man"),
        line("smoker", "yesno", form="g"),
    )
    assert list(d.forms) == ["f", "g"]
    age = d.field("age")
    assert (age.kind, age.min, age.max, age.required) == ("integer", "18", "120", True)
    assert d.field("sex").choices == {"1": "Woman", "2": "Man"}
    assert d.field("smoker").choices == {"1": "Yes", "0": "No"}
    assert d.form("g").label == "G"
    assert d.warnings == []


def test_every_problem_is_reported_at_once_with_row_and_column() -> None:
    text = csv_text(
        line("a", "text"),
        line("b", "textbox"),
        line("a", "text"),
        line("c", "radio", choices="1 Woman | 2, Man"),
        line("d", "text", branching="[nowhere] = '1'"),
        line("e", "text", branching="[a] = = '1'"),
        line("f", "text", validation="integer", min="10", max="5"),
        line("g", "radio"),
        line("h", "calc"),
    )
    assert problems_of(text) == [
        (3, FIELD_TYPE, "unknown_field_type"),
        (4, VARIABLE, "duplicate_name"),
        (5, CHOICES, "bad_choices"),
        (6, BRANCHING, "unknown_reference"),
        (7, BRANCHING, "bad_expression"),
        (8, MIN, "min_above_max"),
        (9, CHOICES, "missing_choices"),
        (10, CHOICES, "missing_calculation"),
    ]


def test_the_report_is_readable_and_gives_the_expression_position() -> None:
    with pytest.raises(DictionaryError) as caught:
        dd(line("a", "text"), line("b", "text", branching="[a] = '1' and\n ([a] = "))
    report = str(caught.value)
    assert "1 problem" in report
    assert "line 3, column 'Branching Logic (Show field only if...)'" in report
    assert "line 2, column 8 of the cell" in report


def test_duplicate_choice_codes_and_bad_flags() -> None:
    text = csv_text(line("a", "radio", choices="1, A | 1, B", required="yes"),
                    line("b", "text", identifier="x"))
    assert problems_of(text) == [(2, CHOICES, "duplicate_choice"), (2, "Required Field?",
                                 "bad_flag"), (3, "Identifier?", "bad_flag")]


def test_names_and_forms_must_be_redcap_names() -> None:
    text = csv_text(line("1age", "text"), line("b", "text", form="_form"), line("", "text"))
    codes = {(row, code) for row, _col, code in problems_of(text)}
    assert codes == {(2, "bad_name"), (3, "bad_form_name"), (4, "missing_name")}


def test_names_redcap_renames_on_upload_are_renamed_with_a_warning() -> None:
    # REDCap's upload (MetaData::error_checking) lower-cases names and turns spaces into
    # underscores, telling the user; it refuses names starting with a digit or underscore.
    d = load_dictionary_text(csv_text(line("Age", "text"), line("b", "text", form="My Form")))
    assert list(d.fields) == ["age", "b"]
    assert list(d.forms) == ["f", "my_form"]
    assert [w.code for w in d.warnings] == ["renamed_variable", "renamed_variable"]


def test_a_form_split_over_non_consecutive_lines_is_refused() -> None:
    text = csv_text(line("a", "text", form="one"), line("b", "text", form="two"),
                    line("c", "text", form="one"))
    assert problems_of(text) == [(4, FORM, "form_split")]


def test_checkbox_references_must_match_a_checkbox_choice() -> None:
    text = csv_text(line("cb", "checkbox", choices="1, A | 2, B"),
                    line("r", "radio", choices="1, A"),
                    line("x", "text", branching="[cb(3)] = '1'"),
                    line("y", "text", branching="[r(1)] = '1'"),
                    line("z", "text", branching="[cb(2)] = '1'"))
    assert problems_of(text) == [(4, BRANCHING, "bad_checkbox_reference"),
                                 (5, BRANCHING, "bad_checkbox_reference")]


def test_calculation_references_are_checked() -> None:
    text = csv_text(line("a", "text"), line("c", "calc", choices="[a] + [b]"))
    assert problems_of(text) == [(3, CHOICES, "unknown_reference")]


def test_bounds_must_fit_the_validation_type() -> None:
    text = csv_text(line("d", "text", validation="date_ymd", min="yesterday"),
                    line("n", "text", validation="number", max="ten"),
                    line("t", "text", validation="date_ymd", min="2020-01-01", max="today"))
    assert problems_of(text) == [(2, MIN, "bad_bound"), (3, "Text Validation Max", "bad_bound")]


def test_a_bad_header_is_one_problem_on_line_1() -> None:
    text = "name,form\nage,f\n"
    assert problems_of(text) == [(1, "", "bad_header")]
    reordered = ",".join(reversed(COLUMNS)) + "\n"
    assert problems_of(reordered)[0][2] == "bad_header"
    assert problems_of("")[0][2] == "empty_file"


def test_a_row_with_too_many_cells_is_reported() -> None:
    text = csv_text(line("a", "text")) + "b,f,,text,Label, with comma" + "," * 13 + "\n"
    assert problems_of(text) == [(3, VARIABLE, "row_length")]


def test_multi_line_cells_keep_physical_line_numbers() -> None:
    text = csv_text(line("a", "text", label="Two\nlines"), line("b", "bogus"))
    assert problems_of(text) == [(4, FIELD_TYPE, "unknown_field_type")]


def test_unknown_validation_loads_with_a_warning_and_validates_as_text() -> None:
    d = dd(line("a", "text", validation="postalcode_martian"))
    assert [(w.row, w.code) for w in d.warnings] == [(2, "unknown_validation")]
    assert d.field("a").kind == "text"
    assert d.validate("f", {"a": " X1 "}).clean == {"a": "X1"}


def test_rendering_features_we_ignore_are_warnings() -> None:
    d = dd(line("a", "slider", choices="Low | Mid | High", validation="number"),
           line("b", "checkbox", choices="1, A", matrix="grid",
                annotation="@DEFAULT='1' @HIDDEN @RANDOMORDER @HIDDEN-SURVEY"),
           line("c", "file", validation="signature"),
           line("d", "text", question="4"),
           line("e", "yesno", choices="1, Yes | 0, No"))
    codes = [(w.row, w.code) for w in d.warnings]
    assert codes == [(2, "not_rendered"), (3, "not_rendered"), (3, "action_tags"),
                     (4, "not_rendered"), (5, "not_rendered"), (6, "ignored_choices")]
    assert d.field("a").slider_labels == ("Low", "Mid", "High")
    # Tags acted on are not warned about; the others are listed, with why.
    assert "@HIDDEN-SURVEY, @RANDOMORDER are kept, not acted on" in d.warnings[2].message
    assert "this tool has no surveys" in d.warnings[2].message


def test_our_dictionary_round_trips_byte_for_byte(tmp_path: object) -> None:
    from forms.loader import dictionary_paths

    path, _ = dictionary_paths()
    original = path.read_text(encoding="utf-8")
    assert load_dictionary(path).to_csv() == original


def test_a_bom_and_crlf_file_loads_and_writes_back_its_line_endings(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    text = csv_text(line("a", "text"), line("b", "radio", choices="1, A | 2, B"))
    path = tmp_path / "dd.csv"
    path.write_bytes(("\ufeff" + text.replace("\n", "\r\n")).encode("utf-8"))
    d = load_dictionary(path)
    assert list(d.fields) == ["a", "b"]
    # The lines come back as read (CRLF); the BOM is an encoding mark, not text.
    assert d.to_csv() == text.replace("\n", "\r\n")


def test_event_mapping_next_to_the_dictionary_is_loaded(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    (tmp_path / "dd.csv").write_text(csv_text(line("a", "text", form="one"),
                                              line("b", "text", form="two")))
    (tmp_path / "event_mapping.csv").write_text(
        "arm_num,unique_event_name,form\n1,m0_arm_1,one\n1,m0_arm_1,two\n1,m6_arm_1,two\n")
    d = load_dictionary(tmp_path / "dd.csv")
    assert d.events.events == ["m0_arm_1", "m6_arm_1"]
    assert [f.name for f in d.forms_for_event("m6_arm_1")] == ["two"]
    assert d.events.events_for("two") == ["m0_arm_1", "m6_arm_1"]
    assert d.unmapped_forms() == []


def test_event_mapping_problems_name_the_file() -> None:
    events = "arm_num,unique_event_name,form\n1,m0_arm_1,one\n1,m0_arm_1,nope\n1,m0_arm_1,one\n"
    with pytest.raises(DictionaryError) as caught:
        dd(line("a", "text", form="one"), events=events)
    found = [(p.source, p.row, p.column, p.code) for p in caught.value.problems]
    assert found == [("event_mapping.csv", 3, "form", "unknown_form"),
                     ("event_mapping.csv", 4, "form", "duplicate_mapping")]
    assert "event_mapping.csv: line 3, column 'form'" in str(caught.value)


def test_event_prefixed_references_need_a_declared_event() -> None:
    events = "arm_num,unique_event_name,form\n1,m0_arm_1,f\n"
    rows = (line("a", "text"), line("b", "text", branching="[m9_arm_1][a] = '1'"))
    with pytest.raises(DictionaryError) as caught:
        dd(*rows, events=events)
    assert [p.code for p in caught.value.problems] == ["unknown_event"]
    assert [w.code for w in dd(*rows).warnings] == ["unknown_event"]


def test_event_prefixed_reference_to_a_form_not_filled_at_that_event_is_a_warning() -> None:
    events = ("arm_num,unique_event_name,form\n1,m0_arm_1,enrol\n1,m0_arm_1,visit\n"
              "1,m6_arm_1,visit\n")
    rows = (line("age", "text", form="enrol", validation="integer"),
            line("seen", "yesno", form="visit"),
            line("again", "yesno", form="visit", branching="[m6_arm_1][age] > 30"),
            line("before", "yesno", form="visit", branching="[m0_arm_1][age] > 30 and "
                 "[m0_arm_1][seen] = '1' and [m6_arm_1][seen] = '1'"))
    d = dd(*rows, events=events)
    assert [(w.row, w.column, w.code) for w in d.warnings] == [
        (4, "Branching Logic (Show field only if...)", "field_not_in_event")]
    assert "form 'enrol' is not filled at m6_arm_1 (it is filled at m0_arm_1)" \
        in d.warnings[0].message
    with pytest.raises(DictionaryError) as caught:
        dd(*rows[:2], line("x", "yesno", form="visit", branching="[m3_arm_1][age] > 30"),
           events=events)
    assert [(p.row, p.code) for p in caught.value.problems] == [(4, "unknown_event")]
    assert "m0_arm_1, m6_arm_1" in caught.value.problems[0].message


def test_identifiers_are_read() -> None:
    d = dd(line("a", "text", identifier="y"), line("b", "text"))
    assert d.identifier_fields() == {"a"}
