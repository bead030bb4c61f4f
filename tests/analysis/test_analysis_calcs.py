"""Composites come from the dictionary's calc fields, and enrolment words become codes.

Design rule (DESIGN §4): questionnaire content is not hard-coded in Python, so a change
to a calc expression in ``data_dictionary.csv`` must change the analysis frames.
"""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

import forms
from analysis.data import compute_calc_columns
from tests.analysis.conftest import AS_OF


def _dictionary_with_calc(name: str, expression: str) -> forms.DataDictionary:
    base = forms.default_dictionary()
    rows = list(csv.reader(io.StringIO(base.to_csv())))
    for row in rows[1:]:
        if row[0] == name:
            row[5] = expression
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return forms.load_dictionary_text(out.getvalue(), events_text=base.events.to_csv())


ITEMS = ("share_syringe", "share_cooker", "share_filter", "share_water")
FRAME = pd.DataFrame({
    "share_syringe": ["1", "0", "0", None, "0"],
    "share_cooker": ["0", "0", None, None, "0"],
    "share_filter": ["0", "0", "0", None, "0"],
    "share_water": ["0", "0", "0", None, "1"],
})


def test_composites_follow_the_dictionary_expression() -> None:
    default = compute_calc_columns(FRAME, forms.default_dictionary())
    expected = [forms.default_dictionary().compute_calcs(
        {k: v for k, v in row.items() if v is not None}).get("any_risk_practice")
        for row in FRAME.to_dict("records")]
    got = [None if pd.isna(v) else int(v) for v in default["any_risk_practice"]]
    assert got == expected
    # "1 if any yes, 0 only if every item was answered no, blank otherwise"
    strict = _dictionary_with_calc(
        "any_risk_practice",
        "if(" + " or ".join(f"[{i}]='1'" for i in ITEMS) + ", 1, if("
        + " and ".join(f"[{i}]='0'" for i in ITEMS) + ", 0, ''))")
    strict_values = compute_calc_columns(FRAME, strict)["any_risk_practice"]
    assert [None if pd.isna(v) else int(v) for v in strict_values] == [1, 0, None, None, 1]
    # A study that drops water from the composite changes the frames without code.
    narrow = _dictionary_with_calc("any_risk_practice", "if([share_syringe]='1', 1, 0)")
    assert compute_calc_columns(FRAME, narrow)["any_risk_practice"].tolist()[4] == 0


def test_calcs_run_once_per_distinct_combination(monkeypatch: pytest.MonkeyPatch) -> None:
    dictionary = forms.default_dictionary()
    calls = []
    original = dictionary.compute_calcs

    def counting(answers: dict[str, object], **kw: object) -> dict[str, object]:
        calls.append(answers)
        return original(answers)

    monkeypatch.setattr(dictionary, "compute_calcs", counting)
    big = pd.concat([FRAME] * 2000, ignore_index=True)
    out = compute_calc_columns(big, dictionary)
    assert len(out) == 10_000
    assert len(calls) <= 3 * len(FRAME)  # three calcs, five distinct rows each


def test_enrolment_words_become_dictionary_codes(demo_data: object) -> None:
    parts = demo_data.participants  # type: ignore[attr-defined]
    assert set(parts["gender"].dropna()) <= {"1", "2", "3", "4"}
    assert set(parts["reached_via"].dropna()) <= {"1", "2", "3"}
    assert parts["gender"].notna().all()


def test_an_unknown_stored_word_is_refused() -> None:
    from analysis.data import build_frames
    from bench.bench_analysis import synthesise
    from cohort.rules import ProtocolConfig

    raw = synthesise(30, seed=3)
    raw["participants"].loc[0, "gender"] = "robot"
    with pytest.raises(ValueError, match="participants.gender holds 'robot'"):
        build_frames(raw, as_of=AS_OF, config=ProtocolConfig())
