"""Missing follow-up questionnaires: multiple imputation and a tipping-point analysis.

Both work on the primary outcome in wide form (one row per participant whose visit
windows have closed: its value at M0, M6 and M12) and refit the primary analysis (the
centre-clustered GEE) on every completed data set, pooled by Rubin's rules.

- **MICE** (statsmodels ``MICEData``: chained equations, predictive mean matching),
  imputing M6 and M12 from each other, M0, group, age and centre: the answer under
  *missing at random* given those.
- **Delta-adjusted tipping point** for data *missing not at random*: a logistic
  imputation model (M0, group, age; its coefficients drawn from their approximate
  posterior, so the imputation is proper), with ``delta`` added to the log-odds of the
  imputed values in the intervention group only — intervention participants who missed
  a visit assumed *worse* than those who came. The table gives the primary effect for
  each delta; the tipping point is the smallest delta at which it stops being
  significant at 5%.

Randomness comes from one seed (the report prints it), so reruns give the same numbers.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis import visits
from analysis.clustered import fit_clustered_logit
from analysis.data import AnalysisData, window_close_day
from analysis.design import design_frame, model_formula
from analysis.results import ResultBase
from analysis.wording import Note, Num
from cohort.schedule import get_schedule
from forms.i18n import N_

DELTAS: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)


@dataclass
class PooledResult(ResultBase):
    """Rubin's-rules estimate of one contrast: ``summary`` has a row per analysis."""

    summary: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def wide_outcome(data: AnalysisData, outcome: str) -> pd.DataFrame:
    """Participants with a closed first follow-up window: the outcome at every visit
    (``y_m0``, ``y_m6``…; NaN when missing). A later visit counts only if its window has
    closed or it was done (``m12_due``…)."""
    p = data.participants
    q = data.questionnaires
    schedule = data.config.schedule
    as_of = pd.Timestamp(data.snapshot.as_of)
    out = p[["participant_id", "centre_code", "group_itt", "age_at_inclusion"]].copy()
    for visit in schedule:
        vals = q[q["timepoint"] == visit.name].drop_duplicates("participant_id").set_index(
            "participant_id")[outcome]
        out[f"y_{visit.key}"] = out["participant_id"].map(
            pd.to_numeric(vals, errors="coerce")).astype(float)
    first = schedule.follow_ups[0]
    closes_first = p["inclusion_date"] + pd.Timedelta(days=window_close_day(data.config,
                                                                            first.name))
    keep = ((closes_first <= as_of) | out[f"y_{first.key}"].notna()) \
        & out[f"y_{schedule.baseline.key}"].notna() & out["group_itt"].notna()
    for visit in schedule.follow_ups[1:]:
        closes = p["inclusion_date"] + pd.Timedelta(days=window_close_day(data.config,
                                                                          visit.name))
        still_open = (closes > as_of) & out[f"y_{visit.key}"].isna()
        out[f"{visit.key}_due"] = ~still_open
    out["intervention"] = (out["group_itt"] == "intervention").astype(float)
    return out[keep.to_numpy()].reset_index(drop=True)


def _long(wide: pd.DataFrame, outcome: str) -> pd.DataFrame:
    rows = []
    for visit in get_schedule():
        block = wide[["participant_id", "centre_code", "group_itt", "age_at_inclusion"]].copy()
        block["timepoint"], block["month"] = visit.name, visit.month
        block[outcome] = wide[f"y_{visit.key}"].to_numpy()
        if f"{visit.key}_due" in wide.columns:
            block = block[wide[f"{visit.key}_due"].to_numpy()]
        rows.append(block)
    return pd.concat(rows, ignore_index=True)


def _fit(long: pd.DataFrame, outcome: str, contrast: str,
         covariates: Sequence[str]) -> tuple[float, float, int]:
    frame = design_frame(long, outcome, covariates=covariates, extra=["centre_code"])
    fit = fit_clustered_logit(frame, model_formula(covariates, frame), "centre_code")
    spec = visits.contrast_spec()[contrast]
    vec = np.array([spec.get(t, 0.0) for t in fit.params.index])
    cov = fit.cov.to_numpy()
    return float(vec @ fit.params.to_numpy()), float(vec @ cov @ vec), fit.df


def rubin(estimates: Sequence[float], variances: Sequence[float], df_complete: int
          ) -> dict[str, float]:
    """Rubin's rules with the Barnard–Rubin small-sample degrees of freedom."""
    q, u = np.asarray(estimates), np.asarray(variances)
    m = len(q)
    qbar, ubar, b = q.mean(), u.mean(), q.var(ddof=1) if m > 1 else 0.0
    total = ubar + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / total if total > 0 else 0.0
    df_old = (m - 1) / lam**2 if lam > 0 else np.inf
    df_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
    df = 1 / (1 / df_old + 1 / df_obs) if np.isfinite(df_old) else df_obs
    se = float(np.sqrt(total))
    tq = stats.t.ppf(0.975, df)
    return {"log_or": float(qbar), "se": se, "odds_ratio": float(np.exp(qbar)),
            "ci_lower": float(np.exp(qbar - tq * se)), "ci_upper": float(np.exp(qbar + tq * se)),
            "p": float(2 * stats.t.sf(abs(qbar / se), df)) if se > 0 else np.nan,
            "df": float(df), "fraction_missing_info": float(lam)}


