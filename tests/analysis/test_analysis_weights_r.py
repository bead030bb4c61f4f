"""IPTW and IPTW × IPCW standard errors against R: every estimated part of the weights is
stacked with the outcome model (:mod:`analysis.weighting`).

Rows: ``reference/ps.csv`` (the propensity score's inputs), ``reference/completion_m6.csv``
and ``completion_m12.csv`` (each follow-up visit's completion model, M12's with the M6
answers) and ``reference/visits.csv``, all made by ``reference/make_data.py`` from the
same 1,000-participant demo (20 centres). R's numbers below were printed by
``reference/weights.R`` (base R 4.2: ``glm`` fits, the stacked sandwich by hand, its bread
checked against finite differences of the stacked estimating functions; output kept in
``reference/weights.Rout``). CI has no R: the values are stored here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.clustered import fit_clustered_logit
from analysis.data import AnalysisData
from analysis.design import DEFAULT_ADJUST, design_frame, model_formula
from analysis.models import outcome_analysis
from analysis.outcomes import propensity_weights
from analysis.results import WeightsResult
from analysis.weighting import censoring_fit, censoring_weights_previous, stacked_iptw_fit

HERE = Path(__file__).parent / "reference"
FORMULA = "y ~ intervention * (m6 + m12) + age_at_inclusion"
R_ORDER = ["Intercept", "intervention", "m6", "m12", "age_at_inclusion", "intervention:m6",
           "intervention:m12"]


def _read(name: str) -> pd.DataFrame:
    frame = pd.read_csv(HERE / name, keep_default_na=False)
    for col in frame.columns:
        if col.startswith("cat_"):
            frame[col] = frame[col].astype(str)
    return frame


@pytest.fixture(scope="module")
def weights() -> tuple[WeightsResult, WeightsResult]:
    ps = _read("ps.csv")
    ps["group_itt"] = np.where(ps["treated"] == 1, "intervention", "comparison")
    covariates = [c for c in ps.columns
                  if c not in ("participant_id", "centre_code", "treated", "group_itt")]
    iptw = propensity_weights(ps, covariates=covariates)
    blocks = {"M6": _read("completion_m6.csv"), "M12": _read("completion_m12.csv")}
    for block in blocks.values():
        block.rename(columns={"cat_centre": "centre"}, inplace=True)
    return iptw, censoring_fit(blocks)


def _frame(outcome: str, iptw: WeightsResult, ipcw: WeightsResult) -> pd.DataFrame:
    v = pd.read_csv(HERE / "visits.csv")
    d = v.dropna(subset=[outcome]).copy()
    d["y"] = d[outcome].astype(float)
    d["intervention"] = (d["group_itt"] == "intervention").astype(float)
    d["m6"] = (d["timepoint"] == "M6").astype(float)
    d["m12"] = (d["timepoint"] == "M12").astype(float)
    d["iptw"] = d["participant_id"].map(iptw.weights).fillna(1.0)
    keys = pd.MultiIndex.from_arrays([d["participant_id"], d["timepoint"]])
    d["ipcw"] = ipcw.weights.reindex(keys).fillna(1.0).to_numpy()
    d["iptw_ipcw"] = d["iptw"] * d["ipcw"]
    return d



R_STACKED = {  # weights.R: coef, SE of the full stack, SE with the weights taken as known
    ("any_risk_practice", "iptw"): (
        [-0.87521026388788, 0.02456939265214, -0.40346264441839, -0.05576991381945,
         0.00506467751119, 0.03029323645065, -0.32891585511721],
        [0.29905985431253, 0.01713175209955, 0.15868225867894, 0.16227167005663,
         0.00666768911642, 0.21809316958474, 0.26297340325876],
        [0.30160714118425, 0.13020060560561, 0.16281387609679, 0.16362012153111,
         0.00678133932777, 0.24214487226375, 0.27112617824221]),
    ("any_risk_practice", "iptw_ipcw"): (
        [-0.89423707035854, 0.02459832044136, -0.45464676355306, -0.14524385514212,
         0.00558056096645, 0.07212988867084, -0.15286584596211],
        [0.28727595783118, 0.01714808949725, 0.17477667114168, 0.16999618304511,
         0.00626474705879, 0.22833330576638, 0.27609972432499],
        [0.28399400319441, 0.13023446243937, 0.17277697066202, 0.16732848161543,
         0.00650098268137, 0.25810594914042, 0.29649445661906]),
    ("any_complication", "iptw"): (
        [0.13000487142407, 0.01848487111715, 0.20698421119856, 0.14385599394206,
         0.00406291955759, -0.49038250259065, -1.15686624435700],
        [0.2595171942313, 0.0132240154336, 0.1332106377241, 0.1995200611077,
         0.0069010418184, 0.1924132179614, 0.2465027503983],
        [0.27145554928457, 0.14438844195906, 0.13677009585617, 0.20904551434659,
         0.00675478137736, 0.21430787604392, 0.27002668783621]),
    ("any_complication", "iptw_ipcw"): (
        [0.18440787919510, 0.01840271021348, 0.21974343958981, 0.07523225782990,
         0.00258071847419, -0.52987863107765, -0.96163623774944],
        [0.26491463690393, 0.01320919919780, 0.13829314897924, 0.21220446049822,
         0.00715231399237, 0.20161419310609, 0.27351385322863],
        [0.2721339026653, 0.1443860985331, 0.1464213869607, 0.2077606415473,
         0.0067662915283, 0.2249626487837, 0.2709950871360]),
}


@pytest.mark.parametrize(("outcome", "weight"), sorted(R_STACKED))
def test_stacked_sandwich_equals_r(weights: tuple[WeightsResult, WeightsResult],
                                   outcome: str, weight: str) -> None:
    """Coefficients and SEs within 1e-8 of R (the bar is 1e-6; they agree to ~1e-12)."""
    iptw, ipcw = weights
    d = _frame(outcome, iptw, ipcw)
    fit = stacked_iptw_fit(d, FORMULA, "centre_code", iptw, weights=weight,
                           ipcw=ipcw if weight == "iptw_ipcw" else None)
    coef, se, known = R_STACKED[(outcome, weight)]
    s = fit.summary.set_index("term").loc[R_ORDER]
    np.testing.assert_allclose(s["coef"], coef, atol=1e-8, rtol=0)
    np.testing.assert_allclose(s["se"], se, atol=1e-8, rtol=0)
    # The weights-known column is the plain centre sandwich × G/(G−1) of the same fit.
    plain = fit_clustered_logit(d, FORMULA, "centre_code", weights=weight).cov_plain
    np.testing.assert_allclose(np.sqrt(np.diag(plain.loc[R_ORDER, R_ORDER]) * 20 / 19), known,
                               atol=1e-8, rtol=0)
    assert fit.n_clusters == 20 and fit.df == 19


def test_every_part_of_the_weights_moves_the_errors(
        weights: tuple[WeightsResult, WeightsResult]) -> None:
    """Leaving the censoring models out of the stack (IPCW taken as known) changes the
    IPTW × IPCW errors; the stacked errors do not depend on the rows' order."""
    iptw, ipcw = weights
    d = _frame("any_complication", iptw, ipcw)
    full = stacked_iptw_fit(d, FORMULA, "centre_code", iptw, weights="iptw_ipcw", ipcw=ipcw)
    part = stacked_iptw_fit(d, FORMULA, "centre_code", iptw, weights="iptw_ipcw")
    gap = (full.summary["se"] - part.summary["se"]).abs().max()
    assert gap > 1e-3
    assert "completion models and completion rates of M6, M12" in full.notes[-1]
    shuffled = stacked_iptw_fit(d.sample(frac=1, random_state=5), FORMULA, "centre_code",
                                iptw, weights="iptw_ipcw", ipcw=ipcw)
    np.testing.assert_allclose(shuffled.summary["se"], full.summary["se"], rtol=1e-10)


