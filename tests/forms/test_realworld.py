"""Real REDCap dictionaries from public repositories load; what we ignore is a warning."""

from __future__ import annotations

from pathlib import Path

from forms import load_dictionary

# Copies, kept as published, of dictionaries from public REDCap projects (sources and
# commits in the folder's README.md); vendored so that a fresh clone tests against them.
REALWORLD = Path(__file__).resolve().parents[1] / "data" / "realworld" / "redcap"


def test_redcapr_longitudinal_dictionary_and_events_load() -> None:
    d = load_dictionary(REALWORLD / "redcapr_longitudinal_dictionary.csv",
                        events=REALWORLD / "redcapr_longitudinal_events.csv")
    assert len(d.fields) == 95
    assert d.events.events[:2] == ["enrollment_arm_1", "dose_1_arm_1"]
    assert {"first_name", "last_name", "dob"} <= d.identifier_fields()
    assert d.field("specify_mood").kind == "slider"
    assert d.field("patient_document").kind == "file"
    codes = {w.code for w in d.warnings}
    assert codes == {"not_rendered"}
    assert all(not w.code.startswith("bad") for w in d.warnings)
    result = d.validate("demographics", {"sex": "0", "given_birth": "1", "num_children": "2",
                                         "weight": "70", "height": "175"})
    assert result.ok, result.problems
    assert result.clean["bmi"] == 22.9
    hidden = d.validate("demographics", {"sex": "1", "given_birth": "1"})
    assert [p.code for p in hidden.problems] == ["hidden_has_value"]


def test_rsvc_dictionary_with_many_validation_types_loads() -> None:
    d = load_dictionary(REALWORLD / "rsvc_project1_dictionary.csv")
    codes = {w.code for w in d.warnings}
    assert {"odd_choice_code", "not_rendered"} <= codes
    # Its @DEFAULT, @TODAY and @NOW are acted on, so they are no longer warned about.
    assert "action_tags" not in codes
    assert d.field("textbox").tags.first("@DEFAULT").value == "text box"  # type: ignore[union-attr]
    assert d.field("radio").choices["9..9"] == "Choice99"
    assert d.field("number_1_comma").validation == "number_1dp_comma_decimal"
    assert d.field("calc_test").kind == "calc"
    form = d.field("number_1_comma").form
    result = d.validate(form, {"number_1_comma": "2,5", "datetime_ymd_hm": "2023-08-15 10:00",
                               "integer": "1", "required": "x", "ssn": "123-12-1234",
                               "phone_uk": "+44 7911 123456", "postal_5": "69008"})
    assert result.ok, result.problems
    assert result.clean["number_1_comma"] == 2.5
    assert result.clean["calc_test"] == 6
    bad = d.validate(form, {"number_1_comma": "3,5", "datetime_ymd_hm": "2023-09-01 00:00"})
    assert sorted((p.field, p.code) for p in bad.problems) == [
        ("datetime_ymd_hm", "out_of_range"), ("number_1_comma", "out_of_range"),
        ("required", "required")]


def test_realworld_dictionaries_write_back_the_same_cells() -> None:
    import csv
    import io

    for name in ("redcapr_longitudinal_dictionary.csv", "rsvc_project1_dictionary.csv"):
        path = REALWORLD / name
        d = load_dictionary(path)
        original = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        written = list(csv.reader(io.StringIO(d.to_csv())))
        assert written == [row for row in original if any(cell.strip() for cell in row)]
