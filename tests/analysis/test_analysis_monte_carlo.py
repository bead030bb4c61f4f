"""CI-sized Monte Carlo check of the report's models (the full run is
``validation/monte_carlo.py``, 200 cohorts): on simulated cohorts with known effects,
95% intervals must cover the truth between 85% and 99% of the time, with small bias.
A second check shows why the primary analysis clusters on centre: with centres that
differ in how well they deliver the intervention, errors clustered on the participant
under-cover, the centre-clustered bias-reduced ones do not."""

from __future__ import annotations

import pytest

from validation.monte_carlo import run


@pytest.fixture(scope="module")
def table() -> dict[str, dict[str, float]]:
    summary = run(cohorts=60, participants=300, seed=8, workers=2)
    return summary.set_index("model").to_dict("index")


@pytest.mark.parametrize("model", [
    "ITT GEE, participant-clustered", "ITT GEE, centre-clustered (bias-reduced, t19)",
    "Cox, centre-clustered (Efron)", "mixed-effects (Laplace, GPBoost)"])
def test_coverage_and_bias(table: dict[str, dict[str, float]], model: str) -> None:
    row = table[model]
    assert row["cohorts"] == 60
    assert 0.85 <= row["coverage_95"] <= 0.99, row
    assert abs(row["bias"]) < 0.15, row
    assert 0.7 < row["mean_se_over_sd"] < 1.4, row


def test_ignoring_centres_under_covers() -> None:
    summary = run(cohorts=40, participants=1500, seed=5, icc=0.15, workers=2,
                  models=("gee",)).set_index("model")
    ignoring = summary.loc["ITT GEE, participant-clustered"]
    clustered = summary.loc["ITT GEE, centre-clustered (bias-reduced, t19)"]
    assert ignoring["coverage_95"] < 0.85 and ignoring["mean_se_over_sd"] < 0.8
    assert 0.85 <= clustered["coverage_95"] <= 0.99