def test_aliased_columns_of_the_m12_model_leave_the_weights_alone(
        weights: tuple[WeightsResult, WeightsResult]) -> None:
    """M12's design repeats did_m6 in each M6 answer's "not done" level: the stack drops
    the repeats (R drops 2 columns) and the weights are R's."""
    _, ipcw = weights
    exog = ipcw.details["M12"]["exog"]
    assert np.linalg.matrix_rank(exog) == exog.shape[1] - 2
    block = _read("completion_m12.csv")
    assert len(ipcw.details["M12"]["observed"]) == len(block) == 564


def test_report_models_use_the_full_stack(demo_data: AnalysisData) -> None:
    """The report's IPTW × IPCW model is the stacked fit with the censoring models."""
    res = outcome_analysis(demo_data, outcomes=("any_risk_practice",), mixed=(),
                           missing=False, workers=1)
    model = next(m for m in res.models if m.analysis == "IPTW + IPCW")
    assert "every weight's model estimated" in model.formula
    assert "completion models" in " ".join(model.notes)
    assert res.ipcw is not None and set(res.ipcw.details) == {"M6", "M12"}
    cw = censoring_weights_previous(demo_data)
    assert cw.weights.equals(res.ipcw.weights)
    long = demo_data.long
    long = long.assign(iptw=long["participant_id"].map(res.iptw.weights).fillna(1.0),
                       ipcw=cw.weights.reindex(long.index).fillna(1.0).to_numpy())
    long["iptw_ipcw"] = long["iptw"] * long["ipcw"]
    frame = design_frame(long, "any_risk_practice", covariates=DEFAULT_ADJUST,
                         extra=["centre_code", "iptw_ipcw"])
    formula = model_formula(DEFAULT_ADJUST, frame)
    fits = [stacked_iptw_fit(frame, formula, "centre_code", res.iptw, weights="iptw_ipcw",
                             ipcw=extra) for extra in (cw, None)]
    ours = model.coefficients.set_index("term")["se"]
    np.testing.assert_allclose(ours, fits[0].summary.set_index("term")["se"], rtol=1e-12)
    # Small here (120 participants), but present: the censoring models are in the stack.
    assert (ours - fits[1].summary.set_index("term")["se"]).abs().max() > 1e-5
