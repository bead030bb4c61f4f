"""Exports in every format and shape, read back with the tools statisticians use."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import pandas as pd
import pytest

import forms
from analysis.data import AnalysisData
from analysis.export import FORMATS, export, export_frame


@pytest.mark.parametrize("shape", ["long", "wide"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_and_shape(demo_data: AnalysisData, tmp_path: Path, fmt: str,
                                shape: str) -> None:
    result = export(demo_data, tmp_path / f"cohort.{fmt}", shape=shape)
    expected_rows = (len(demo_data.questionnaires) if shape == "long"
                     else len(demo_data.participants))
    assert result.rows == expected_rows
    assert result.codebook.read_text(encoding="utf-8").startswith("variable,")
    labels = pd.read_csv(result.variables)
    assert list(labels["variable"]) == result.columns
    back = _read(result.path, fmt)
    assert len(back) == expected_rows
    assert list(back.columns) == result.columns
    assert ("share_syringe" if shape == "long" else "share_syringe_m6") in back.columns
    assert "products___1" in back.columns or "products___1_m0" in back.columns


def _read(path: Path, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(path)
    if fmt == "xlsx":
        return pd.read_excel(path, sheet_name="data")
    if fmt == "parquet":
        return pd.read_parquet(path)
    import pyreadstat

    reader = pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav
    return reader(str(path))[0]


@pytest.mark.parametrize("fmt", ["dta", "sav"])
def test_stata_and_spss_carry_dictionary_labels(demo_data: AnalysisData, tmp_path: Path,
                                                fmt: str) -> None:
    import pyreadstat

    result = export(demo_data, tmp_path / f"wide.{fmt}", shape="wide")
    reader = pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav
    df, meta = reader(str(result.path))
    labels = meta.column_names_to_labels
    assert labels["share_syringe_m6"] == (
        "Used a syringe or needle already used by someone else (M6)")
    assert meta.variable_value_labels["share_syringe_m6"] == {0: "No", 1: "Yes"}
    assert meta.variable_value_labels["housing"][3] == "Squat"
    assert meta.variable_value_labels["products___1_m0"] == {0: "Unchecked", 1: "Checked"}
    assert labels["products___1_m0"].endswith(": Heroin (M0)")
    assert labels["group_itt"] == "Group at M0 (intention to treat)"
    assert set(df["share_syringe_m0"].dropna().unique()) <= {0.0, 1.0}


def test_parquet_and_excel_keep_labels(demo_data: AnalysisData, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    result = export(demo_data, tmp_path / "long.parquet")
    meta = pq.read_schema(result.path).metadata
    labels = json.loads(meta[b"variable_labels"])
    assert labels["any_risk_practice"].startswith("At least one HIV")
    assert json.loads(meta[b"value_labels"])["inj_freq"]
    assert json.loads(meta[b"snapshot"])["as_of"] == "2026-11-22"
    xlsx = export(demo_data, tmp_path / "long.xlsx")
    variables = pd.read_excel(xlsx.path, sheet_name="variables")
    assert "Study code (pseudonymised)" in set(variables["label"])


def _dictionary_with_identifiers(names: set[str]) -> forms.DataDictionary:
    base = forms.default_dictionary()
    rows = list(csv.reader(io.StringIO(base.to_csv())))
    for row in rows[1:]:
        if row[0] in names:
            row[10] = "y"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return forms.load_dictionary_text(out.getvalue(), events_text=base.events.to_csv())


def test_fields_marked_as_identifiers_are_never_exported(demo_data: AnalysisData,
                                                         tmp_path: Path) -> None:
    dictionary = _dictionary_with_identifiers({"year_of_birth", "products", "inj_freq"})
    assert dictionary.identifier_fields() == {"year_of_birth", "products", "inj_freq"}
    for shape in ("long", "wide"):
        frame, dropped = export_frame(demo_data, shape=shape, dictionary=dictionary)
        leaked = [c for c in frame.columns
                  if c.startswith(("year_of_birth", "products", "inj_freq"))]
        assert leaked == [] and "year_of_birth" in dropped
    result = export(demo_data, tmp_path / "x.csv", dictionary=dictionary)
    header = result.path.read_text(encoding="utf-8").splitlines()[0]
    assert "year_of_birth" not in header and "products___" not in header
    assert "year_of_birth" in export_frame(demo_data)[0].columns  # not an identifier by default


def test_unknown_format_or_shape(demo_data: AnalysisData, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown export format 'rds'"):
        export(demo_data, tmp_path / "x.rds")
    with pytest.raises(ValueError, match="unknown shape"):
        export(demo_data, tmp_path / "x.csv", shape="tall")


# --- review of issue 6: labelled columns, labels in every format, free text, file names


def _labelled_columns(result_columns: list[str], demo_data: AnalysisData) -> list[str]:
    from analysis.export import labels_for

    _, val = labels_for(result_columns, demo_data, forms.default_dictionary())
    return list(val)


@pytest.mark.parametrize("shape", ["long", "wide"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_no_labelled_column_is_emptied_by_the_export(demo_data: AnalysisData, tmp_path: Path,
                                                      fmt: str, shape: str) -> None:
    """Words stored for gender/reached_via became blanks in .dta/.sav (625/625 missing)."""
    frame, _ = export_frame(demo_data, shape=shape)
    result = export(demo_data, tmp_path / f"cohort.{fmt}", shape=shape)
    back = _read(result.path, fmt)
    labelled = _labelled_columns(result.columns, demo_data)
    assert {"gender", "reached_via"} <= set(labelled)
    for col in labelled:
        if frame[col].notna().any():
            assert back[col].notna().sum() == frame[col].notna().sum(), (fmt, shape, col)
    assert set(back["gender"].dropna().astype(float)) <= {1.0, 2.0, 3.0, 4.0}


@pytest.mark.parametrize("fmt", ["dta", "sav"])
def test_gender_and_reached_via_carry_value_labels(demo_data: AnalysisData, tmp_path: Path,
                                                   fmt: str) -> None:
    import pyreadstat

    result = export(demo_data, tmp_path / f"c.{fmt}")
    reader = pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav
    df, meta = reader(str(result.path), apply_value_formats=True)
    assert meta.variable_value_labels["gender"][2] == "Man"
    assert meta.variable_value_labels["reached_via"][1] == "In person"
    assert df["gender"].notna().all() and "Man" in set(df["gender"])
    assert set(df["reached_via"]) <= {"In person", "Online", "Phone"}


def test_words_where_codes_are_expected_are_refused(demo_data: AnalysisData,
                                                    tmp_path: Path) -> None:
    from analysis.export import _numeric_codes

    frame = pd.DataFrame({"gender": ["2", "man", None]})
    with pytest.raises(ValueError, match="column 'gender' holds 'man'"):
        _numeric_codes(frame, {"gender": {1: "Woman", 2: "Man"}})
    assert _numeric_codes(frame.iloc[[0, 2]], {"gender": {2: "Man"}})["gender"].iloc[0] == 2


def test_excel_has_value_labels_sheet(demo_data: AnalysisData, tmp_path: Path) -> None:
    result = export(demo_data, tmp_path / "long.xlsx")
    labels = pd.read_excel(result.path, sheet_name="value_labels")
    gender = labels[labels["variable"] == "gender"].set_index("code")["label"]
    assert gender[2] == "Man" and gender[1] == "Woman"
    assert set(labels.columns) == {"variable", "code", "label"}


def test_two_formats_of_one_stem_keep_their_own_codebooks(demo_data: AnalysisData,
                                                          tmp_path: Path) -> None:
    dta = export(demo_data, tmp_path / "cohort.dta", shape="wide")
    csv_ = export(demo_data, tmp_path / "cohort.csv", shape="long")
    assert dta.codebook != csv_.codebook and dta.variables != csv_.variables
    assert dta.codebook.name == "cohort.dta.codebook.csv"
    wide_vars = pd.read_csv(dta.variables)["variable"]
    assert "share_syringe_m6" in set(wide_vars)  # not overwritten by the long export


def test_free_text_is_left_out_unless_asked_for(demo_data: AnalysisData,
                                                tmp_path: Path) -> None:
    from analysis.export import free_text_fields

    dictionary = forms.default_dictionary()
    free = free_text_fields(dictionary)
    assert {"questionnaire_note", "products_other", "fu_reason", "session_note"} <= free
    q = demo_data.questionnaires.assign(questionnaire_note="Met near the station",
                                        products_other="ketamine")
    data = dataclasses.replace(demo_data, questionnaires=q)
    for shape in ("long", "wide"):
        result = export(data, tmp_path / f"{shape}.csv", shape=shape)
        assert not [c for c in result.columns
                    if c.startswith(("questionnaire_note", "products_other"))], shape
        assert "station" not in result.path.read_text(encoding="utf-8")
    codebook = pd.read_csv(result.codebook).set_index("variable")["in_this_export"]
    assert codebook["questionnaire_note"].startswith("no: free text")
    assert "--include-free-text" in codebook["questionnaire_note"]
    assert codebook["share_syringe"] == "yes"
    full = export(data, tmp_path / "full.csv", include_free_text=True)
    assert any(c.startswith(("questionnaire_note", "products_other")) for c in full.columns)
    assert full.dropped_free_text == []


# --- audit of the analysis layer: derived identifiers, yes/no and coded columns

SMALL_DICTIONARY = """\
Variable / Field Name,Form Name,Section Header,Field Type,Field Label,\
"Choices, Calculations, OR Slider Labels",Field Note,Text Validation Type OR Show Slider \
Number,Text Validation Min,Text Validation Max,Identifier?,Branching Logic (Show field \
only if...),Required Field?,Custom Alignment,Question Number (surveys only),Matrix Group \
Name,Matrix Ranking?,Field Annotation
age,enrolment,,text,Age (years),,,integer,0,120,y,,,,,,,
study_group,enrolment,,radio,Study group,"1, Intervention | 2, Comparison",,,,,y,,,,,,,
share_syringe,questionnaire,,yesno,Shared a syringe,,,,,,,,,,,,,
"""


@pytest.mark.parametrize("shape", ["long", "wide"])
def test_identifier_fields_take_their_derived_columns(demo_data: AnalysisData,
                                                      tmp_path: Path, shape: str) -> None:
    """Marking ``age`` an identifier exported ``age_at_inclusion`` anyway, and marking the
    group field left ``group``/``group_itt``: columns are matched to the dictionary
    field they come from."""
    dictionary = forms.load_dictionary_text(SMALL_DICTIONARY)
    assert dictionary.identifier_fields() == {"age", "study_group"}
    frame, dropped = export_frame(demo_data, shape=shape, dictionary=dictionary)
    derived = {"age_at_inclusion", "group", "group_itt", "group_pp", "intervention",
               "contaminated"}
    assert not derived & set(frame.columns)
    assert (derived if shape == "wide" else {"age_at_inclusion", "group_itt"}) <= set(
        dropped)
    assert "share_syringe" in frame.columns or "share_syringe_m6" in frame.columns
    result = export(demo_data, tmp_path / f"{shape}.csv", shape=shape, dictionary=dictionary)
    header = result.path.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert not derived & set(header)
    codebook = pd.read_csv(result.codebook).set_index("variable")["in_this_export"]
    assert codebook["age"].startswith("no: identifier")
    assert codebook["study_group"].startswith("no: identifier")


@pytest.mark.parametrize("fmt", ["dta", "sav", "parquet"])
def test_in_window_is_numeric_with_missing_as_missing(demo_data: AnalysisData,
                                                      tmp_path: Path, fmt: str) -> None:
    """``in_window_m6``/``in_window_m12`` were written as the strings "True"/"False"/""
    in wide files while ``in_window_m0`` was numeric."""
    result = export(demo_data, tmp_path / f"wide.{fmt}", shape="wide")
    q = demo_data.questionnaires
    has = {tp: set(q.loc[q["timepoint"] == tp, "participant_id"]) for tp in ("M6", "M12")}
    if fmt == "parquet":
        back = pd.read_parquet(result.path)
        labels = json.loads(pq_meta(result.path)[b"value_labels"])
        assert labels["in_window_m6"] == {"0": "No", "1": "Yes"}
    else:
        import pyreadstat

        reader = pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav
        back, meta = reader(str(result.path))
        assert meta.variable_value_labels["in_window_m6"] == {0: "No", 1: "Yes"}
        assert meta.variable_value_labels["in_window_m12"] == {0: "No", 1: "Yes"}
    for col in ("in_window_m0", "in_window_m6", "in_window_m12"):
        assert pd.api.types.is_numeric_dtype(back[col]), (fmt, col, back[col].dtype)
        assert set(back[col].dropna().unique()) <= {0.0, 1.0}
    for tp in ("M6", "M12"):
        col = f"in_window_{tp.lower()}"
        seen = back["participant_id"].isin(has[tp])
        assert back.loc[seen, col].notna().all() and back.loc[~seen, col].isna().all()


def pq_meta(path: Path) -> dict[bytes, bytes]:
    import pyarrow.parquet as pq

    return dict(pq.read_schema(path).metadata)


@pytest.mark.parametrize("fmt", ["dta", "sav"])
def test_group_and_timepoint_are_labelled_numbers_in_stata_and_spss(
        demo_data: AnalysisData, tmp_path: Path, fmt: str) -> None:
    import pyreadstat

    reader = pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav
    back, meta = reader(str(export(demo_data, tmp_path / f"long.{fmt}").path))
    assert set(back["group_itt"].dropna()) <= {1.0, 2.0}
    assert meta.variable_value_labels["group_itt"][1].startswith("Intervention")
    assert meta.variable_value_labels["group_itt"][2].startswith("Comparison")
    assert set(back["timepoint"]) == {0.0, 6.0, 12.0}
    assert meta.variable_value_labels["timepoint"] == {0: "M0", 6: "M6", 12: "M12"}
    assert (back["timepoint"] == back["month"]).all()
    n_int = int((demo_data.long["group_itt"] == "intervention").sum())
    assert int((back["group_itt"] == 1).sum()) == n_int
    assert meta.variable_value_labels["per_protocol"] == {0: "No", 1: "Yes"}
    wide, wmeta = reader(str(export(demo_data, tmp_path / f"wide.{fmt}", shape="wide").path))
    assert wmeta.variable_value_labels["ltfu_outcome"][2] == "Died"
    assert set(wide["group"].dropna()) <= {1.0, 2.0}
