"""The report's outcome models as independent jobs, fitted in parallel processes.

Each model is one job (a top-level function and its arguments); the big frames are put
in :data:`_SHARED` before the worker processes are forked, so workers inherit them
instead of receiving a pickled copy per job. Jobs are independent and each is
deterministic (no shared random state: the imputations seed their own generators), so
the results do not depend on how many workers ran them or in which order
(``workers=1`` runs them here, one after the other).

The analyses, for every outcome:

- **ITT** (primary): GEE logit of group × time, clustered on **centre** with the
  bias-reduced (Mancl–DeRouen) sandwich and t(centres − 1) intervals
  (:mod:`analysis.clustered`);
- **ITT, participant-clustered**: the same model with errors clustered on the participant
  (exchangeable working correlation), which ignores centres — shown for comparison;
- **per-protocol**, centre-clustered;
and for the primary outcomes: **centre fixed effects** (centre as covariate, participant
clustering), **IPTW** and **IPTW + IPCW** (stacked estimating equations,
:mod:`analysis.weighting`), the **mixed-effects** model (:mod:`analysis.mixed`);
and for the primary endpoint's outcome: **MICE** and the **tipping point**
(:mod:`analysis.missing`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.clustered import fit_clustered_logit, t_contrasts
from analysis.data import BINARY_OUTCOMES, AnalysisData
from analysis.design import DEFAULT_ADJUST, design_frame, model_formula
from analysis.missing import mice_analysis, tipping_point
from analysis.mixed import mixed_logistic
from analysis.outcomes import gee_outcome, propensity_weights, proportions
from analysis.results import OutcomeModel, ResultBase, WeightsResult
from analysis.retention import retention_analysis
from analysis.weighting import censoring_weights_previous, stacked_iptw_fit
from analysis.wording import Note
from cohort.settings import get_settings
from forms.i18n import N_

_SHARED: dict[str, Any] = {}
PRIMARY_ANALYSIS = "ITT"
IGNORES_CENTRES = "ITT, participant-clustered (ignores centres)"


def _get(name: str) -> Any:
    return _SHARED[name]


def centre_model(long_key: str, outcome: str, analysis: str, group_col: str,
                 covariates: Sequence[str], weights: str | None = None) -> OutcomeModel:
    """Group × time GEE (independence) clustered on centre, bias-reduced sandwich."""
    long = _get(long_key)
    frame = design_frame(long, outcome, group_col=group_col, covariates=covariates,
                         extra=["centre_code", *([weights] if weights else [])])
    formula = model_formula(covariates, frame)
    if weights:
        ipcw = _get("ipcw") if weights == "iptw_ipcw" else None
        fit = stacked_iptw_fit(frame, formula, "centre_code", _get("iptw"), weights=weights,
                               ipcw=ipcw)
    else:
        fit = fit_clustered_logit(frame, formula, "centre_code")
    summary = t_contrasts(fit.params, fit.cov, fit.df)
    summary.insert(0, "outcome", outcome)
    summary.insert(1, "analysis", analysis)
    summary["estimable"] = fit.estimable
    summary["note"] = "" if fit.estimable else str(fit.notes[-1])
    if not fit.estimable:
        summary[["odds_ratio", "ci_lower", "ci_upper", "p"]] = float("nan")
    spec = (Note(N_("{formula}  [GEE logit, independence, SE clustered on centre ({clusters}), "
                    "stacked estimating equations (every weight's model estimated), t({df}), "
                    "weights={weights}]"), formula=formula, clusters=fit.n_clusters,
                 df=fit.df, weights=weights) if weights else
            Note(N_("{formula}  [GEE logit, independence, SE clustered on centre ({clusters}), "
                    "bias-reduced (Mancl-DeRouen), t({df})]"), formula=formula,
                 clusters=fit.n_clusters, df=fit.df))
    return OutcomeModel(outcome, analysis, spec, "independence", fit.n_obs,
                        int(frame["participant_id"].nunique()), summary, fit.summary,
                        fit.notes, fit.estimable)


def participant_model(long_key: str, outcome: str, analysis: str, group_col: str,
                      covariates: Sequence[str], cov_struct: str) -> OutcomeModel:
    return gee_outcome(_get(long_key), outcome, analysis=analysis, group_col=group_col,
                       covariates=covariates, cov_struct=cov_struct)


def mixed_model(long_key: str, outcome: str, covariates: Sequence[str]) -> OutcomeModel:
    return mixed_logistic(_get(long_key), outcome, covariates=covariates)


def mice_job(outcome: str, contrast: str, seed: int) -> Any:
    return mice_analysis(_get("data"), outcome, contrast, seed=seed)


def tipping_job(outcome: str, contrast: str, visit: str, seed: int) -> Any:
    return tipping_point(_get("data"), outcome, contrast, visit, seed=seed)


def retention_job() -> Any:
    return retention_analysis(_get("data"))


Job = tuple[str, Callable[..., Any], tuple[Any, ...]]


LAST_TIMINGS: dict[str, float] = {}  # seconds per job of the last run (for the bench)
#: (process id, start, end) per job of the last run, on the monotonic clock that every
#: process of the machine shares: the bench draws from it which worker waited when.
LAST_SPANS: dict[str, tuple[int, float, float]] = {}


def _call(job: Job) -> tuple[str, Any, tuple[int, float, float]]:
    import time

    name, func, args = job
    start = time.monotonic()
    result = func(*args)
    return name, result, (os.getpid(), start, time.monotonic())


def _collect(results: Any) -> dict[str, Any]:
    out = {}
    LAST_TIMINGS.clear()
    LAST_SPANS.clear()
    for name, result, span in results:
        out[name] = result
        LAST_SPANS[name] = span
        LAST_TIMINGS[name] = span[2] - span[1]
    return out


def _one_thread() -> None:
    """Worker start: one BLAS thread. Two workers each running OpenBLAS's default two
    threads on two cores made the parallel report twice as slow as the serial one."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def run_jobs(jobs: Sequence[Job], shared: dict[str, Any], *, workers: int = 1
             ) -> dict[str, Any]:
    """Run ``jobs`` with ``shared`` frames available to them; results by job name.

    ``workers > 1`` forks that many processes (POSIX); elsewhere, or with one worker,
    the jobs run here.
    """
    _SHARED.clear()
    _SHARED.update(shared)
    try:
        if workers <= 1 or len(jobs) < 2 or os.name != "posix":
            return _collect(_call(job) for job in jobs)
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                 initializer=_one_thread) as pool:
            return _collect(pool.map(_call, jobs, chunksize=1))
    finally:
        _SHARED.clear()


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (statsmodels ``multipletests``)."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, dtype=float)
    out = np.full(len(p), np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


def endpoints(summary: pd.DataFrame, primary_outcome: str, primary_visit: str,
              analysis: str = "ITT") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The primary endpoint's row and the secondary endpoints with Holm-adjusted p.

    Endpoints are the group × time interactions of the primary analysis, one per outcome
    and follow-up visit; the primary one is tested at 5% alone, the rest as a family.
    """
    inter = summary[(summary["analysis"] == analysis)
                    & summary["contrast"].str.startswith("group × time")].copy()
    inter["visit"] = inter["contrast"].str.rsplit(", ", n=1).str[-1]
    is_primary = (inter["outcome"] == primary_outcome) & (inter["visit"] == primary_visit)
    primary = inter[is_primary].assign(endpoint="primary")
    secondary = inter[~is_primary].copy()
    secondary["endpoint"] = "secondary"
    secondary["p_holm"] = holm(secondary["p"].to_numpy())
    return primary.reset_index(drop=True), secondary.reset_index(drop=True)


@dataclass
class OutcomeResults(ResultBase):
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
    """Every outcome model (the jobs above), fitted in ``workers`` processes.

    The sensitivity models run for the two primary composites (``mixed`` chooses the
    mixed models' outcomes); the missing-data analyses for the primary endpoint.
    """
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
    shared = {"long": long, "pp": long[long["per_protocol"]], "iptw": iptw, "ipcw": cw,
              "data": data}
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
        result.notes.append(Note(N_("the declared primary endpoint ({outcome} at {visit}) "
                                    "could not be estimated from these data"),
                                 outcome=primary_outcome, visit=primary_visit))
    return result
