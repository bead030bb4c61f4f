"""Weighted outcome models whose standard errors know the weights were estimated.

**IPTW by stacked estimating equations.** The propensity score's logistic score equations
and the weighted outcome model's are solved together; the sandwich of the stacked system
(clustered on centre) carries the propensity score's own uncertainty into the outcome
model's errors (Lunceford & Davidian, Stat Med 2004). No resampling, so no seed: the
same rows always give the same numbers. Trimmed weights do not move with the score
(derivative 0); the stabilising proportions are treated as known.

**Censoring weights from the previous visit.** Whether an M12 questionnaire is done
depends on how the person was doing at M6 (in the demo, as in the field, people at
higher risk miss more). The M12 completion model therefore uses the M6 answers (the two
outcome composites, and whether M6 was done at all) besides group, baseline covariates
and centre; M6 completion uses the M0 answers (baseline). Weights are stabilised by the
visit's completion rate.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.clustered import ClusteredFit, fit_clustered_logit
from analysis.data import AnalysisData, window_close_day
from analysis.outcomes import PS_COVARIATES, WeightsResult, _covariate_frame, _logit_formula

PREVIOUS_VISIT_ITEMS = ("any_risk_practice", "any_complication")


def stacked_iptw_fit(frame: pd.DataFrame, formula: str, cluster: str, iptw: WeightsResult,
                     *, weights: str = "iptw") -> ClusteredFit:
    """The weighted outcome model with a stacked (propensity + outcome) sandwich.

    ``frame`` has one row per visit with ``participant_id``, ``cluster`` and ``weights``
    (the IPTW, possibly times visit-level censoring weights, which count as known).
    """
    fit = fit_clustered_logit(frame, formula, cluster, weights=weights)
    import patsy

    data = frame.sort_values(cluster, kind="stable")
    _, z = patsy.dmatrices(formula, data, return_type="dataframe")
    z = z[list(fit.params.index)].to_numpy(dtype=float)
    y = data["y"].to_numpy(dtype=float)
    w = data[weights].to_numpy(dtype=float)
    mu = 1 / (1 + np.exp(-(z @ fit.params.to_numpy())))
    d = iptw.details
    xa, e, t = d["exog"], d["ps"], d["treated"]
    pos = pd.Series(np.arange(len(e)), index=d["participant_id"])
    row = pos.reindex(data["participant_id"].to_numpy()).to_numpy()
    has = ~np.isnan(row)
    row = np.where(has, row, 0).astype(int)
    # d w / d alpha per visit: treated -w(1-e) x, comparison +w e x; trimmed: 0.
    slope = np.where(t[row] == 1, -(1 - e[row]), e[row]) * ~d["clipped"][row] * has
    dw = (w * slope)[:, None] * xa[row]
    v = mu * (1 - mu)
    a_aa = (xa * (e * (1 - e))[:, None]).T @ xa
    a_bb = (z * (w * v)[:, None]).T @ z
    a_ba = -(z * (y - mu)[:, None]).T @ dw
    pa, pb = xa.shape[1], z.shape[1]
    bread = np.zeros((pa + pb, pa + pb))
    bread[:pa, :pa], bread[pa:, pa:], bread[pa:, :pa] = a_aa, a_bb, a_ba
    # Cluster sums of the stacked scores: each participant's PS score goes to their centre.
    clusters, levels = pd.factorize(data[cluster].astype(str))
    g = len(levels)
    psi = np.zeros((g, pa + pb))
    np.add.at(psi[:, pa:], clusters, z * (w * (y - mu))[:, None])
    if d.get("centre") is not None and cluster == "centre_code":
        pc = pd.Index(levels).get_indexer(d["centre"])
    else:  # each participant's propensity score goes to the cluster of their visits
        first = pd.Series(clusters, index=data["participant_id"].to_numpy())
        pc = first[~first.index.duplicated()].reindex(d["participant_id"]).fillna(-1)
        pc = pc.to_numpy().astype(int)
    known = pc >= 0
    np.add.at(psi[:, :pa], pc[known], (xa * (t - e)[:, None])[known])
    inv = np.linalg.inv(bread)
    cov = (inv @ (psi.T @ psi) @ inv.T)[pa:, pa:] * g / (g - 1)
    names = list(fit.params.index)
    se = np.sqrt(np.diag(cov))
    b = fit.params.to_numpy()
    tq = stats.t.ppf(0.975, fit.df)
    summary = pd.DataFrame({"term": names, "coef": b, "se": se, "odds_ratio": np.exp(b),
                            "ci_lower": np.exp(b - tq * se), "ci_upper": np.exp(b + tq * se),
                            "p": 2 * stats.t.sf(np.abs(b / se), fit.df)})
    fit.cov = pd.DataFrame(cov, index=names, columns=names)
    fit.summary = summary
    fit.notes.append("standard errors from stacked estimating equations (propensity score "
                     "and outcome model), clustered on centre, × G/(G-1)")
    return fit


def censoring_weights_previous(data: AnalysisData, *,
                               covariates: Sequence[str] = PS_COVARIATES,
                               group_col: str = "group_itt") -> WeightsResult:
    """Visit-level inverse probability of censoring weights (every follow-up visit), each
    later visit's model using the answers of the follow-up visit before it. Returns
    weights indexed like ``data.questionnaires``."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    cfg = data.config
    p = data.participants
    q = data.questionnaires
    as_of = pd.Timestamp(data.snapshot.as_of)
    base = _covariate_frame(p, covariates)
    base["intervention"] = (p[group_col] == "intervention").astype(float)
    base["centre"] = p["centre_code"].astype(str)
    lookups, summaries, formulas = [], [], []
    follow_ups = cfg.schedule.follow_ups
    for at, visit in enumerate(follow_ups):
        tp = visit.name
        closes = p["inclusion_date"] + pd.Timedelta(days=window_close_day(cfg, tp))
        done = p["participant_id"].isin(q.loc[q["timepoint"] == tp, "participant_id"])
        due = (closes <= as_of) | done
        block = base[due].copy()
        if at > 0:
            before = follow_ups[at - 1]
            prev = q[q["timepoint"] == before.name].drop_duplicates("participant_id"
                                                                   ).set_index("participant_id")
            pid = p.loc[due, "participant_id"]
            block[f"did_{before.key}"] = pid.isin(prev.index).astype(float).to_numpy()
            for item in PREVIOUS_VISIT_ITEMS:
                if item in prev.columns:
                    val = pid.map(pd.to_numeric(prev[item], errors="coerce")).astype(float)
                    block[f"{item}_prev"] = val.fillna(-1).map(
                        {1.0: "yes", 0.0: "no", -1.0: "not done"}).fillna("not done")
        formula = _logit_formula("observed", block)
        block["observed"] = done[due].astype(float).to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = smf.glm(formula, data=block, family=sm.families.Binomial()).fit()
        with np.errstate(over="ignore"):  # a near-separated visit: clipped just below
            p_obs = np.clip(np.asarray(fit.predict(block)), 0.01, 1.0)
        w = block["observed"].mean() / p_obs
        lookups.append(pd.Series(w, index=pd.MultiIndex.from_arrays(
            [p.loc[due, "participant_id"].to_numpy(), [tp] * int(due.sum())])))
        formulas.append(f"{tp}: {formula}")
        summaries.append({"model": f"completion of {tp} (logit)", "formula": formula,
                          "n": int(due.sum()),
                          "observed_pct": float(100 * block["observed"].mean())})
    lookup = pd.concat(lookups)
    keys = pd.MultiIndex.from_arrays([q["participant_id"], q["timepoint"]])
    w = pd.Series(lookup.reindex(keys).to_numpy(), index=q.index, name="ipcw").fillna(1.0)
    summary = pd.DataFrame(summaries)
    summary["weight_min"], summary["weight_max"] = float(w.min()), float(w.max())
    return WeightsResult(w, summary, "; ".join(formulas))


