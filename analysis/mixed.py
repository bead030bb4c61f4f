"""Mixed-effects logistic sensitivity model: random intercepts per participant and per centre.

The model is lme4's ``glmer(y ~ intervention * (m6 + m12) + covariates + (1 | participant)
+ (1 | centre), family = binomial)`` fitted by maximum likelihood with the Laplace
approximation. **GPBoost** (``gpboost.GPModel``, grouped random effects, Bernoulli-logit
likelihood) fits it; two things are added around it so that the numbers equal glmer's
(checked against R in ``tests/analysis/test_analysis_r_reference.py``: coefficients within
0.01, standard errors within 1%):

- **The optimum is polished.** GPBoost's optimiser stops where the Laplace likelihood is
  still slightly sloped in the flat direction of the centre variance (up to 0.016 off on
  an interaction). A few Newton steps on GPBoost's own Laplace negative log-likelihood
  (:meth:`GPModel.neg_log_likelihood`, fixed effects passed as an offset) over
  (coefficients, log variances) reach the maximum.
- **Standard errors come from the joint Hessian** of that likelihood over coefficients and
  variances, as ``vcov()`` of a glmer fit does. GPBoost's own standard errors hold the
  variances fixed and were 13% too small for the intercept. The full covariance matrix
  gives every contrast (sums of coefficients) a valid interval from one fit.

Numeric covariates are centred and scaled (``(x - mean) / sd`` over the modelled visits,
R's ``scale()``) so the likelihood is well conditioned; age's coefficient is then per SD.
Odds ratios are participant-specific (conditional on the random effects), further from 1
than the GEE's population-averaged ones: compare directions and significance, not sizes.
Nothing is random: GPBoost starts from fixed values, so the same rows give the same fit.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.design import DEFAULT_ADJUST, Z95, contrasts, design_frame, model_formula
from analysis.results import OutcomeModel
from analysis.wording import Note, Num
from forms.i18n import N_

STEP = 1e-3  # finite-difference step on (coefficients, log variances)
MAX_NEWTON = 20
LIMITATION = Note(N_(
    "random intercepts per participant and per centre (Laplace approximation, as "
    "lme4::glmer); odds ratios are participant-specific (conditional), further from 1 than "
    "the GEE's population-averaged ones: compare direction and significance"))


def _scaled(frame: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    out = frame.copy()
    for c in covariates:
        if c in out.columns and out[c].dtype != object:
            sd = float(out[c].std())
            out[c] = (out[c] - out[c].mean()) / (sd if sd > 0 else 1.0)
    return out


def _gradient(f: Any, theta: np.ndarray, h: float = STEP) -> np.ndarray:
    eye = np.eye(len(theta)) * h
    return np.array([(f(theta + e) - f(theta - e)) / (2 * h) for e in eye])


def _hessian(f: Any, theta: np.ndarray, h: float = STEP) -> tuple[np.ndarray, np.ndarray]:
    """Central-difference gradient and Hessian of ``f`` at ``theta``.

    Off-diagonal terms use the two diagonal points ``±(e_i + e_j)`` and the axis points
    already evaluated (second-order accurate, 1 + 2k + k(k-1) evaluations instead of
    1 + 2k + 2k(k-1)): each evaluation is a Laplace fit of the whole cohort.
    """
    k = len(theta)
    eye = np.eye(k) * h
    f0 = f(theta)
    plus = np.array([f(theta + eye[i]) for i in range(k)])
    minus = np.array([f(theta - eye[i]) for i in range(k)])
    grad = (plus - minus) / (2 * h)
    hess = np.diag((plus - 2 * f0 + minus) / h**2)
    for i in range(k):
        for j in range(i + 1, k):
            both = f(theta + eye[i] + eye[j]) + f(theta - eye[i] - eye[j])
            hess[i, j] = hess[j, i] = (both - plus[i] - plus[j] - minus[i] - minus[j]
                                       + 2 * f0) / (2 * h * h)
    return grad, hess


def fit_glmm(frame: pd.DataFrame, formula: str, groups: Sequence[str]
             ) -> tuple[pd.Series, pd.DataFrame, pd.Series, list[str]]:
    """Random-intercept logistic model by Laplace ML: (coefficients, their covariance,
    random-intercept SDs per grouping column, notes).

    ``frame`` holds ``formula``'s columns and every column in ``groups``.
    """
    import gpboost as gpb
    import patsy

    y, x = patsy.dmatrices(formula, frame, return_type="dataframe")
    yy = y.iloc[:, 0].to_numpy(dtype=float)
    xx = x.to_numpy(dtype=float)
    group_data = np.column_stack([frame[g].astype(str).to_numpy() for g in groups])
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # One thread: the report runs models in parallel processes, and OpenMP threads
        # competing for two cores made a 3 s fit take a minute.
        model = gpb.GPModel(group_data=group_data, likelihood="bernoulli_logit",
                            num_parallel_threads=1)
        model.fit(y=yy, X=x)
    notes += [str(w.message) for w in caught]
    beta = np.asarray(model.get_coef()).ravel()
    variances = np.asarray(model.get_cov_pars()).ravel()
    p = len(beta)
    # A variance at the boundary (no centre effect, say) is held at 0, as glmer reports
    # it: its log has no curvature there, and the Hessian would be singular.
    free = variances > 1e-4  # an SD below 0.01 on the log-odds scale is no effect
    held = np.where(free, 0.0, 1e-12)
    if not free.all():
        notes.append(Note(N_("a random-intercept variance is estimated at 0 (boundary) and "
                             "held there")))

    def nll(theta: np.ndarray) -> float:
        var = held.copy()
        var[free] = np.exp(theta[p:])
        return float(model.neg_log_likelihood(cov_pars=var, y=yy,
                                              fixed_effects=xx @ theta[:p]))

    theta = np.r_[beta, np.log(variances[free])]
    try:
        # Newton steps with the first Hessian kept (2k evaluations a step instead of
        # k²): from GPBoost's nearly optimal start they converge in a few steps. The
        # standard errors use that Hessian too: over steps of ~0.01 it changes by
        # well under 1% (checked against glmer in the tests).
        grad, hess = _hessian(nll, theta)
        for _ in range(MAX_NEWTON):
            step = np.linalg.solve(hess, grad)
            if not np.isfinite(step).all() or nll(theta - step) > nll(theta) + 1e-9:
                break
            theta = theta - step
            if np.abs(step).max() < 1e-6:
                break
            grad = _gradient(nll, theta)
        else:
            notes.append(Note(N_("Newton polishing of the Laplace optimum did not settle in "
                                 "{steps} steps"), steps=MAX_NEWTON))
        cov = np.linalg.inv(hess)[:p, :p]
    except np.linalg.LinAlgError:
        notes.append(Note(N_("the likelihood's Hessian is singular: GPBoost's own estimates "
                             "and standard errors (variances held fixed) are shown")))
        theta = np.r_[beta, np.log(variances[free])]
        cov = np.diag(np.asarray(model.get_coef(std_err=True)).reshape(2, -1)[1] ** 2)
    final = held.copy()
    final[free] = np.exp(theta[p:])
    names = list(x.columns)
    sds = pd.Series(np.sqrt(np.where(free, final, 0.0)), index=list(groups))
    return (pd.Series(theta[:p], index=names), pd.DataFrame(cov, index=names, columns=names),
            sds, notes)


def mixed_logistic(long: pd.DataFrame, outcome: str, *, group_col: str = "group_itt",
                   covariates: Sequence[str] = DEFAULT_ADJUST,
                   centre_col: str | None = "centre_code") -> OutcomeModel:
    """Random-intercept logistic model of group × time; every contrast from one fit.

    ``centre_col`` adds a random intercept per centre (``None``: per participant only,
    for data without centres).
    """
    extra = [centre_col] if centre_col and centre_col in long.columns else []
    frame = design_frame(long, outcome, group_col=group_col, covariates=covariates,
                         extra=extra)
    # Rows in a fixed order: GPBoost's inner mode-finding stops at a tolerance, so the
    # same rows shuffled would move the fourth decimal.
    frame = _scaled(frame.sort_values(["participant_id", "step"], kind="stable"), covariates)
    formula = model_formula(covariates, frame)
    groups = ["participant_id", *extra]
    params, cov, sds, notes = fit_glmm(frame, formula, groups)
    summary = contrasts(params, cov)
    summary.insert(0, "outcome", outcome)
    summary.insert(1, "analysis", "mixed-effects")
    se = np.sqrt(np.diag(cov.to_numpy()))
    coefs = pd.DataFrame({"term": params.index, "coef": params.to_numpy(), "se": se,
                          "odds_ratio": np.exp(params.to_numpy()),
                          "ci_lower": np.exp(params.to_numpy() - Z95 * se),
                          "ci_upper": np.exp(params.to_numpy() + Z95 * se)})
    sd_notes = [
        Note(N_("SD of the participant random intercept (log-odds scale): {sd}"),
             sd=Num(v, ".3f")) if g == "participant_id" else
        Note(N_("SD of the centre random intercept (log-odds scale): {sd}"),
             sd=Num(v, ".3f")) if g == centre_col else
        Note(N_("SD of the {name} random intercept (log-odds scale): {sd}"), name=g,
             sd=Num(v, ".3f"))
        for g, v in sds.items()]
    scaled = [c for c in covariates if c in frame.columns and frame[c].dtype != object]
    scale_note = ([Note(N_("numeric covariates centred and scaled to SD 1: {names}"),
                        names=", ".join(scaled))] if scaled else [])
    random_part = " + (1 | participant_id)" + "".join(f" + (1 | {c})" for c in extra)
    return OutcomeModel(outcome, "mixed-effects",
                        Note(N_("{formula}  [logit, Laplace ML (GPBoost, polished); SEs from "
                                "the joint Hessian]"), formula=formula + random_part),
                        "random intercepts", len(frame), int(frame["participant_id"].nunique()),
                        summary, coefs,
                        list(dict.fromkeys([LIMITATION, *sd_notes, *scale_note, *notes])))
