"""Writing a dictionary back: unedited lines byte for byte, edited lines freshly written,
and a file without the trailing Field Annotation column accepted with a warning."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from forms import DictionaryError, load_dictionary, load_dictionary_text
from forms.constants import COLUMNS
from tests.forms.helpers import csv_text, line

REALWORLD = Path(__file__).resolve().parents[1] / "data" / "realworld" / "redcap"


@pytest.mark.parametrize("name", ["redcapr_longitudinal_dictionary.csv",
                                  "rsvc_project1_dictionary.csv"])
def test_realworld_files_round_trip_byte_for_byte(name: str) -> None:
    path = REALWORLD / name
    assert load_dictionary(path).to_csv().encode("utf-8") == path.read_bytes()


def test_quoting_blank_lines_and_a_missing_final_newline_are_kept() -> None:
    header = csv_text().rstrip("\n")
    text = (header + "\r\n"
            + '"a","f","","text","A ""quoted"" label",,,,,,,,,,,,,\r\n'
            + "\r\n"
            + 'b,f,,radio,"B\nover two lines","1, X | 2, Y",,,,,,,,,,,,')
    d = load_dictionary_text(text)
    assert d.field("a").label == 'A "quoted" label'
    assert d.field("b").label == "B\nover two lines"
    assert d.to_csv() == text


def test_an_edited_field_is_written_from_its_attributes_and_the_rest_unchanged() -> None:
    text = (csv_text().replace("\n", "\r\n")
            + '"a","f","","text","A",,,,,,,,,,,,,\r\n'
            + '"b","f","","text","B",,,,,,,,,,,,,\r\n')
    d = load_dictionary_text(text)
    d.fields["a"] = dataclasses.replace(d.fields["a"], label="A, renamed")
    written = d.to_csv().split("\r\n")
    assert written[1] == 'a,f,,text,"A, renamed",,,,,,,,,,,,,'
    assert written[2] == '"b","f","","text","B",,,,,,,,,,,,,'
    assert load_dictionary_text(d.to_csv()).field("a").label == "A, renamed"


def test_a_file_without_the_field_annotation_column_loads_with_a_warning() -> None:
    header = ",".join(f'"{name}"' if "," in name else name for name in COLUMNS[:-1])
    text = header + "\n" + "a,f,,text,A,,,integer,0,9,,,y,,,,\n"
    d = load_dictionary_text(text, source="old.csv")
    assert [(w.row, w.column, w.code) for w in d.warnings] == [
        (1, "Field Annotation", "missing_annotation_column")]
    assert d.field("a").annotation == ""
    assert d.field("a").max == "9"
    # Written back as a complete REDCap file, all 18 columns.
    assert d.to_csv() == csv_text(line("a", "text", "A", validation="integer", min="0",
                                       max="9", required="y"))


def test_a_file_missing_a_middle_column_is_still_refused() -> None:
    # REDCap reads columns by position (Design::excel_to_array): without the first column
    # every cell would land one column early, so the header is refused and says so.
    header = ",".join(f'"{name}"' if "," in name else name for name in COLUMNS[1:])
    with pytest.raises(DictionaryError, match="would take it as 'Variable / Field Name'"):
        load_dictionary_text(header + "\n")


def test_a_header_stopping_early_or_spelled_differently_is_read_by_position() -> None:
    # REDCap reads a data dictionary by column position, not by header text, and reads
    # missing trailing columns as empty; so do we, with a warning for each difference.
    names = list(COLUMNS[:12])
    names[11] = "Branching Logic (Show field only if)"
    header = ",".join(f'"{name}"' if "," in name else name for name in names)
    d = load_dictionary_text(header + "\na,f,,yesno,A,,,,,,,\nb,f,,text,B,,,,,,,[a] = '1'\n")
    assert d.field("b").branching == "[a] = '1'"
    assert {w.code for w in d.warnings} == {"renamed_column", "missing_columns"}
