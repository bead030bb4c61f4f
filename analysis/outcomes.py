"""Injection-risk outcomes: GEE logistic models of group × time, with sensitivity analyses.

The main model, for each binary outcome, is

    outcome ~ intervention * (m6 + m12) [+ adjustment covariates]

(one indicator per follow-up visit of the schedule: :mod:`analysis.visits`),

fitted by GEE (statsmodels) with a logit link, clustered on participant, robust
(sandwich) errors, exchangeable working correlation by default or AR(1) over the
timepoints. Odds ratios are reported per contrast (intervention vs comparison at each
timepoint, within-group change, and the group × time interaction, which is the effect
of interest in a non-randomised before/after comparison).

Sensitivity analyses: per-protocol population; inverse probability of treatment weights
from a propensity score (groups were not randomised); inverse probability of censoring
weights for missed follow-up questionnaires; a mixed-effects logistic model (random
intercept per participant, statsmodels' variational Bayes: :mod:`analysis.mixed`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.data import AnalysisData, window_close_day
from analysis.design import (
    COV_STRUCTS,
    DEFAULT_ADJUST,
    MAX_ABS_COEF,
    PS_COVARIATES,
    Z95,
    contrasts,
    covariate_frame,
    design_frame,
    estimability,
    logit_formula,
    model_formula,
)
from analysis.results import GEEResult, OutcomeModel, WeightsResult
from analysis.wording import Note
from forms.i18n import N_

__all__ = [
    "COV_STRUCTS", "DEFAULT_ADJUST", "MAX_ABS_COEF", "PS_COVARIATES", "Z95", "GEEResult",
    "OutcomeModel", "WeightsResult",
    "censoring_weights", "contrasts", "design_frame", "fit_gee", "gee_outcome",
    "propensity_weights", "proportions",
]


def _cov_struct(name: str) -> Any:
    from statsmodels.genmod import cov_struct

    if name == "exchangeable":
        return cov_struct.Exchangeable()
    if name == "ar1":
        return cov_struct.Autoregressive(grid=True)
    if name == "independence":
        return cov_struct.Independence()
    raise ValueError(f"unknown working correlation '{name}'; use one of {', '.join(COV_STRUCTS)}")


def fit_gee(df: pd.DataFrame, formula: str, groups: str, *, cov_struct: str = "exchangeable",
            time: str | None = None, weights: str | None = None) -> GEEResult:
    """GEE logistic regression with robust errors, clustered on ``groups``.

    ``time`` orders the visits within a cluster (needed for AR(1): integer steps, e.g.
    0, 1, 2 for M0, M6, M12); ``weights`` names a column of case weights.
    """
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    frame = df.sort_values([groups, time] if time else [groups], kind="stable")
    kwargs: dict[str, Any] = {}
    if time:
        kwargs["time"] = frame[time].to_numpy()
    if weights:
        kwargs["weights"] = frame[weights].to_numpy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = smf.gee(formula, groups, data=frame, family=sm.families.Binomial(),
                        cov_struct=_cov_struct(cov_struct), **kwargs)
        res = model.fit()
        params, se, pvalues = res.params, res.bse, res.pvalues.to_numpy()
    b, e = params.to_numpy(dtype=float), se.to_numpy(dtype=float)
    notes = [str(w.message) for w in caught]
    problem = estimability(res, b, e)
    if problem:
        notes.append(Note(N_("not estimable: {problem}"), problem=problem))
    with np.errstate(over="ignore", invalid="ignore"):
        summary = pd.DataFrame({
            "term": params.index.astype(str), "coef": b, "se": e,
            "odds_ratio": np.exp(b), "ci_lower": np.exp(b - Z95 * e),
            "ci_upper": np.exp(b + Z95 * e), "p": pvalues,
        })
    return GEEResult(formula, cov_struct, int(res.nobs), int(len(model.group_labels)), summary,
                     str(model.cov_struct.summary()), res, notes, problem is None)


WEIGHTED_NOTE = Note(N_(
    "weighted model: independence working correlation whatever was asked for. Visit-level "
    "weights (IPCW) give consistent estimates only with an independence working "
    "correlation (a correlated one lets observed visits stand in for missed ones of the "
    "same person), and statsmodels ignores weights when estimating AR(1); IPTW-only "
    "models use independence too, so all weighted analyses are comparable"))


def gee_outcome(long: pd.DataFrame, outcome: str, *, analysis: str = "ITT",
                group_col: str = "group_itt", covariates: Sequence[str] = DEFAULT_ADJUST,
                cov_struct: str = "exchangeable", weights: str | None = None) -> OutcomeModel:
    """The group × time GEE for one binary outcome, summarised as ORs per contrast.

    With ``weights`` the working correlation is always independence (:data:`WEIGHTED_NOTE`
    says why, and goes in the model's notes); robust errors keep the within-participant
    correlation in the standard errors.
    """
    if weights:
        cov_struct = "independence"
    frame = design_frame(long, outcome, group_col=group_col, covariates=covariates,
                         extra=[weights] if weights else [])
    formula = model_formula(covariates, frame)
    fit = fit_gee(frame, formula, "participant_id", cov_struct=cov_struct,
                  time="step", weights=weights)
    res = fit.result
    with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        summary = contrasts(res.params, res.cov_params())
    summary.insert(0, "outcome", outcome)
    summary.insert(1, "analysis", analysis)
    summary["estimable"] = fit.estimable
    summary["note"] = "" if fit.estimable else str(fit.notes[-1])
    if not fit.estimable:
        summary[["odds_ratio", "ci_lower", "ci_upper", "p"]] = np.nan
    notes = ([WEIGHTED_NOTE] if weights else []) + fit.notes
    spec = (Note(N_("{formula}  [GEE logit, {cov_struct}, robust SE, weights={weights}]"),
                 formula=formula, cov_struct=cov_struct, weights=weights) if weights else
            Note(N_("{formula}  [GEE logit, {cov_struct}, robust SE]"), formula=formula,
                 cov_struct=cov_struct))
    return OutcomeModel(outcome, analysis, spec,
                        cov_struct, fit.n_obs, fit.n_clusters, summary, fit.summary, notes,
                        fit.estimable)


# --------------------------------------------------------------------------- weights
def propensity_weights(participants: pd.DataFrame, *, covariates: Sequence[str] = PS_COVARIATES,
                       group_col: str = "group_itt", trim: float = 0.01) -> WeightsResult:
    """Stabilised inverse probability of treatment weights from a logistic propensity score.

    The default covariates include the baseline (M0) value of every modelled outcome.
    Balancing groups on the baseline outcome in a before/after comparison can itself bias
    the group × time effect through regression to the mean (each group drifts back towards
    its own population's mean), so the weighted models are a sensitivity analysis; the
    unweighted ITT model, which compares each group with its own baseline, is primary.

    Missing covariates become their own category (categorical) or the median (numeric);
    weights are truncated at the ``trim`` and ``1 - trim`` quantiles.
    """
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    p = participants[participants[group_col].notna()]
    x = covariate_frame(p, covariates)
    x["treated"] = (p[group_col] == "intervention").astype(float)
    formula = logit_formula("treated", x.drop(columns="treated"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.glm(formula, data=x, family=sm.families.Binomial()).fit()
    ps = fit.predict(x).clip(1e-6, 1 - 1e-6)
    marginal = x["treated"].mean()
    w = np.where(x["treated"] == 1, marginal / ps, (1 - marginal) / (1 - ps))
    weights = pd.Series(w, index=p["participant_id"].to_numpy(), name="iptw")
    clipped = np.zeros(len(weights), dtype=bool)
    if trim:
        lo, hi = weights.quantile([trim, 1 - trim])
        clipped = ((weights < lo) | (weights > hi)).to_numpy()
        weights = weights.clip(lo, hi)
    summary = pd.DataFrame([{
        "model": "propensity score (logit)", "formula": formula, "n": len(x),
        "ps_mean_intervention": float(ps[x["treated"] == 1].mean()),
        "ps_mean_comparison": float(ps[x["treated"] == 0].mean()),
        "weight_min": float(weights.min()), "weight_max": float(weights.max()),
        "weight_mean": float(weights.mean()),
        "effective_n": float(weights.sum() ** 2 / (weights**2).sum()),
    }])
    details = {"exog": np.asarray(fit.model.exog, dtype=float), "ps": np.asarray(ps),
               "treated": x["treated"].to_numpy(), "clipped": clipped, "marginal": marginal,
               "participant_id": p["participant_id"].to_numpy(),
               "centre": (p["centre_code"].astype(str).to_numpy() if "centre_code" in p
                          else None)}
    return WeightsResult(weights, summary, formula, details)


def censoring_weights(data: AnalysisData, *, covariates: Sequence[str] = PS_COVARIATES,
                      group_col: str = "group_itt") -> WeightsResult:
    """Inverse probability of censoring weights for the follow-up questionnaires.

    For each participant whose visit's window has closed, a logistic model predicts the
    chance the questionnaire was completed from group, timepoint and baseline covariates;
    completed follow-up visits are weighted by ``P(completed) / P(completed | X)``, M0 by 1.
    Returns weights indexed like ``data.questionnaires``.
    """
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    cfg = data.config
    p = data.participants
    q = data.questionnaires
    as_of = pd.Timestamp(data.snapshot.as_of)
    x = covariate_frame(p, covariates)
    rows = []
    for visit in cfg.schedule.follow_ups:
        tp = visit.name
        closes = p["inclusion_date"] + pd.Timedelta(days=window_close_day(cfg, tp))
        done = p["participant_id"].isin(q.loc[q["timepoint"] == tp, "participant_id"])
        due = (closes <= as_of) | done
        block = x[due].copy()
        block["observed"] = done[due].astype(float)
        block["intervention"] = (p.loc[due, group_col] == "intervention").astype(float)
        for later in cfg.schedule.follow_ups[1:]:
            block[later.key] = float(tp == later.name)
        block["participant_id"] = p.loc[due, "participant_id"]
        block["timepoint"] = tp
        rows.append(block)
    stacked = pd.concat(rows, ignore_index=True)
    predictors = stacked.drop(columns=["observed", "participant_id", "timepoint"])
    formula = logit_formula("observed", predictors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.glm(formula, data=stacked, family=sm.families.Binomial()).fit()
    stacked["p_obs"] = fit.predict(stacked).clip(0.01, 1.0)
    marginal = stacked.groupby("timepoint")["observed"].transform("mean")
    stacked["w"] = marginal / stacked["p_obs"]
    lookup = stacked.set_index(["participant_id", "timepoint"])["w"]
    keys = pd.MultiIndex.from_arrays([q["participant_id"], q["timepoint"]])
    w = pd.Series(lookup.reindex(keys).to_numpy(), index=q.index, name="ipcw").fillna(1.0)
    summary = pd.DataFrame([{
        "model": "completion of follow-up (logit)", "formula": formula, "n": len(stacked),
        "observed_pct": float(100 * stacked["observed"].mean()),
        "weight_min": float(w.min()), "weight_max": float(w.max()),
    }])
    return WeightsResult(w, summary, formula)


# --------------------------------------------------------------------------- the whole set
def proportions(long: pd.DataFrame, outcome: str, *, group_col: str = "group_itt"
                ) -> pd.DataFrame:
    """Observed proportion per group and timepoint with Wilson 95% CIs (for the plots)."""
    from statsmodels.stats.proportion import proportion_confint

    frame = long[[group_col, "timepoint", "month", outcome]].dropna()
    agg = frame.groupby([group_col, "timepoint", "month"])[outcome].agg(["sum", "count"])
    agg = agg.reset_index().rename(columns={group_col: "group", "sum": "events", "count": "n"})
    lo, hi = proportion_confint(agg["events"], agg["n"], method="wilson")
    agg["proportion"] = agg["events"] / agg["n"]
    agg["ci_lower"], agg["ci_upper"] = np.asarray(lo), np.asarray(hi)
    agg.insert(0, "outcome", outcome)
    return agg.sort_values(["group", "month"]).reset_index(drop=True)
