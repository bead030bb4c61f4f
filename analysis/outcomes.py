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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis import visits
from analysis.data import BINARY_OUTCOMES, AnalysisData, window_close_day
from cohort.schedule import get_schedule

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


@dataclass
class GEEResult:
    """A fitted GEE: ``summary`` has coef, robust SE, OR, 95% CI and p per term."""

    formula: str
    cov_struct: str
    n_obs: int
    n_clusters: int
    summary: pd.DataFrame
    dependence: str = ""
    result: Any = field(default=None, repr=False)
    notes: list[str] = field(default_factory=list)
    estimable: bool = True


@dataclass
class OutcomeModel:
    """One outcome, one analysis: ``summary`` has an OR with 95% CI per contrast."""

    outcome: str
    analysis: str
    formula: str
    cov_struct: str
    n_obs: int
    n_participants: int
    summary: pd.DataFrame
    coefficients: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    estimable: bool = True


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
    problem = _estimability(res, b, e)
    if problem:
        notes.append(f"not estimable: {problem}")
    with np.errstate(over="ignore", invalid="ignore"):
        summary = pd.DataFrame({
            "term": params.index.astype(str), "coef": b, "se": e,
            "odds_ratio": np.exp(b), "ci_lower": np.exp(b - Z95 * e),
            "ci_upper": np.exp(b + Z95 * e), "p": pvalues,
        })
    return GEEResult(formula, cov_struct, int(res.nobs), int(len(model.group_labels)), summary,
                     str(model.cov_struct.summary()), res, notes, problem is None)


def _estimability(res: Any, b: np.ndarray, se: np.ndarray) -> str | None:
    """Why a fit cannot be reported (no convergence, separation), or None if it can."""
    converged = getattr(res, "converged", True)
    fit_history = getattr(res, "fit_history", {}) or {}
    if converged is False or fit_history.get("converged") is False:
        return "the GEE did not converge"
    if not (np.isfinite(b).all() and np.isfinite(se).all()):
        return "some estimates or standard errors are not finite"
    big = np.abs(b) > MAX_ABS_COEF
    if big.any():
        return (f"|log-odds| above {MAX_ABS_COEF:g} (separation: a group × time cell with "
                "almost no or only events)")
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


def _formula(covariates: Sequence[str], frame: pd.DataFrame, main: str | None = None
             ) -> str:
    terms = [main if main is not None else visits.group_by_time()]
    for c in covariates:
        terms.append(f"C({c})" if frame[c].dtype == object else c)
    return "y ~ " + " + ".join(terms)


WEIGHTED_NOTE = (
    "weighted model: independence working correlation whatever was asked for. Visit-level "
    "weights (IPCW) give consistent estimates only with an independence working "
    "correlation (a correlated one lets observed visits stand in for missed ones of the "
    "same person), and statsmodels ignores weights when estimating AR(1); IPTW-only "
    "models use independence too, so all weighted analyses are comparable")


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
    formula = _formula(covariates, frame)
    fit = fit_gee(frame, formula, "participant_id", cov_struct=cov_struct,
                  time="step", weights=weights)
    res = fit.result
    with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        summary = contrasts(res.params, res.cov_params())
    summary.insert(0, "outcome", outcome)
    summary.insert(1, "analysis", analysis)
    summary["estimable"] = fit.estimable
    summary["note"] = "" if fit.estimable else fit.notes[-1]
    if not fit.estimable:
        summary[["odds_ratio", "ci_lower", "ci_upper", "p"]] = np.nan
    notes = ([WEIGHTED_NOTE] if weights else []) + fit.notes
    return OutcomeModel(outcome, analysis, formula + f"  [GEE logit, {cov_struct}, robust SE"
                        + (f", weights={weights}" if weights else "") + "]",
                        cov_struct, fit.n_obs, fit.n_clusters, summary, fit.summary, notes,
                        fit.estimable)


# --------------------------------------------------------------------------- weights
@dataclass
class WeightsResult:
    """Weights per participant (IPTW) or per visit (IPCW) and the model that made them."""

    weights: pd.Series
    summary: pd.DataFrame
    formula: str
    # IPTW: what the stacked estimating equations need (design, scores, who was trimmed).
    details: dict[str, Any] = field(default_factory=dict, repr=False)


