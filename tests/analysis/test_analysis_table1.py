"""Table 1 on a frame small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data import AnalysisData
from analysis.table1 import max_abs_smd, table1


@pytest.fixture
def parts() -> pd.DataFrame:
    return pd.DataFrame({
        "participant_id": range(1, 9),
        "group_itt": ["intervention"] * 4 + ["comparison"] * 4,
        "age_at_inclusion": [20, 30, 40, 50, 30, 30, 30, 30],
        "prison_ever": [1, 1, 0, None, 0, 0, 0, 1],
        "housing": ["1", "3", "3", "4", "1", "1", "3", None],
    })


def test_counts_percentages_and_smd(parts: pd.DataFrame) -> None:
    t = table1(parts, variables=("age_at_inclusion", "prison_ever", "housing"),
               variable_labels={"housing": "Where is the participant living?"},
               value_labels={"housing": {"1": "Own home", "3": "Squat", "4": "Street"}}).summary
    assert t.iloc[0][["intervention", "comparison"]].tolist() == ["4", "4"]
    age = t[(t["variable"] == "age_at_inclusion") & (t["level"] == "mean (SD)")].iloc[0]
    assert age["intervention"] == "35.0 (11.2)" and age["comparison"] == "30.0 (0.0)"
    # SMD with the pooled SD sqrt((125 + 0) / 2)
    assert float(age["smd"]) == pytest.approx(5 / np.sqrt(62.5), abs=1e-3)
    prison = t[(t["variable"] == "prison_ever") & (t["level"] == "Yes")].iloc[0]
    assert prison["intervention"] == "2 (66.7%)" and prison["comparison"] == "1 (25.0%)"
    missing = t[(t["variable"] == "prison_ever") & (t["level"] == "missing")].iloc[0]
    assert missing["intervention"] == "1" and missing["comparison"] == "0"
    squat = t[(t["variable"] == "housing") & (t["level"] == "Squat")].iloc[0]
    assert squat["intervention"] == "2 (50.0%)" and squat["comparison"] == "1 (33.3%)"
    assert "Where is the participant living?" in set(t["label"])
    assert max_abs_smd(table1(parts, variables=("age_at_inclusion",))) == pytest.approx(
        0.632, abs=1e-3)


def test_weights_change_the_balance(parts: pd.DataFrame) -> None:
    w = pd.Series([1, 1, 1, 1, 3, 1, 1, 1], index=parts["participant_id"])
    t = table1(parts, variables=("prison_ever",), weights=w).summary
    row = t[t["level"] == "Yes"].iloc[0]
    assert row["comparison"] == "1 (16.7%)"
    assert t.iloc[0]["comparison"] == "6"


def test_propensity_score_includes_every_baseline_outcome(demo_data: AnalysisData) -> None:
    """share_syringe_m0 kept an SMD of 0.166 after weighting because it was not in the
    propensity model. The M0 value of every modelled outcome is a default PS covariate,
    and Table 1 shows every PS covariate."""
    from analysis.data import BINARY_OUTCOMES
    from analysis.outcomes import PS_COVARIATES, propensity_weights
    from analysis.table1 import DEFAULT_VARIABLES

    baseline = {f"{name}_m0" for name in BINARY_OUTCOMES}
    assert baseline <= set(PS_COVARIATES) <= set(DEFAULT_VARIABLES)
    weights = propensity_weights(demo_data.participants)
    assert all(name in weights.formula for name in baseline)
    t = table1(demo_data.participants, value_labels=demo_data.value_labels).summary
    assert baseline <= set(t["variable"])


def test_default_propensity_score_balances_a_baseline_sharing_item() -> None:
    """A cohort where sharing a syringe at M0 drives who is in the intervention group:
    the default weights must balance it (|SMD| below 0.05 from about 0.5)."""
    from scipy.special import expit

    from analysis.outcomes import propensity_weights

    rng = np.random.default_rng(8)
    n = 3000
    share = (rng.random(n) < 0.3).astype(float)
    treated = rng.random(n) < expit(-0.4 + 1.2 * share)
    parts = pd.DataFrame({"participant_id": np.arange(n), "age_at_inclusion": rng.normal(
        35, 8, n), "share_syringe_m0": share,
        "group_itt": np.where(treated, "intervention", "comparison")})
    variables = ("age_at_inclusion", "share_syringe_m0")
    before = table1(parts, variables=variables)
    after = table1(parts, variables=variables,
                   weights=propensity_weights(parts, trim=0).weights)
    assert max_abs_smd(before) > 0.3
    assert max_abs_smd(after) < 0.05


def test_weighted_table_has_weighted_medians(parts: pd.DataFrame) -> None:
    """Weighted Table 1 showed unweighted medians under weighted counts and means."""
    w = pd.Series([5, 1, 1, 1, 1, 1, 1, 1], index=parts["participant_id"])
    t = table1(parts, variables=("age_at_inclusion",), weights=w).summary
    median = t[t["level"].str.contains("median")].iloc[0]
    assert median["level"] == "weighted median [IQR]"
    assert median["intervention"] == "20 [20–35]"  # weights 5, 1, 1, 1 on ages 20–50
    plain = table1(parts, variables=("age_at_inclusion",)).summary
    assert plain[plain["level"] == "median [IQR]"].iloc[0]["intervention"] == "35 [28–42]"
