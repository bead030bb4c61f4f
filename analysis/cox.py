"""Cox models as R's ``coxph`` fits them on heavily tied data, with their PH check.

Losses to follow-up are dated at the close of a visit window, so almost all events of a
cohort fall on two days: ties are the rule. Two things then go wrong with lifelines:
its score residuals ignore ties, so the cluster-robust standard error changes with the
order of the rows (0.1607, 0.1610, 0.1639 for three shuffles of one cohort, against R's
0.15722). Here:

- the coefficients and the model-based information come from statsmodels' ``PHReg``
  with ``ties="efron"``;
- the **score residuals are Efron's** (as R's ``residuals(fit, "score")``): at a time with
  ``d`` tied events, the ``k``-th of the ``d`` steps removes ``k/d`` of the dying
  participants' weight from the risk set, for the events' own terms too. Every sum is
  over risk sets, never over the order of the rows, so shuffling changes nothing;
- the **cluster-robust covariance** is ``I⁻¹ (Σ_c L_c L_cᵀ) I⁻¹`` with ``L_c`` the summed
  score residuals of cluster ``c`` (R's ``coxph(..., cluster = centre)``);
- the **proportional-hazards test** is R's ``cox.zph`` (survival ≥ 3.0, ``transform =
  "km"``): a score test of adding ``g(t)·x`` for each covariate, with ``g`` the
  left-continuous ``1 - KM`` of all rows, centred on the events, Efron's weighting.

Tested against R on a demo cohort (``tests/analysis/test_analysis_r_reference.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm

from analysis import visits
from analysis.clustered import fit_clustered_logit
from analysis.results import ResultBase
from analysis.wording import Note, Num
from forms.i18n import N_

Z95 = 1.959963984540054


@dataclass
class _EventTimes:
    """Per distinct event time of one stratum: Efron-averaged risk-set quantities."""

    time: np.ndarray          # (m,)
    score: np.ndarray         # (m, p): sum of the events' x minus the Efron means
    info: np.ndarray          # (m, p, p): Efron information increments
    a_all: np.ndarray         # (m,): sum over steps of 1 / denominator
    b_all: np.ndarray         # (m, p): sum over steps of mean / denominator
    a_dead: np.ndarray        # (m,): same, weighted (1 - k/d), for the events themselves
    b_dead: np.ndarray        # (m, p)
    mean: np.ndarray          # (m, p): average over steps of the Efron means


def _event_times(t: np.ndarray, e: np.ndarray, x: np.ndarray, r: np.ndarray) -> _EventTimes:
    order = np.argsort(t, kind="stable")
    t, e, x, r = t[order], e[order], x[order], r[order]
    p = x.shape[1]
    times = np.unique(t[e == 1])
    # Risk set at time s: rows with t >= s (reverse cumulative sums, then look up).
    rx = x * r[:, None]
    rxx = x[:, :, None] * rx[:, None, :]
    s0_all = np.cumsum(r[::-1])[::-1]
    s1_all = np.cumsum(rx[::-1], axis=0)[::-1]
    s2_all = np.cumsum(rxx[::-1], axis=0)[::-1]
    start = np.searchsorted(t, times, side="left")
    s0, s1, s2 = s0_all[start], s1_all[start], s2_all[start]
    idx = np.searchsorted(times, t[e == 1])
    d = np.bincount(idx, minlength=len(times)).astype(float)
    re, xe = r[e == 1], x[e == 1]
    s0d = np.bincount(idx, weights=re, minlength=len(times))
    s1d = np.zeros((len(times), p))
    np.add.at(s1d, idx, rx[e == 1])
    s2d = np.zeros((len(times), p, p))
    np.add.at(s2d, idx, rxx[e == 1])
    xsum = np.zeros((len(times), p))
    np.add.at(xsum, idx, xe)
    m = len(times)
    score, info = np.zeros((m, p)), np.zeros((m, p, p))
    a_all, b_all = np.zeros(m), np.zeros((m, p))
    a_dead, b_dead, mean = np.zeros(m), np.zeros((m, p)), np.zeros((m, p))
    for j in range(m):
        k = np.arange(int(d[j])) / d[j]
        denom = s0[j] - k * s0d[j]
        a = (s1[j][None, :] - k[:, None] * s1d[j][None, :]) / denom[:, None]
        v = (s2[j][None] - k[:, None, None] * s2d[j][None]) / denom[:, None, None]
        info[j] = (v - a[:, :, None] * a[:, None, :]).sum(axis=0)
        score[j] = xsum[j] - a.sum(axis=0)
        a_all[j] = (1 / denom).sum()
        b_all[j] = (a / denom[:, None]).sum(axis=0)
        a_dead[j] = ((1 - k) / denom).sum()
        b_dead[j] = (a * ((1 - k) / denom)[:, None]).sum(axis=0)
        mean[j] = a.mean(axis=0)
    return _EventTimes(times, score, info, a_all, b_all, a_dead, b_dead, mean)


def _score_residuals(t: np.ndarray, e: np.ndarray, x: np.ndarray, r: np.ndarray,
                     et: _EventTimes) -> np.ndarray:
    """Efron score residuals of one stratum, in the rows' own order."""
    if len(et.time) == 0:
        return np.zeros_like(x)
    upto = np.searchsorted(et.time, t, side="right")  # event times <= t
    cum_a = np.r_[0.0, np.cumsum(et.a_all)][upto]
    cum_b = np.vstack([np.zeros(x.shape[1]), np.cumsum(et.b_all, axis=0)])[upto]
    dead = e == 1
    own = np.clip(upto - 1, 0, None)
    cum_a = cum_a - np.where(dead, et.a_all[own] - et.a_dead[own], 0.0)
    cum_b = cum_b - np.where(dead[:, None], et.b_all[own] - et.b_dead[own], 0.0)
    resid = -r[:, None] * (x * cum_a[:, None] - cum_b)
    resid[dead] += x[dead] - et.mean[own[dead]]
    return np.asarray(resid)