def _covariate_frame(p: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
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


def _logit_formula(target: str, x: pd.DataFrame) -> str:
    terms = [f"C({c})" if x[c].dtype == object else c for c in x.columns
             if x[c].nunique() > 1]
    return f"{target} ~ " + (" + ".join(terms) if terms else "1")


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
    x = _covariate_frame(p, covariates)
    x["treated"] = (p[group_col] == "intervention").astype(float)
    formula = _logit_formula("treated", x.drop(columns="treated"))
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
               "treated": x["treated"].to_numpy(), "clipped": clipped,
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
    x = _covariate_frame(p, covariates)
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
    formula = _logit_formula("observed", predictors)
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


@dataclass
class OutcomeResults:
    """Every outcome model of the report; ``summary`` stacks all contrasts.

    ``primary`` is the declared primary endpoint's row (outcome, visit, contrast) and
    ``secondary`` the other group × time interactions of the primary analysis with
    Holm-adjusted p-values; ``mice`` and ``tipping`` the missing-data analyses.
    """

    models: list[OutcomeModel]
    proportions: pd.DataFrame
    iptw: WeightsResult | None
    ipcw: WeightsResult | None
    primary: pd.DataFrame = field(default_factory=pd.DataFrame)
    secondary: pd.DataFrame = field(default_factory=pd.DataFrame)
    mice: Any = None
    tipping: Any = None
    seed: int | None = None
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> pd.DataFrame:
        return pd.concat([m.summary for m in self.models], ignore_index=True)


def outcome_analysis(data: AnalysisData, *, outcomes: Sequence[str] = BINARY_OUTCOMES,
                     covariates: Sequence[str] = DEFAULT_ADJUST,
                     cov_struct: str = "exchangeable", ipcw: bool = True,
                     mixed: Sequence[str] | None = None, missing: bool = True,
                     primary_outcome: str | None = None, primary_visit: str | None = None,
                     seed: int | None = None, workers: int | None = None,
                     extra_jobs: Sequence[Any] = ()) -> OutcomeResults:
    """Every outcome model (see :mod:`analysis.models`), fitted in ``workers`` processes.

    The sensitivity models run for the two primary composites (``mixed`` chooses the
    mixed models' outcomes); the missing-data analyses for the primary endpoint.
    """
    from analysis.models import (
        IGNORES_CENTRES,
        Job,
        centre_model,
        endpoints,
        mice_job,
        mixed_model,
        participant_model,
        run_jobs,
        tipping_job,
    )
    from analysis.weighting import censoring_weights_previous
    from cohort.settings import get_settings

    settings = get_settings()
    primary_outcome = primary_outcome or settings.primary_outcome
    primary_visit = primary_visit or settings.primary_visit
    seed = settings.analysis_seed if seed is None else seed
    workers = settings.analysis_workers if workers is None else workers
    long = data.long
    present = [o for o in outcomes if o in long.columns and long[o].notna().sum() > 0]
    primary = [o for o in present if o in ("any_risk_practice", "any_complication",
                                           primary_outcome)] or present[:1]
    iptw = propensity_weights(data.participants)
    long = long.assign(iptw=long["participant_id"].map(iptw.weights).fillna(1.0))
    cw = censoring_weights_previous(data) if ipcw else None
    if cw is not None:
        long = long.assign(ipcw=cw.weights.reindex(long.index).fillna(1.0).to_numpy())
        long["iptw_ipcw"] = long["iptw"] * long["ipcw"]
    shared = {"long": long, "pp": long[long["per_protocol"]], "iptw": iptw, "data": data}
    cov = tuple(covariates)
    jobs: list[Job] = []
    contrast = f"group × time interaction, {primary_visit}"
    if missing and primary_outcome in present:
        jobs += [("mice", mice_job, (primary_outcome, contrast, seed)),
                 ("tipping", tipping_job, (primary_outcome, contrast, primary_visit, seed))]
    for outcome in (primary if mixed is None else mixed):
        jobs.append((f"{outcome}|mixed", mixed_model, ("long", outcome, cov)))
    for outcome in present:
        jobs += [
            (f"{outcome}|itt", centre_model, ("long", outcome, "ITT", "group_itt", cov)),
            (f"{outcome}|itt_participant", participant_model,
             ("long", outcome, IGNORES_CENTRES, "group_itt", cov, cov_struct)),
            (f"{outcome}|pp", centre_model, ("pp", outcome, "per-protocol", "group_pp", cov)),
        ]
        if outcome in primary:
            jobs += [
                (f"{outcome}|fe", participant_model,
                 ("long", outcome, "centre fixed effects", "group_itt", (*cov, "centre_code"),
                  cov_struct)),
                (f"{outcome}|iptw", centre_model,
                 ("long", outcome, "IPTW", "group_itt", cov, "iptw")),
            ]
            if cw is not None:
                jobs.append((f"{outcome}|iptw_ipcw", centre_model,
                             ("long", outcome, "IPTW + IPCW", "group_itt", cov, "iptw_ipcw")))
    # Longest first (imputations, mixed models), so the two workers finish together.
    slow = [j for j in jobs if j[0] in ("mice", "tipping") or j[0].endswith("|mixed")]
    jobs = [*slow, *extra_jobs, *(j for j in jobs if j not in slow)]
    done = run_jobs(jobs, shared, workers=workers)
    order = ["itt", "itt_participant", "pp", "fe", "iptw", "iptw_ipcw", "mixed"]
    models = [done[f"{o}|{k}"] for o in present for k in order if f"{o}|{k}" in done]
    props = [proportions(long, o) for o in present]
    result = OutcomeResults(models, pd.concat(props, ignore_index=True) if props else
                            pd.DataFrame(), iptw, cw, mice=done.get("mice"),
                            tipping=done.get("tipping"), seed=seed,
                            extra={j[0]: done[j[0]] for j in extra_jobs})
    if models:
        result.primary, result.secondary = endpoints(result.summary, primary_outcome,
                                                     primary_visit)
    if result.primary.empty:
        result.notes.append(f"the declared primary endpoint ({primary_outcome} at "
                            f"{primary_visit}) could not be estimated from these data")
    return result
