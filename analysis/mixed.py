"""Mixed-effects logistic sensitivity model: a random intercept per participant.

statsmodels' ``BinomialBayesMixedGLM`` is fitted by variational Bayes with a *mean-field*
approximation: the posterior of the fixed effects is a product of independent normals,
so it reports a mean and an SD per coefficient and no covariance between coefficients.
A contrast that adds two coefficients (intervention vs comparison at M6 =
``intervention + intervention:m6``) cannot get a valid interval from it: the diagonal
ignores their strong negative correlation. So each reported contrast is read off a fit
in which it *is* a single coefficient, each family from one fit
(:data:`PARAMETERISATIONS`):

- ``group within time``: one group coefficient per timepoint (intervention vs comparison
  at M0, M6, M12);
- ``time within group``: one change from M0 per group and follow-up visit;
- ``group × time`` (the GEE's): the two group × time interactions (ratios of odds
  ratios); its coefficients are the model's ``coefficients`` table.

They are reparameterisations of one likelihood; only the independent N(0, 2²) priors
on the fixed effects differ slightly between them. Mean-field VB SDs, though, are not
invariant to the parameterisation and tend to understate posterior spread (on simulated
cohorts they sit well below the GEE's robust SEs), and the ORs are participant-specific
(conditional), further from 1 than GEE's population-averaged ORs: read this model for
direction and rough size only.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.outcomes import (
    DEFAULT_ADJUST,
    GROUP_BY_TIME,
    Z95,
    OutcomeModel,
    _formula,
    design_frame,
)

VB_OPTIONS = {"maxiter": 20_000, "maxcor": 50, "ftol": 1e-14, "gtol": 1e-9}
# name -> (main terms of the formula, {reported contrast: the single coefficient it is}).
PARAMETERISATIONS: dict[str, tuple[str, dict[str, str]]] = {
    "group within time": ("m6 + m12 + int_m0 + int_m6 + int_m12", {
        "intervention vs comparison at M0": "int_m0",
        "intervention vs comparison at M6": "int_m6",
        "intervention vs comparison at M12": "int_m12",
    }),
    "time within group": ("intervention + cmp_m6 + cmp_m12 + int_m6 + int_m12", {
        "M6 vs M0, comparison": "cmp_m6",
        "M12 vs M0, comparison": "cmp_m12",
        "M6 vs M0, intervention": "int_m6",
        "M12 vs M0, intervention": "int_m12",
    }),
    "group × time": (GROUP_BY_TIME, {
        "group × time interaction, M6": "intervention:m6",
        "group × time interaction, M12": "intervention:m12",
    }),
}
CONTRAST_ORDER = (
    "intervention vs comparison at M0", "intervention vs comparison at M6",
    "intervention vs comparison at M12", "M6 vs M0, comparison", "M12 vs M0, comparison",
    "M6 vs M0, intervention", "M12 vs M0, intervention", "group × time interaction, M6",
    "group × time interaction, M12",
)
LIMITATION = (
    "variational Bayes (mean-field): no covariance between coefficients, so each contrast "
    "is a single coefficient of a refit in its own parameterisation (group within time; "
    "time within group; group × time); VB SDs depend on the parameterisation and tend to "
    "understate uncertainty, and the ORs are participant-specific: a sensitivity "
    "analysis, compare direction with the GEE, not interval widths")


def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Indicator columns of the nested parameterisations (group at each time, time
    within each group)."""
    m0 = 1.0 - frame["m6"] - frame["m12"]
    comparison = 1.0 - frame["intervention"]
    return frame.assign(
        int_m0=frame["intervention"] * m0, int_m6=frame["intervention"] * frame["m6"],
        int_m12=frame["intervention"] * frame["m12"], cmp_m6=comparison * frame["m6"],
        cmp_m12=comparison * frame["m12"])


def fit_vb(frame: pd.DataFrame, formula: str) -> tuple[Any, list[str], list[str]]:
    """One random-intercept logistic fit: (VB result, fixed-effect names, warnings)."""
    import patsy
    import scipy.sparse as sp
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    y, x = patsy.dmatrices(formula, frame, return_type="dataframe")
    # One random-intercept column per participant, as a sparse matrix: a dense design
    # (what from_formula builds) would need visits × participants cells.
    codes, uniques = pd.factorize(frame["participant_id"])
    exog_vc = sp.csr_matrix((np.ones(len(codes)), (np.arange(len(codes)), codes)),
                            shape=(len(codes), len(uniques)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = BinomialBayesMixedGLM(
            y.iloc[:, 0].to_numpy(), x.to_numpy(), exog_vc, np.zeros(len(uniques), dtype=int),
            fep_names=list(x.columns), vcp_names=["participant"])
        # Limited-memory BFGS: the default dense BFGS stores a (2 × parameters)² matrix,
        # impossible with one random effect per participant. Tight tolerances and a
        # longer memory reach the same optimum as dense BFGS (checked on the demo cohort).
        res = model.fit_vb(fit_method="L-BFGS-B", minim_opts=VB_OPTIONS)
    return res, list(x.columns[:model.k_fep]), [str(w.message) for w in caught]


def mixed_logistic(long: pd.DataFrame, outcome: str, *, group_col: str = "group_itt",
                   covariates: Sequence[str] = DEFAULT_ADJUST) -> OutcomeModel:
    """Random-intercept logistic model of group × time, every contrast a single coefficient.

    ``summary`` has one row per contrast with the ``parameterisation`` and ``term`` it
    was read from; ``coefficients`` are the ``group × time`` fit's (as the GEE's).
    """
    from scipy.stats import norm

    frame = _cells(design_frame(long, outcome, group_col=group_col, covariates=covariates))
    rows: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    coefs = pd.DataFrame()
    sd = float("nan")
    for name, (main, spec) in PARAMETERISATIONS.items():
        res, names, caught = fit_vb(frame, _formula(covariates, frame, main))
        notes += caught
        mean = pd.Series(np.asarray(res.fe_mean), index=names)
        fe_sd = pd.Series(np.asarray(res.fe_sd), index=names)
        if main == GROUP_BY_TIME:
            coefs = pd.DataFrame({"term": names, "coef": mean.to_numpy(),
                                  "se": fe_sd.to_numpy(), "odds_ratio": np.exp(mean.to_numpy())})
            sd = float(np.exp(res.vcp_mean[0])) if len(res.vcp_mean) else float("nan")
        for contrast, term in spec.items():
            est, se = float(mean[term]), float(fe_sd[term])
            rows[contrast] = {
                "contrast": contrast, "log_or": est, "se": se, "odds_ratio": np.exp(est),
                "ci_lower": np.exp(est - Z95 * se), "ci_upper": np.exp(est + Z95 * se),
                "p": float(2 * norm.sf(abs(est / se))) if se > 0 else np.nan,
                "parameterisation": name, "term": term}
    summary = pd.DataFrame([rows[c] for c in CONTRAST_ORDER])
    summary.insert(0, "outcome", outcome)
    summary.insert(1, "analysis", "mixed-effects")
    notes += [LIMITATION, f"random-intercept SD (posterior mean) {sd:.3f}"]
    return OutcomeModel(outcome, "mixed-effects",
                        _formula(covariates, frame)
                        + "  [logit, random intercept per participant, VB; contrasts from "
                          "three parameterisations]",
                        "random intercept", len(frame), int(frame["participant_id"].nunique()),
                        summary, coefs, list(dict.fromkeys(notes)))
