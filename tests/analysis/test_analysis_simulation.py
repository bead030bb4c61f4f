"""Simulated cohorts with known effects: the models must recover them.

Outcomes are drawn from a *marginal* logistic model (the population-averaged model GEE
estimates), with within-participant correlation added through a Gaussian copula, so the
true group × time log-odds ratios are exactly the parameters below.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import norm

from analysis.mixed import mixed_logistic
from analysis.outcomes import gee_outcome, propensity_weights
from analysis.table1 import max_abs_smd, table1

TRUE = {"intercept": -0.4, "intervention": 0.5, "m6": -0.2, "m12": -0.3,
        "intervention:m6": -0.9, "intervention:m12": -0.7}


def simulate(n: int = 1200, rho: float = 0.5, seed: int = 20261122) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    treated = rng.random(n) < 0.5
    shared = rng.standard_normal(n)
    rows = []
    for month, m6, m12 in ((0, 0, 0), (6, 1, 0), (12, 0, 1)):
        eta = (TRUE["intercept"] + TRUE["intervention"] * treated + TRUE["m6"] * m6
               + TRUE["m12"] * m12 + TRUE["intervention:m6"] * treated * m6
               + TRUE["intervention:m12"] * treated * m12)
        z = np.sqrt(rho) * shared + np.sqrt(1 - rho) * rng.standard_normal(n)
        y = (norm.cdf(z) < expit(eta)).astype(float)
        observed = rng.random(n) < (1.0 if month == 0 else 0.8)
        rows.append(pd.DataFrame({
            "participant_id": np.arange(n), "group_itt": np.where(treated, "intervention",
                                                                   "comparison"),
            "timepoint": f"M{month}", "month": month, "outcome": y,
            "age_at_inclusion": rng.integers(18, 60, n),
        })[observed])
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("structure", ["exchangeable", "ar1"])
def test_gee_recovers_known_group_by_time_effect(structure: str) -> None:
    model = gee_outcome(simulate(), "outcome", covariates=(), cov_struct=structure)
    s = model.summary.set_index("contrast")
    for contrast, term in (("group × time interaction, M6", "intervention:m6"),
                           ("group × time interaction, M12", "intervention:m12")):
        true_or = np.exp(TRUE[term])
        assert s.loc[contrast, "ci_lower"] < true_or < s.loc[contrast, "ci_upper"], (
            contrast, s.loc[contrast].to_dict())
    at_m6 = np.exp(TRUE["intervention"] + TRUE["intervention:m6"])
    assert s.loc["intervention vs comparison at M6", "ci_lower"] < at_m6 < s.loc[
        "intervention vs comparison at M6", "ci_upper"]
    assert model.n_participants == 1200


def test_mixed_model_agrees_in_direction() -> None:
    """The random-intercept model is conditional (ORs further from 1), same direction."""
    model = mixed_logistic(simulate(n=600), "outcome", covariates=())
    s = model.summary.set_index("contrast")
    assert s.loc["group × time interaction, M6", "odds_ratio"] < 1
    assert s.loc["group × time interaction, M6", "ci_upper"] < 1
    assert model.analysis == "mixed-effects"


def test_iptw_balances_a_confounder() -> None:
    rng = np.random.default_rng(5)
    n = 2000
    age = rng.normal(35, 8, n)
    prison = (rng.random(n) < 0.4).astype(float)
    treated = rng.random(n) < expit(-3 + 0.08 * age + 0.8 * prison)
    parts = pd.DataFrame({"participant_id": np.arange(n), "age_at_inclusion": age,
                          "prison_ever": prison,
                          "group_itt": np.where(treated, "intervention", "comparison")})
    before = table1(parts, variables=("age_at_inclusion", "prison_ever"))
    weights = propensity_weights(parts, covariates=("age_at_inclusion", "prison_ever"),
                                 trim=0)
    after = table1(parts, variables=("age_at_inclusion", "prison_ever"),
                   weights=weights.weights)
    assert max_abs_smd(before) > 0.3
    assert max_abs_smd(after) < 0.05
    assert weights.summary["effective_n"].iloc[0] < n


def test_mixed_model_without_centres_and_its_contrasts_use_the_full_covariance() -> None:
    """Data without a centre column get a participant random intercept only; every
    contrast is a linear combination read with the joint covariance (the old variational
    fit had none and needed three refits)."""
    frame = simulate(n=300, seed=3)
    model = mixed_logistic(frame, "outcome", covariates=())
    assert "(1 | participant_id)" in model.formula and "centre" not in model.formula
    c = model.coefficients.set_index("term")
    s = model.summary.set_index("contrast")
    at_m6 = c.loc["intervention", "coef"] + c.loc["intervention:m6", "coef"]
    assert s.loc["intervention vs comparison at M6", "log_or"] == pytest.approx(at_m6)
    # The sum's SE is not the root of the summed variances: the covariance counts.
    naive = float(np.hypot(c.loc["intervention", "se"], c.loc["intervention:m6", "se"]))
    assert abs(s.loc["intervention vs comparison at M6", "se"] - naive) > 0.01


def test_separation_is_reported_as_not_estimable(tmp_path: Path) -> None:
    """A sparse cell (no events in one group at M6) must not become an OR of 0 or inf."""
    import warnings

    import numpy as np
    import pandas as pd

    from analysis.outcomes import gee_outcome
    from analysis.plots import forest_plot

    rng = np.random.default_rng(5)
    n = 120
    rows = []
    for pid in range(n):
        group = "intervention" if pid % 2 else "comparison"
        for tp, month in (("M0", 0), ("M6", 6), ("M12", 12)):
            y = float(rng.random() < 0.4)
            if group == "intervention" and tp == "M6":
                y = 0.0  # the sparse cell
            rows.append({"participant_id": pid, "group_itt": group, "timepoint": tp,
                         "month": month, "age_at_inclusion": 20 + pid % 30, "y": y})
    long = pd.DataFrame(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = gee_outcome(long, "y")
    assert not model.estimable
    assert any(n.startswith("not estimable") for n in model.notes)
    assert model.summary["odds_ratio"].isna().all()
    assert not model.summary["estimable"].any()
    path = forest_plot(model.summary, tmp_path / "f.png", title="t")
    assert path.exists()


@pytest.mark.parametrize("asked", ["exchangeable", "ar1"])
def test_weighted_gee_uses_an_independence_working_correlation(asked: str) -> None:
    """Visit-level weights (IPCW) are consistent only with independence, and statsmodels
    ignores weights when it estimates AR(1): a weighted model must be the independence
    fit whatever correlation the rest of the report uses, and say so."""
    import warnings

    frame = simulate(n=400, seed=11)
    rng = np.random.default_rng(2)
    frame["w"] = np.where(frame["month"] > 0, rng.uniform(0.8, 2.5, len(frame)), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        weighted = gee_outcome(frame, "outcome", covariates=(), cov_struct=asked,
                               weights="w", analysis="IPCW")
    reference = gee_outcome(frame, "outcome", covariates=(), cov_struct="independence",
                            weights="w", analysis="IPCW")
    assert weighted.cov_struct == "independence" and "independence" in weighted.formula
    assert any("independence working correlation" in n for n in weighted.notes)
    pd.testing.assert_frame_equal(weighted.summary, reference.summary)
    unweighted = gee_outcome(frame, "outcome", covariates=(), cov_struct=asked)
    assert unweighted.cov_struct == asked