def mice_analysis(data: AnalysisData, outcome: str, contrast: str, *, seed: int,
                  imputations: int = 10, covariates: Sequence[str] = ("age_at_inclusion",),
                  burn_in: int = 5) -> PooledResult:
    """Primary analysis refitted on ``imputations`` MICE data sets, pooled."""
    from statsmodels.imputation.mice import MICEData

    wide = wide_outcome(data, outcome)
    schedule = data.config.schedule
    ys = [f"y_{v.key}" for v in schedule]
    frame = wide[[*ys, "intervention", "age_at_inclusion"]].copy()
    frame["age_at_inclusion"] = frame["age_at_inclusion"].astype(float)
    centres = pd.get_dummies(wide["centre_code"], prefix="c", drop_first=True, dtype=float)
    frame = pd.concat([frame, centres], axis=1)
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imp = MICEData(frame, k_pmm=10, rng=rng)
        est, var = [], []
        df = 19
        for _ in range(imputations):
            imp.update_all(burn_in)
            done = wide.copy()
            for visit in schedule.follow_ups:
                y, due = f"y_{visit.key}", f"{visit.key}_due"
                done[y] = (np.where(wide[due], imp.data[y].to_numpy(), np.nan)
                           if due in wide.columns else imp.data[y].to_numpy())
            b, v, df = _fit(_long(done, outcome), outcome, contrast, covariates)
            est.append(b)
            var.append(v)
    row = {"outcome": outcome, "contrast": contrast,
           "analysis": f"multiple imputation (MICE, {imputations} imputations)",
           **rubin(est, var, df), "seed": seed,
           **{f"imputed_{v.key}": int((wide[f"y_{v.key}"].isna()
                                       & wide.get(f"{v.key}_due", True)).sum())
              for v in schedule.follow_ups}}
    return PooledResult(pd.DataFrame([row]), [Note(N_(
        "MICE by predictive mean matching (statsmodels MICEData, k=10, {cycles} cycles "
        "between imputations), seed {seed}; imputation model: {visits}, group, age, centre"),
        cycles=burn_in, seed=seed, visits=", ".join(schedule.names))])


def tipping_point(data: AnalysisData, outcome: str, contrast: str, visit: str, *, seed: int,
                  deltas: Sequence[float] = DELTAS, imputations: int = 10,
                  covariates: Sequence[str] = ("age_at_inclusion",)) -> PooledResult:
    """Delta-adjusted imputation of the missing ``visit`` values, intervention only."""
    import statsmodels.api as sm

    wide = wide_outcome(data, outcome)
    col = f"y_{visit.lower()}"
    base = f"y_{data.config.schedule.baseline.key}"
    x = np.column_stack([np.ones(len(wide)), wide["intervention"], wide[base],
                         (wide["age_at_inclusion"] - wide["age_at_inclusion"].mean()) / 10])
    seen = wide[col].notna().to_numpy()
    due = f"{visit.lower()}_due"
    missing = ~seen & (wide[due].to_numpy() if due in wide.columns else True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(wide.loc[seen, col].to_numpy(), x[seen],
                     family=sm.families.Binomial()).fit()
    rows = []
    for delta in deltas:
        rng = np.random.default_rng([seed, int(round(delta * 1000))])
        est, var, df = [], [], 19
        for _ in range(imputations):
            beta = rng.multivariate_normal(np.asarray(fit.params), np.asarray(fit.cov_params()))
            eta = x[missing] @ beta + delta * wide["intervention"].to_numpy()[missing]
            done = wide.copy()
            vals = done[col].to_numpy().copy()
            vals[missing] = (rng.random(int(missing.sum())) < 1 / (1 + np.exp(-eta)))
            done[col] = vals
            b, v, df = _fit(_long(done, outcome), outcome, contrast, covariates)
            est.append(b)
            var.append(v)
        rows.append({"outcome": outcome, "contrast": contrast, "delta": delta, **rubin(
            est, var, df)})
    table = pd.DataFrame(rows)
    crossed = table[table["p"] >= 0.05]
    tip = float(crossed["delta"].min()) if len(crossed) else np.nan
    note = (Note(N_("not significant at 5% even with delta = 0 (missing at random): there is "
                    "no significant result to tip")) if np.isfinite(tip) and tip == min(deltas)
            else Note(N_("tipping point: delta = {delta} on the log-odds of imputed {visit} "
                         "values in the intervention group"), delta=Num(tip, "g"), visit=visit)
            if np.isfinite(tip) else
            Note(N_("no tipping point up to delta = {delta}: the primary result holds even if "
                    "intervention participants who missed the visit were that much worse"),
                 delta=Num(max(deltas), "g")))
    table["tipping_point"] = tip
    return PooledResult(table, [note, Note(N_(
        "{n} missing {visit} values imputed, {imputations} imputations per delta, seed {seed}"),
        n=int(missing.sum()), visit=visit, imputations=imputations, seed=seed)])
