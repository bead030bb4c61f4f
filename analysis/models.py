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
from typing import Any

import numpy as np
import pandas as pd

from analysis.outcomes import OutcomeModel, _formula, design_frame, gee_outcome

_SHARED: dict[str, Any] = {}
PRIMARY_ANALYSIS = "ITT"
IGNORES_CENTRES = "ITT, participant-clustered (ignores centres)"


def _get(name: str) -> Any:
    return _SHARED[name]


def centre_model(long_key: str, outcome: str, analysis: str, group_col: str,
                 covariates: Sequence[str], weights: str | None = None) -> OutcomeModel:
    """Group × time GEE (independence) clustered on centre, bias-reduced sandwich."""
    from analysis.clustered import fit_clustered_logit, t_contrasts
    from analysis.weighting import stacked_iptw_fit

    long = _get(long_key)
    frame = design_frame(long, outcome, group_col=group_col, covariates=covariates,
                         extra=["centre_code", *([weights] if weights else [])])
    formula = _formula(covariates, frame)
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
    summary["note"] = "" if fit.estimable else fit.notes[-1]
    if not fit.estimable:
        summary[["odds_ratio", "ci_lower", "ci_upper", "p"]] = float("nan")
    how = ("stacked estimating equations (every weight's model estimated)" if weights else
           "bias-reduced (Mancl-DeRouen)")
    spec = (f"{formula}  [GEE logit, independence, SE clustered on centre ({fit.n_clusters}), "
            f"{how}, t({fit.df})" + (f", weights={weights}" if weights else "") + "]")
    return OutcomeModel(outcome, analysis, spec, "independence", fit.n_obs,
                        int(frame["participant_id"].nunique()), summary, fit.summary,
                        fit.notes, fit.estimable)


def participant_model(long_key: str, outcome: str, analysis: str, group_col: str,
                      covariates: Sequence[str], cov_struct: str) -> OutcomeModel:
    return gee_outcome(_get(long_key), outcome, analysis=analysis, group_col=group_col,
                       covariates=covariates, cov_struct=cov_struct)


def mixed_model(long_key: str, outcome: str, covariates: Sequence[str]) -> OutcomeModel:
    from analysis.mixed import mixed_logistic

    return mixed_logistic(_get(long_key), outcome, covariates=covariates)


def mice_job(outcome: str, contrast: str, seed: int) -> Any:
    from analysis.missing import mice_analysis

    return mice_analysis(_get("data"), outcome, contrast, seed=seed)


def tipping_job(outcome: str, contrast: str, visit: str, seed: int) -> Any:
    from analysis.missing import tipping_point

    return tipping_point(_get("data"), outcome, contrast, visit, seed=seed)


def retention_job() -> Any:
    from analysis.retention import retention_analysis

    return retention_analysis(_get("data"))


Job = tuple[str, Callable[..., Any], tuple[Any, ...]]


LAST_TIMINGS: dict[str, float] = {}  # seconds per job of the last run (for the bench)


def _call(job: Job) -> tuple[str, Any, float]:
    import time

    name, func, args = job
    start = time.perf_counter()
    result = func(*args)
    return name, result, time.perf_counter() - start


def _collect(results: Any) -> dict[str, Any]:
    out = {}
    LAST_TIMINGS.clear()
    for name, result, seconds in results:
        out[name] = result
        LAST_TIMINGS[name] = seconds
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