@dataclass
class CoxFit(ResultBase):
    """A Cox model: ``summary`` has log-HR, SE, HR, 95% CI and p per covariate;
    ``ph_test`` the Schoenfeld (``cox.zph``) test per covariate and globally."""

    formula: str
    strata: str | None
    cluster: str | None
    n: int
    events: int
    summary: pd.DataFrame
    ph_test: pd.DataFrame
    cov: pd.DataFrame
    naive_se: pd.Series
    notes: list[str] = field(default_factory=list)


def fit_cox_efron(df: pd.DataFrame, duration: str, event: str, covariates: Sequence[str], *,
                  strata: str | None = None, cluster: str | None = None) -> CoxFit:
    """Cox model with Efron ties; robust errors clustered on ``cluster`` (as R's
    ``coxph(..., cluster = )``), a baseline hazard per level of ``strata``."""
    from statsmodels.duration.hazard_regression import PHReg

    cols = [duration, event, *covariates, *(c for c in (strata, cluster) if c)]
    frame = df[list(dict.fromkeys(cols))].dropna().reset_index(drop=True)
    t = frame[duration].to_numpy(dtype=float)
    e = frame[event].to_numpy(dtype=int)
    x = frame[list(covariates)].to_numpy(dtype=float)
    st = (pd.factorize(frame[strata])[0] if strata else np.zeros(len(frame), dtype=int))
    model = PHReg(t, x, status=e, ties="efron", strata=st if strata else None)
    res = model.fit(disp=False)
    beta = np.asarray(res.params, dtype=float)
    info = -model.hessian(beta)
    inv = np.linalg.inv(info)
    r = np.exp(x @ beta - (x @ beta).max())
    resid = np.zeros_like(x)
    per_stratum = []
    for s in np.unique(st):
        rows = np.flatnonzero(st == s)
        ets = _event_times(t[rows], e[rows], x[rows], r[rows])
        resid[rows] = _score_residuals(t[rows], e[rows], x[rows], r[rows], ets)
        per_stratum.append((rows, ets))
    if cluster:
        codes = pd.factorize(frame[cluster])[0]
        sums = np.zeros((codes.max() + 1, x.shape[1]))
        np.add.at(sums, codes, resid)
        cov = inv @ (sums.T @ sums) @ inv
    else:
        cov = inv
    se = np.sqrt(np.diag(cov))
    z = beta / se
    names = list(covariates)
    summary = pd.DataFrame({
        "term": names, "coef": beta, "se": se, "hr": np.exp(beta),
        "ci_lower": np.exp(beta - Z95 * se), "ci_upper": np.exp(beta + Z95 * se),
        "p": 2 * norm.sf(np.abs(z)),
    })
    ph = _zph(t, e, x, per_stratum, names)
    spec = f"Surv({duration}, {event}) ~ {' + '.join(names)}"
    return CoxFit(spec, strata, cluster, len(frame), int(e.sum()), summary, ph,
                  pd.DataFrame(cov, index=names, columns=names),
                  pd.Series(np.sqrt(np.diag(inv)), index=names))


