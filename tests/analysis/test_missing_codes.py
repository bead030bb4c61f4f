"""Missing-data codes: counted as missing by the analysis, exported as answered.

A REDCap project's Missing Data Codes (``UNK``, ``NA`` … in Project Setup) say why an
answer is missing. The analysis frames hold NaN there (so every model and table counts the
answer as missing, like a blank); ``AnalysisData.missing_codes`` keeps which answer held
which code; the exports write the code back: as text in CSV, Excel and Parquet, as Stata's
extended missing values (``.a`` for the first code…) and as SPSS user-missing numbers.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from analysis.data import AnalysisData, _extract, build_frames
from analysis.export import SPSS_MISSING_BASE, export
from cohort.db import engine_for
from forms.loader import dictionary_paths, load_dictionary_text

AS_OF = date(2026, 11, 22)


@pytest.fixture(scope="module")
def coded(demo_url: str) -> tuple[AnalysisData, dict[int, str]]:
    path, events = dictionary_paths()
    dictionary = load_dictionary_text(path.read_text(encoding="utf-8"),
                                      events_text=events.read_text(encoding="utf-8"),
                                      missing_text="UNK, Unknown\nNASK, Not asked")
    with engine_for(demo_url).connect() as conn:
        raw = _extract(conn, AS_OF)
    q = raw["questionnaires"].copy()
    answers = [a if isinstance(a, dict) else json.loads(a) for a in q["answers"]]
    changed: dict[int, str] = {}
    for i, (pid, tp) in enumerate(zip(q["participant_id"], q["timepoint"], strict=True)):
        if str(tp).endswith("M6") and len(changed) < 5:
            code = "UNK" if len(changed) % 2 else "NASK"
            answers[i] = {**answers[i], "share_syringe": code, "years_injecting": code}
            changed[int(pid)] = code
    q["answers"] = answers
    raw["questionnaires"] = q
    data = build_frames(raw, as_of=AS_OF, config=_config(), dictionary=dictionary)
    return data, changed


def _config():  # type: ignore[no-untyped-def]
    from analysis.data import _default_config

    return _default_config()


def test_codes_are_missing_in_the_analysis_frames(
        coded: tuple[AnalysisData, dict[int, str]]) -> None:
    data, changed = coded
    m6 = data.questionnaires[data.questionnaires["timepoint"] == "M6"].set_index(
        "participant_id")
    for pid in changed:
        assert pd.isna(m6.at[pid, "share_syringe"])
    assert not m6["share_syringe"].astype(str).isin(["UNK", "NASK"]).any()
    kept = data.missing_codes[data.missing_codes["variable"] == "share_syringe"]
    assert dict(zip(kept["participant_id"], kept["code"], strict=True)) == changed
    assert set(kept["timepoint"]) == {"M6"}


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_codes_are_exported_as_answered(coded: tuple[AnalysisData, dict[int, str]],
                                        tmp_path: Path, fmt: str) -> None:
    data, changed = coded
    result = export(data, tmp_path / f"long.{fmt}", shape="long",
                    dictionary=_dictionary_of(data))
    back = (pd.read_csv(result.path) if fmt == "csv" else
            pd.read_excel(result.path, sheet_name="data") if fmt == "xlsx"
            else pd.read_parquet(result.path))
    m6 = back[back["timepoint"] == "M6"].set_index("participant_id")
    assert {pid: m6.at[pid, "share_syringe"] for pid in changed} == changed


@pytest.mark.parametrize("fmt", ["dta", "sav"])
def test_stata_and_spss_keep_codes_as_their_missing_values(
        coded: tuple[AnalysisData, dict[int, str]], tmp_path: Path, fmt: str) -> None:
    import pyreadstat

    data, changed = coded
    result = export(data, tmp_path / f"wide.{fmt}", shape="wide",
                    dictionary=_dictionary_of(data))
    reader = pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav
    df, meta = reader(str(result.path), user_missing=True)
    rows = df.set_index("participant_id")["share_syringe_m6"]
    if fmt == "dta":
        # .a is the first code (UNK), .b the second (NASK).
        expected = {pid: {"UNK": "a", "NASK": "b"}[code] for pid, code in changed.items()}
        assert {pid: rows[pid] for pid in changed} == expected
        assert set(meta.missing_user_values["share_syringe_m6"]) == {"a", "b"}
    else:
        numbers = {"UNK": SPSS_MISSING_BASE - 1, "NASK": SPSS_MISSING_BASE - 2}
        assert {pid: rows[pid] for pid in changed} == {
            pid: numbers[code] for pid, code in changed.items()}
        labels = meta.variable_value_labels["share_syringe_m6"]
        assert labels[SPSS_MISSING_BASE - 1] == "UNK: Unknown"
    plain, _ = reader(str(result.path))  # without user_missing: plain missing values
    assert plain.set_index("participant_id").loc[list(changed), "share_syringe_m6"].isna().all()


def _dictionary_of(data: AnalysisData):  # type: ignore[no-untyped-def]
    path, events = dictionary_paths()
    return load_dictionary_text(path.read_text(encoding="utf-8"),
                                events_text=events.read_text(encoding="utf-8"),
                                missing_text="UNK, Unknown\nNASK, Not asked")
