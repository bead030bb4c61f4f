"""``cohort dictionary check`` and ``cohort dictionary codebook``."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cohort.cli.dictionary import dictionary_app
from forms.loader import dictionary_paths
from tests.forms.helpers import csv_text, line

runner = CliRunner()


def test_check_summarises_our_dictionary() -> None:
    path, _ = dictionary_paths()
    result = runner.invoke(dictionary_app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "59 fields in 5 forms" in result.output
    assert "questionnaire: 32 fields (m0_arm_1, m6_arm_1, m12_arm_1)" in result.output
    assert "aerli_session: 8 fields (ongoing_arm_1)" in result.output
    assert "Events: m0_arm_1, m6_arm_1, m12_arm_1, ongoing_arm_1" in result.output
    assert "No warnings." in result.output


def test_check_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "dd.csv"
    path.write_text(csv_text(line("a", "text"), line("b", "textbox"),
                             line("c", "radio", choices="1 Woman"),
                             line("d", "text", branching="[zz] = '1'")))
    result = runner.invoke(dictionary_app, ["check", str(path)])
    assert result.exit_code == 1
    assert "3 problems; nothing was loaded" in result.output
    assert "line 3, column 'Field Type': 'textbox' is not a field type" in result.output
    assert "line 4, column 'Choices, Calculations, OR Slider Labels'" in result.output
    assert "line 5, column 'Branching Logic (Show field only if...)'" in result.output
    assert "Traceback" not in result.output


def test_check_reports_warnings(tmp_path: Path) -> None:
    path = tmp_path / "dd.csv"
    path.write_text(csv_text(line("a", "text", validation="phone_martian")))
    result = runner.invoke(dictionary_app, ["check", str(path)])
    assert result.exit_code == 0
    assert "1 warning(s):" in result.output
    assert "line 2, column 'Text Validation Type OR Show Slider Number'" in result.output


def test_check_a_missing_file() -> None:
    result = runner.invoke(dictionary_app, ["check", "/nonexistent/dd.csv"])
    assert result.exit_code == 1
    assert "no file at" in result.output


def test_codebook_formats(tmp_path: Path) -> None:
    result = runner.invoke(dictionary_app, ["codebook"])
    assert result.exit_code == 0 and result.output.startswith("# Codebook")
    out = tmp_path / "codebook.html"
    result = runner.invoke(dictionary_app, ["codebook", "--format", "html", "-o", str(out)])
    assert result.exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    result = runner.invoke(dictionary_app, ["codebook", "--format", "csv"])
    assert result.output.startswith("variable,form,section")
    result = runner.invoke(dictionary_app, ["codebook", "--format", "pdf"])
    assert result.exit_code == 1


def test_codebook_of_another_dictionary(tmp_path: Path) -> None:
    path = tmp_path / "dd.csv"
    path.write_text(csv_text(line("a", "yesno", "Smokes?")))
    result = runner.invoke(dictionary_app, ["codebook", "--dictionary", str(path)])
    assert result.exit_code == 0
    assert "| `a` | Smokes? | yesno | 1 = Yes; 0 = No |" in result.output


def test_redcap_export_puts_the_record_identifier_first(tmp_path: Path) -> None:
    import forms

    out = tmp_path / "redcap.csv"
    result = runner.invoke(dictionary_app, ["redcap", "-o", str(out)])
    assert result.exit_code == 0, result.output
    ours = forms.default_dictionary()
    exported = forms.load_dictionary(out)
    names = list(exported.fields)
    assert names[0] == "record_id" and names[1:] == list(ours.fields)
    assert exported.field("record_id").form == next(iter(ours.forms))
    assert out.read_text().splitlines()[2:] == ours.to_csv().splitlines()[1:]
    # Already first: the file is written unchanged.
    again = tmp_path / "again.csv"
    assert runner.invoke(dictionary_app, ["redcap", "--dictionary", str(out),
                                          "-o", str(again)]).exit_code == 0
    assert again.read_text() == out.read_text()


def test_redcap_export_writes_the_instrument_designation_for_every_form(
        tmp_path: Path) -> None:
    import csv
    import io

    import forms

    out, events = tmp_path / "redcap.csv", tmp_path / "events.csv"
    result = runner.invoke(dictionary_app, ["redcap", "-o", str(out), "--events", str(events)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(events.read_text(encoding="utf-8"))))
    assert list(rows[0]) == ["arm_num", "unique_event_name", "form"]
    designated = {row["form"] for row in rows}
    # Every form can be filled in REDCap, the session log and status between visits.
    assert designated == set(forms.default_dictionary().forms)
    assert {(r["unique_event_name"], r["form"]) for r in rows
            if r["unique_event_name"] == "ongoing_arm_1"} == {
        ("ongoing_arm_1", "aerli_session"), ("ongoing_arm_1", "follow_up_status")}
    again = forms.load_dictionary(out, events=events)
    assert again.events.rows == forms.default_dictionary().events.rows


def test_redcap_events_need_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "dd.csv"
    path.write_text(csv_text(line("a", "text")), encoding="utf-8")
    result = runner.invoke(dictionary_app, ["redcap", "--dictionary", str(path), "-o",
                                            str(tmp_path / "o.csv"), "--events",
                                            str(tmp_path / "e.csv")])
    assert result.exit_code == 1
    assert "no event mapping" in result.output


def test_check_lists_missing_codes_and_action_tags_acted_on_or_kept(tmp_path: Path) -> None:
    path = tmp_path / "dd.csv"
    path.write_text(csv_text(line("a", "text", annotation="@HIDDEN @HIDDEN-SURVEY"),
                             line("b", "text", annotation="@DEFAULT='1' @LATITUDE"),
                             line("c", "text", annotation="@RANDOMORDER @HIDDEN")))
    (tmp_path / "missing_data_codes.txt").write_text("UNK, Unknown\nNA, Not applicable\n")
    result = runner.invoke(dictionary_app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "Missing-data codes: UNK (Unknown), NA (Not applicable)" in result.output
    assert "Action tags acted on:\n  @DEFAULT (1 field: b)\n  @HIDDEN (2 fields: a, c)\n" \
        in result.output
    assert ("Action tags kept, not acted on:\n"
            "  @HIDDEN-SURVEY (1 field: a): this tool has no surveys\n"
            "  @LATITUDE (1 field: b): no location is collected\n"
            "  @RANDOMORDER (1 field: c): choices are always shown in the dictionary's order\n"
            ) in result.output
    other = tmp_path / "other_codes.txt"
    other.write_text("ASKU, Asked but unknown\n")
    result = runner.invoke(dictionary_app, ["check", str(path), "--missing-codes", str(other)])
    assert "Missing-data codes: ASKU (Asked but unknown)" in result.output