def _km_left(t: np.ndarray, e: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``1 - S(s-)`` of the Kaplan–Meier curve of all rows, at each time ``s`` of ``at``."""
    times = np.unique(t[e == 1])
    n_risk = len(t) - np.searchsorted(np.sort(t), times, side="left")
    deaths = np.bincount(np.searchsorted(times, t[e == 1]), minlength=len(times))
    surv = np.cumprod(1 - deaths / n_risk)
    before = np.searchsorted(times, at, side="left")  # event times strictly before s
    return np.asarray(1 - np.r_[1.0, surv][before])


def _zph(t: np.ndarray, e: np.ndarray, x: np.ndarray,
         per_stratum: list[tuple[np.ndarray, _EventTimes]], names: list[str]) -> pd.DataFrame:
    """R's ``cox.zph(fit)`` table: chisq, df, p per covariate and GLOBAL."""
    centre = _km_left(t, e, t[e == 1]).mean()
    p = x.shape[1]
    u = np.zeros(p)
    imat = np.zeros((2 * p, 2 * p))
    for _, ets in per_stratum:
        if len(ets.time) == 0:
            continue
        g = _km_left(t, e, ets.time) - centre
        u += (g[:, None] * ets.score).sum(axis=0)
        imat[:p, :p] += ets.info.sum(axis=0)
        imat[:p, p:] += (g[:, None, None] * ets.info).sum(axis=0)
        imat[p:, p:] += (g[:, None, None] ** 2 * ets.info).sum(axis=0)
    imat[p:, :p] = imat[:p, p:].T
    def score_test(vec: np.ndarray, mat: np.ndarray) -> float:
        # All events at one time (a constant g): nothing to test, not a zero statistic.
        if np.linalg.cond(mat) > 1e12:
            return float("nan")
        return float(vec @ np.linalg.solve(mat, vec))

    rows_out = []
    for i, name in enumerate(names):
        kk = [*range(p), p + i]
        stat = score_test(np.r_[np.zeros(p), u[i]], imat[np.ix_(kk, kk)])
        rows_out.append({"term": name, "chisq": stat, "df": 1, "p": float(chi2.sf(stat, 1))})
    stat = score_test(np.r_[np.zeros(p), u], imat)
    rows_out.append({"term": "GLOBAL", "chisq": stat, "df": p, "p": float(chi2.sf(stat, p))})
    return pd.DataFrame(rows_out)


# --------------------------------------------------------------------------- per visit
def discrete_time_frame(participants: pd.DataFrame, closes: Sequence[int],
                        labels: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per participant and scheduled visit at which they were at risk of being
    found lost: ``lost`` is 1 if the loss is dated in that visit's interval.

    Interval ``k`` runs from the previous window's close (day 0 first) to this window's
    close. A participant is in it if followed past its start and either followed to its
    close or lost within it; a death or withdrawal inside it, or an as-of date before its
    close, leaves them out of it (censored), as in any discrete-time survival model.
    """
    labels = visits.follow_up_names() if labels is None else labels
    days = participants["ltfu_days"].to_numpy()
    lost_any = participants["ltfu_event"].to_numpy() == 1
    blocks = []
    lo = 0
    for k, (hi, label) in enumerate(zip(closes, labels, strict=True)):
        started = (days > lo) | (k == 0)
        lost = lost_any & (days <= hi) & started & ((days > lo) | (k == 0))
        at = started & ((days >= hi) | lost)
        sub = participants.loc[at].copy()
        sub["visit"] = label
        sub["lost"] = lost[at].astype(int)
        blocks.append(sub)
        lo = hi
    return pd.concat(blocks, ignore_index=True)


@dataclass
class DiscreteTimeResult(ResultBase):
    """Per-visit logistic model of loss to follow-up: ``summary`` has ORs per term."""

    formula: str
    n_rows: int
    n_clusters: int
    summary: pd.DataFrame
    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def discrete_time_ltfu(participants: pd.DataFrame, closes: Sequence[int], *,
                       cluster: str = "centre_code",
                       labels: Sequence[str] | None = None) -> DiscreteTimeResult:
    """Loss to follow-up as a per-visit event: ``lost ~ visit + intervention``, logit,
    sandwich errors clustered on ``cluster`` with the bias-reduced correction."""
    labels = visits.follow_up_names() if labels is None else labels
    frame = discrete_time_frame(participants, closes, labels)
    frame["intervention"] = (frame["group_itt"] == "intervention").astype(float)
    later = [lab for lab in frame["visit"].unique() if lab != labels[0]]
    for lab in later:
        frame[lab.lower()] = (frame["visit"] == lab).astype(float)
    formula = "lost ~ " + " + ".join([*(lab.lower() for lab in later), "intervention"])
    fit = fit_clustered_logit(frame, formula, cluster)
    table = frame.groupby(["visit", "group_itt"])["lost"].agg(["sum", "count"]).reset_index()
    table = table.rename(columns={"sum": "lost", "count": "at_risk"})
    return DiscreteTimeResult(Note(N_("{formula}  [logit, clustered on {cluster}, "
                                      "bias-reduced]"), formula=formula, cluster=cluster),
                              len(frame), fit.n_clusters, fit.summary, table, fit.notes)


def ph_note(fit: CoxFit, alpha: float = 0.05) -> Note:
    """A sentence for the report on what the Schoenfeld test says."""
    bad = fit.ph_test[(fit.ph_test["term"] != "GLOBAL") & (fit.ph_test["p"] < alpha)]
    if fit.ph_test["p"].isna().all():
        return Note(N_("Schoenfeld test not computable: the losses fall at too few distinct "
                       "times for a change of the hazard ratio over time to be seen."))
    if bad.empty:
        return Note(N_("Schoenfeld test (R cox.zph, KM time scale): no evidence against "
                       "proportional hazards at the 5% level."))
    terms = [Note(N_("{term} (p = {p})"), term=r.term, p=Num(r.p, ".3g"))
             for r in bad.itertuples()]
    return Note(N_("Schoenfeld test: proportional hazards doubtful for {terms}; the hazard "
                   "ratio is an average over follow-up — read the per-visit (discrete-time) "
                   "model beside it."), terms=terms)
