"""Weighted outcome models whose standard errors know the weights were estimated.

**Stacked estimating equations.** Every estimated part of the weights is solved together
with the weighted outcome model, and the sandwich of the stacked system (clustered on
centre, × G/(G−1)) carries each part's uncertainty into the outcome model's errors
(Lunceford & Davidian, Stat Med 2004; Stefanski & Boos, Am Stat 2002). The parts are:

- the propensity score's logistic score equations and the proportion treated, which
  stabilises the IPTW (numerator);
- for IPTW × IPCW, besides these, each visit's completion model (M6; M12, which uses the
  M6 answers) and that visit's completion rate, which stabilises its IPCW.

No resampling, so no seed: the same rows always give the same numbers. A trimmed
weight (IPTW beyond its 1st/99th percentiles, a completion probability floored at 0.01)
does not move with the model's coefficients (derivative 0), and the trimming bounds are
treated as fixed. Checked against a by-hand stacked sandwich in R
(``tests/analysis/reference/weights.R``).

**Censoring weights from the previous visit.** Whether an M12 questionnaire is done
depends on how the person was doing at M6 (in the demo, as in the field, people at
higher risk miss more). The M12 completion model therefore uses the M6 answers (the two
outcome composites, and whether M6 was done at all) besides group, baseline covariates
and centre; M6 completion uses the M0 answers (baseline). Weights are stabilised by the
visit's completion rate.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.clustered import ClusteredFit, fit_clustered_logit
from analysis.data import AnalysisData, window_close_day
from analysis.design import PS_COVARIATES, covariate_frame, logit_formula
from analysis.results import WeightsResult
from analysis.wording import Note
from forms.i18n import N_

PREVIOUS_VISIT_ITEMS = ("any_risk_practice", "any_complication")
P_OBS_FLOOR = 0.01


@dataclass
class _Part:
    """One estimated part of the weights: per-participant scores and their Jacobian, and
    how each visit row's weight moves with the part's parameters (``dw``)."""

    scores: np.ndarray  # units × k, estimating-function values
    jacobian: np.ndarray  # k × k, −Σ ∂score/∂θ
    units: np.ndarray  # participant id of each unit
    dw: np.ndarray  # visit rows × k, ∂w/∂θ


def _independent(x: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """``x`` without its linearly dependent columns (pivoted QR, as R's ``glm``).

    A dependent column's score equation repeats the others' (M12's completion model has
    did_m6 and the "not done" level of each M6 answer, equal up to the intercept), so it
    is dropped from the stack, whose Jacobian would otherwise be singular; the fitted
    probabilities, hence the weights, are the full design's.
    """
    from scipy.linalg import qr

    _, r, piv = qr(x, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > tol * diag[0]).sum()) if len(diag) else 0
    return x[:, np.sort(piv[:rank])]


def _rows_of(units: np.ndarray, pids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each visit row's participant among ``units`` (and whether found)."""
    pos = pd.Series(np.arange(len(units)), index=units)
    row = pos.reindex(pids).to_numpy()
    has = ~np.isnan(row)
    return np.where(has, row, 0).astype(int), has


def _iptw_parts(iptw: WeightsResult, pids: np.ndarray, w: np.ndarray) -> list[_Part]:
    d = iptw.details
    xa, e, t = _independent(d["exog"]), d["ps"], d["treated"]
    row, has = _rows_of(d["participant_id"], pids)
    moves = has & ~d["clipped"][row]
    treated = t[row] == 1
    # treated w ∝ π/e: ∂/∂α = −w(1−e)x, ∂/∂π = w/π; comparison w ∝ (1−π)/(1−e): +w e x, −w/(1−π).
    slope = np.where(treated, -(1 - e[row]), e[row]) * moves
    alpha = _Part(xa * (t - e)[:, None], (xa * (e * (1 - e))[:, None]).T @ xa,
                  d["participant_id"], (w * slope)[:, None] * xa[row])
    parts = [alpha]
    if "marginal" in d:
        pi = float(d["marginal"])
        dpi = np.where(treated, 1 / pi, -1 / (1 - pi)) * moves
        parts.append(_Part((t - pi)[:, None], np.array([[float(len(t))]]),
                           d["participant_id"], (w * dpi)[:, None]))
    return parts


def _ipcw_parts(ipcw: WeightsResult, frame: pd.DataFrame, pids: np.ndarray, w: np.ndarray
                ) -> list[_Part]:
    parts = []
    for tp, d in ipcw.details.items():
        x, p, obs = _independent(d["exog"]), d["p_raw"], d["observed"]
        at = frame[tp.lower()].to_numpy() == 1
        row, has = _rows_of(d["participant_id"], pids)
        has &= at
        # w ∝ π/max(p, floor): ∂/∂γ = −w(1−p)x unless floored; ∂/∂π = w/π.
        slope = -(1 - p[row]) * (has & (p[row] >= P_OBS_FLOOR))
        parts.append(_Part(x * (obs - p)[:, None], (x * (p * (1 - p))[:, None]).T @ x,
                           d["participant_id"], (w * slope)[:, None] * x[row]))
        pi = float(d["marginal"])
        parts.append(_Part((obs - pi)[:, None], np.array([[float(len(obs))]]),
                           d["participant_id"], (w * has / pi)[:, None]))
    return parts


def _unit_clusters(parts: Sequence[_Part], frame: pd.DataFrame, cluster: str,
                   centres: Mapping[str, str]) -> tuple[list[np.ndarray], np.ndarray, int]:
    """Cluster index of each visit row and of each part's units; the number of clusters.

    A participant's scores go to the cluster of their visits; one with no visit in the
    outcome frame (their weights' models still saw them) to their centre.
    """
    by_pid = frame.drop_duplicates("participant_id").set_index("participant_id")[cluster]
    by_pid = by_pid.astype(str)
    labels = [frame[cluster].astype(str).to_numpy()]
    for part in parts:
        lab = pd.Series(part.units).map(by_pid)
        if cluster == "centre_code":
            lab = lab.fillna(pd.Series(part.units).map(centres))
        labels.append(lab.fillna("").to_numpy(dtype=str))
    levels = pd.Index(sorted(set(np.concatenate(labels)) - {""}))
    codes = [levels.get_indexer(lab) for lab in labels]
    return codes[1:], codes[0], len(levels)


def stacked_iptw_fit(frame: pd.DataFrame, formula: str, cluster: str, iptw: WeightsResult,
                     *, weights: str = "iptw", ipcw: WeightsResult | None = None
                     ) -> ClusteredFit:
    """The weighted outcome model with a sandwich of the stacked estimating equations.

    ``frame`` has one row per visit with ``participant_id``, ``m6``, ``m12``, ``cluster``
    and ``weights`` (the IPTW, or IPTW × IPCW when ``ipcw`` is given). Without ``ipcw``
    any other factor in ``weights`` counts as known.
    """
    from threadpoolctl import threadpool_limits

    fit = fit_clustered_logit(frame, formula, cluster, weights=weights)
    # One BLAS thread: with IPCW the stack has ~120 parameters, where OpenBLAS splits
    # products and the inverse over threads and the last digits followed the thread count
    # (the report's worker processes run one thread, a serial run two).
    try:
        with threadpool_limits(limits=1):
            cov = _stacked_cov(frame, formula, cluster, iptw, fit.params, weights, ipcw)
    except np.linalg.LinAlgError:
        # A weight's model that separates (a visit nearly everyone, or no one, attended in
        # some cell) leaves the stack without a solution: no honest standard error.
        fit.estimable = False
        fit.notes.append(Note(N_("not estimable: {problem}"), problem=Note(N_(
            "a model of the weights separates, so the stacked estimating equations have no "
            "solution"))))
        return fit
    names = list(fit.params.index)
    se = np.sqrt(np.diag(cov))
    b = fit.params.to_numpy()
    tq = stats.t.ppf(0.975, fit.df)
    fit.summary = pd.DataFrame({"term": names, "coef": b, "se": se, "odds_ratio": np.exp(b),
                                "ci_lower": np.exp(b - tq * se),
                                "ci_upper": np.exp(b + tq * se),
                                "p": 2 * stats.t.sf(np.abs(b / se), fit.df)})
    fit.cov = pd.DataFrame(cov, index=names, columns=names)
    what = (Note(N_("propensity score, proportion treated, completion models and completion "
                    "rates of {visits}"), visits=", ".join(ipcw.details))
            if ipcw is not None else Note(N_("propensity score, proportion treated")))
    fit.notes.append(Note(N_("standard errors from stacked estimating equations ({what}; "
                             "outcome model), clustered on centre, × G/(G-1)"), what=what))
    return fit


def _stacked_cov(frame: pd.DataFrame, formula: str, cluster: str, iptw: WeightsResult,
                 params: pd.Series, weights: str, ipcw: WeightsResult | None) -> np.ndarray:
    """The outcome model's block of the stacked sandwich (× G/(G−1))."""
    import patsy

    data = frame.sort_values(cluster, kind="stable")
    _, z = patsy.dmatrices(formula, data, return_type="dataframe")
    z = z[list(params.index)].to_numpy(dtype=float)
    y = data["y"].to_numpy(dtype=float)
    w = data[weights].to_numpy(dtype=float)
    pids = data["participant_id"].to_numpy()
    mu = 1 / (1 + np.exp(-(z @ params.to_numpy())))
    parts = _iptw_parts(iptw, pids, w)
    centres: dict[str, str] = {}
    if iptw.details.get("centre") is not None:
        centres.update(zip(iptw.details["participant_id"], iptw.details["centre"],
                           strict=True))
    if ipcw is not None:
        parts += _ipcw_parts(ipcw, data, pids, w)
        for d in ipcw.details.values():
            centres.update(zip(d["participant_id"], d["centre"], strict=True))
    unit_cl, row_cl, g = _unit_clusters(parts, data, cluster, centres)
    sizes = [part.jacobian.shape[0] for part in parts]
    k, pb = sum(sizes), z.shape[1]
    bread = np.zeros((k + pb, k + pb))
    psi = np.zeros((g, k + pb))
    start = 0
    resid = z * (y - mu)[:, None]
    for part, size, cl in zip(parts, sizes, unit_cl, strict=True):
        block = slice(start, start + size)
        bread[block, block] = part.jacobian
        bread[k:, block] = -resid.T @ part.dw
        known = cl >= 0
        np.add.at(psi[:, block], cl[known], part.scores[known])
        start += size
    bread[k:, k:] = (z * (w * mu * (1 - mu))[:, None]).T @ z
    np.add.at(psi[:, k:], row_cl, z * (w * (y - mu))[:, None])
    inv = np.linalg.inv(bread)
    return np.asarray((inv @ (psi.T @ psi) @ inv.T)[k:, k:] * g / (g - 1))


def censoring_blocks(data: AnalysisData, *, covariates: Sequence[str] = PS_COVARIATES,
                     group_col: str = "group_itt") -> dict[str, pd.DataFrame]:
    """Per follow-up visit, one row per participant due for it: ``participant_id``,
    ``observed`` (questionnaire done) and the completion model's predictors (group,
    baseline covariates, centre; after the first follow-up visit, the answers of the visit
    before and whether it was done)."""
    cfg = data.config
    p = data.participants
    q = data.questionnaires
    as_of = pd.Timestamp(data.snapshot.as_of)
    base = covariate_frame(p, covariates)
    base["intervention"] = (p[group_col] == "intervention").astype(float)
    base["centre"] = p["centre_code"].astype(str)
    blocks = {}
    follow_ups = cfg.schedule.follow_ups
    for at, visit in enumerate(follow_ups):
        tp = visit.name
        closes = p["inclusion_date"] + pd.Timedelta(days=window_close_day(cfg, tp))
        done = p["participant_id"].isin(q.loc[q["timepoint"] == tp, "participant_id"])
        due = (closes <= as_of) | done
        block = base[due].copy()
        pid = p.loc[due, "participant_id"]
        if at > 0:  # the follow-up visit before: whether it was done, and its answers
            before = follow_ups[at - 1]
            prev = q[q["timepoint"] == before.name].drop_duplicates(
                "participant_id").set_index("participant_id")
            block[f"did_{before.key}"] = pid.isin(prev.index).astype(float).to_numpy()
            for item in PREVIOUS_VISIT_ITEMS:
                if item in prev.columns:
                    val = pid.map(pd.to_numeric(prev[item], errors="coerce")).astype(float)
                    block[f"{item}_prev"] = val.fillna(-1).map(
                        {1.0: "yes", 0.0: "no", -1.0: "not done"}).fillna("not done")
        block.insert(0, "observed", done[due].astype(float).to_numpy())
        block.insert(0, "participant_id", pid.to_numpy())
        blocks[tp] = block.reset_index(drop=True)
    return blocks


def censoring_fit(blocks: Mapping[str, pd.DataFrame]) -> WeightsResult:
    """Fit each visit's completion model; weights ``rate / max(P(done | X), 0.01)`` indexed
    by (participant_id, timepoint), with what the stacked sandwich needs in ``details``."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    lookups, summaries, formulas, details = [], [], [], {}
    for tp, block in blocks.items():
        formula = logit_formula("observed", block.drop(
            columns=["participant_id", "observed"]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = smf.glm(formula, data=block, family=sm.families.Binomial()).fit()
        with np.errstate(over="ignore"):  # a near-separated visit: clipped just below
            p_raw = np.asarray(fit.predict(block), dtype=float)
        observed = block["observed"].to_numpy(dtype=float)
        rate = float(observed.mean())
        w = rate / np.clip(p_raw, P_OBS_FLOOR, 1.0)
        pid = block["participant_id"].to_numpy()
        lookups.append(pd.Series(w, index=pd.MultiIndex.from_arrays(
            [pid, [tp] * len(block)])))
        formulas.append(f"{tp}: {formula}")
        summaries.append({"model": f"completion of {tp} (logit)", "formula": formula,
                          "n": len(block), "observed_pct": 100 * rate})
        details[tp] = {"exog": np.asarray(fit.model.exog, dtype=float), "p_raw": p_raw,
                       "observed": observed, "participant_id": pid, "marginal": rate,
                       "centre": block["centre"].to_numpy(dtype=str) if "centre" in block
                       else np.full(len(block), "", dtype=str)}
    lookup = pd.concat(lookups).rename("ipcw")
    summary = pd.DataFrame(summaries)
    return WeightsResult(lookup, summary, "; ".join(formulas), details)


def censoring_weights_previous(data: AnalysisData, *,
                               covariates: Sequence[str] = PS_COVARIATES,
                               group_col: str = "group_itt") -> WeightsResult:
    """Visit-level inverse probability of censoring weights (M6, M12), the M12 model
    using the M6 answers. Returns weights indexed like ``data.questionnaires`` (M0 and
    visits no model covers: 1)."""
    fitted = censoring_fit(censoring_blocks(data, covariates=covariates,
                                            group_col=group_col))
    q = data.questionnaires
    keys = pd.MultiIndex.from_arrays([q["participant_id"], q["timepoint"]])
    w = pd.Series(fitted.weights.reindex(keys).to_numpy(), index=q.index,
                  name="ipcw").fillna(1.0)
    fitted.summary["weight_min"], fitted.summary["weight_max"] = float(w.min()), float(w.max())
    fitted.weights = w
    return fitted
