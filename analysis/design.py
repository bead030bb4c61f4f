"""The group × time design every outcome model shares: contrasts, model frame, formulas.

Kept apart from the fitting modules (:mod:`analysis.outcomes`, :mod:`analysis.clustered`,
:mod:`analysis.mixed`, :mod:`analysis.missing`, :mod:`analysis.weighting`) so that each
of them depends on this one floor below it instead of on one another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis import visits
from analysis.data import BINARY_OUTCOMES
from analysis.wording import Note, Num
from cohort.schedule import get_schedule
from forms.i18n import N_

Z95 = 1.959963984540054
COV_STRUCTS = ("exchangeable", "ar1", "independence")
DEFAULT_ADJUST: tuple[str, ...] = ("age_at_inclusion",)
# The propensity score uses baseline characteristics and the M0 value of every outcome
# modelled (composites and each sharing item): groups differed at baseline on them, and
# Table 1 shows the balance of exactly these (see analysis.table1.DEFAULT_VARIABLES).
PS_COVARIATES: tuple[str, ...] = (
    "age_at_inclusion", "gender", "reached_via", "housing", "income_source", "education",
    "years_injecting", "prison_ever", "oat_current_m0",
    *(f"{name}_m0" for name in BINARY_OUTCOMES),
)
# Beyond |log-odds| 10 (an odds ratio above 22,000) a coefficient says "separation", not
# an effect: the model is reported as not estimable rather than as a result.
MAX_ABS_COEF = 10.0
def estimability(res: Any, b: np.ndarray, se: np.ndarray) -> str | None:
    """Why a fit cannot be reported (no convergence, separation), or None if it can."""
    converged = getattr(res, "converged", True)
    fit_history = getattr(res, "fit_history", {}) or {}
    if converged is False or fit_history.get("converged") is False:
        return Note(N_("the GEE did not converge"))
    if not (np.isfinite(b).all() and np.isfinite(se).all()):
        return Note(N_("some estimates or standard errors are not finite"))
    big = np.abs(b) > MAX_ABS_COEF
    if big.any():
        return Note(N_("|log-odds| above {limit} (separation: a group × time cell with "
                       "almost no or only events)"), limit=Num(MAX_ABS_COEF, "g"))
    return None


def contrasts(params: pd.Series, cov: pd.DataFrame,
              spec: dict[str, dict[str, float]] | None = None) -> pd.DataFrame:
    """Odds ratios with Wald 95% CIs for linear combinations of log-odds coefficients
    (by default every contrast of the schedule, :func:`analysis.visits.contrast_spec`)."""
    from scipy.stats import norm

    spec = visits.contrast_spec() if spec is None else spec
    names = list(params.index)
    b = params.to_numpy(dtype=float)
    v = cov.loc[names, names].to_numpy(dtype=float)
    rows = []
    for name, weights in spec.items():
        vec = np.array([float(weights.get(term, 0.0)) for term in names])
        est = float(vec @ b)
        se = float(np.sqrt(vec @ v @ vec))
        z = est / se if se > 0 else np.nan
        rows.append({"contrast": name, "log_or": est, "se": se, "odds_ratio": np.exp(est),
                     "ci_lower": np.exp(est - Z95 * se), "ci_upper": np.exp(est + Z95 * se),
                     "p": float(2 * norm.sf(abs(z))) if np.isfinite(z) else np.nan})
    return pd.DataFrame(rows)


def design_frame(long: pd.DataFrame, outcome: str, *, group_col: str = "group_itt",
                 covariates: Sequence[str] = (), extra: Sequence[str] = ()) -> pd.DataFrame:
    """Model columns from the long questionnaire frame: y, intervention, one indicator per
    follow-up visit (m6, m12), step (the visit's rank)."""
    schedule = get_schedule()
    columns: dict[str, Any] = {
        "participant_id": long["participant_id"].to_numpy(),
        "y": pd.to_numeric(long[outcome], errors="coerce").astype(float).to_numpy(),
        "intervention": (long[group_col] == "intervention").astype(float).to_numpy(),
    }
    for visit in schedule.follow_ups:
        columns[visit.key] = (long["timepoint"] == visit.name).astype(float).to_numpy()
    columns["step"] = long["timepoint"].map(visits.steps(schedule)).fillna(-1).astype(int
                                                                                  ).to_numpy()
    frame = pd.DataFrame(columns, index=long.index)
    frame = frame[long[group_col].notna().to_numpy()]
    for col in (*covariates, *extra):
        frame[col] = long.loc[frame.index, col]
        if frame[col].dtype == object:
            frame[col] = frame[col].fillna("missing").astype(str)
        else:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame.dropna()


def model_formula(covariates: Sequence[str], frame: pd.DataFrame, main: str | None = None
                  ) -> str:
    """``y ~ intervention * (m6 + m12) + covariates`` (the schedule's follow-up visits)."""
    terms = [main if main is not None else visits.group_by_time()]
    for c in covariates:
        terms.append(f"C({c})" if frame[c].dtype == object else c)
    return "y ~ " + " + ".join(terms)


def covariate_frame(p: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    out = pd.DataFrame(index=p.index)
    for c in covariates:
        if c not in p.columns:
            continue
        col = p[c]
        if col.dtype == object or isinstance(col.dtype, pd.CategoricalDtype):
            out[c] = col.astype(object).where(col.notna(), "missing").astype(str)
        else:
            num = pd.to_numeric(col, errors="coerce").astype(float)
            out[c] = num.fillna(num.median() if num.notna().any() else 0.0)
    return out


def logit_formula(target: str, x: pd.DataFrame) -> str:
    terms = [f"C({c})" if x[c].dtype == object else c for c in x.columns
             if x[c].nunique() > 1]
    return f"{target} ~ " + (" + ".join(terms) if terms else "1")
