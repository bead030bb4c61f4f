"""Retention: completion per centre and group, time to loss to follow-up, CONSORT flow.

Thin wrappers over lifelines, each returning a result object with a ``summary`` frame.
The generic functions (:func:`fit_km`, :func:`fit_cox`, :func:`logrank`,
:func:`cumulative_incidence`) take any frame and column names, so they are checked
against R on reference data; :func:`retention_analysis` applies them to the cohort.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.cox import discrete_time_ltfu, fit_cox_efron
from analysis.data import DAYS_PER_MONTH, AnalysisData, window_close_day
from analysis.results import ResultBase
from forms.i18n import N_

GROUPS = ("intervention", "comparison")


@dataclass
class KMResult(ResultBase):
    """Kaplan–Meier fits per level of ``by``; ``summary`` gives survival at given times."""

    by: str | None
    fitters: dict[str, Any]
    summary: pd.DataFrame
    notes: list[str] = field(default_factory=list)


@dataclass
class TestResult(ResultBase):
    """A log-rank test: ``summary`` has the statistic, degrees of freedom and p-value."""

    name: str
    summary: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def p_value(self) -> float:
        return float(self.summary["p"].iloc[0])


@dataclass
class CoxResult(ResultBase):
    """A Cox model: ``summary`` has log-HR, SE, HR and its 95% CI per covariate."""

    formula: str
    strata: list[str] | None
    cluster_col: str | None
    summary: pd.DataFrame
    fitter: Any = field(repr=False, default=None)
    notes: list[str] = field(default_factory=list)


@dataclass
class CIFResult(ResultBase):
    """Cumulative incidence (Aalen–Johansen) of the event of interest, with competing events."""

    event_of_interest: int
    fitters: dict[str, Any]
    summary: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def fit_km(df: pd.DataFrame, duration_col: str, event_col: str, *, by: str | None = None,
           times: Sequence[float] = (6.0, 12.0), label: str = "all") -> KMResult:
    """Kaplan–Meier survival (here: staying in follow-up) overall or per level of ``by``."""
    from lifelines import KaplanMeierFitter

    fitters: dict[str, Any] = {}
    rows = []
    levels = [(label, df)] if by is None else [(str(k), g) for k, g in df.groupby(by)]
    for name, sub in levels:
        kmf = KaplanMeierFitter(label=name).fit(sub[duration_col], sub[event_col])
        fitters[name] = kmf
        ci = kmf.confidence_interval_survival_function_
        for t in times:
            s = float(kmf.survival_function_at_times(t).iloc[0])
            idx = ci.index[ci.index <= t]
            lo, hi = (ci.loc[idx[-1]].to_numpy() if len(idx) else (1.0, 1.0))
            rows.append({"level": name, "n": len(sub), "events": int(sub[event_col].sum()),
                         "time": t, "survival": s, "ci_lower": float(lo),
                         "ci_upper": float(hi), "median": float(kmf.median_survival_time_)})
    return KMResult(by, fitters, pd.DataFrame(rows))


def logrank(df: pd.DataFrame, duration_col: str, event_col: str, by: str) -> TestResult:
    """Log-rank test of equal survival across the levels of ``by`` (two or more)."""
    from lifelines.statistics import multivariate_logrank_test

    res = multivariate_logrank_test(df[duration_col], df[by], df[event_col])
    summary = pd.DataFrame([{"test": f"log-rank by {by}", "statistic": float(res.test_statistic),
                             "df": int(res.degrees_of_freedom), "p": float(res.p_value),
                             "levels": int(df[by].nunique())}])
    return TestResult(f"log-rank by {by}", summary)


def fit_cox(df: pd.DataFrame, duration_col: str, event_col: str, covariates: Sequence[str],
            *, strata: Sequence[str] | None = None, cluster_col: str | None = None,
            formula: str | None = None) -> CoxResult:
    """Cox proportional hazards (Efron ties, as R's ``coxph``).

    ``strata`` gives each stratum its own baseline hazard; ``cluster_col`` asks for
    cluster-robust (sandwich) standard errors, e.g. clustered on centre.
    """
    from lifelines import CoxPHFitter

    cols = [duration_col, event_col, *covariates, *(strata or [])]
    if cluster_col:
        cols.append(cluster_col)
    frame = df[list(dict.fromkeys(cols))].dropna()
    cph = CoxPHFitter()
    kwargs: dict[str, Any] = {"strata": list(strata) if strata else None}
    if cluster_col:
        kwargs["cluster_col"] = cluster_col
    if formula:
        kwargs["formula"] = formula
    cph.fit(frame, duration_col, event_col, **kwargs)
    s = cph.summary
    summary = pd.DataFrame({
        "term": s.index.astype(str), "coef": s["coef"].to_numpy(),
        "se": s["se(coef)"].to_numpy(), "hr": s["exp(coef)"].to_numpy(),
        "ci_lower": s["exp(coef) lower 95%"].to_numpy(),
        "ci_upper": s["exp(coef) upper 95%"].to_numpy(), "p": s["p"].to_numpy(),
    })
    spec = formula or " + ".join(covariates)
    return CoxResult(f"Surv({duration_col}, {event_col}) ~ {spec}",
                     list(strata) if strata else None, cluster_col, summary, cph)


def untie(durations: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """Durations made distinct so that lifelines' Aalen–Johansen fitter sees no ties and
    no event at time 0, without changing the tied-time estimator.

    lifelines cannot take tied event times: it jitters them at random (so estimates depend
    on a seed, and a censoring can land before an event it tied with), and it sets the
    increment of its first row to zero, so events at time 0 (tied or jittered there) are
    dropped. Instead, within each distinct time ``t`` the ``k``-th event (any cause) is
    moved to ``t + k·ε`` and the censorings after all of them, with ε so small that no
    record crosses half the gap to the next distinct time. Handling ``d`` tied events one
    after the other gives the same product ``(n - d) / n`` and the same increments
    ``S(t-)·d_j / n`` as the tied formulas, and censorings after events is the
    Kaplan–Meier convention: with no competing event the result equals ``1 - KM`` exactly.
    """
    t = np.asarray(durations, dtype=float)
    distinct = np.unique(t)
    gap = float(np.diff(distinct).min()) if len(distinct) > 1 else 1.0
    eps = gap / (2.0 * (len(t) + 2))
    censored = np.asarray(outcomes) == 0
    order = np.lexsort((censored, t))  # by time, events before censorings
    sorted_t = t[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_t)) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, len(t)]))
    rank = np.arange(len(t)) - first
    out = np.empty_like(t)
    out[order] = sorted_t + eps * (rank + 1)
    return out


def cumulative_incidence(df: pd.DataFrame, duration_col: str, outcome_col: str, *,
                         event_of_interest: int = 1, by: str | None = None,
                         times: Sequence[float] = (6.0, 12.0)) -> CIFResult:
    """Aalen–Johansen cumulative incidence with competing events (outcome codes > 0).

    Times are made distinct first (:func:`untie`): every record moves forward by less
    than half the gap between two distinct times, events before censorings, so events
    at time 0 count and ties are handled as by the tied-time estimator (R ``cmprsk``),
    deterministically. The fitters' timelines are these shifted times (invisible on a
    plot); ``summary`` reads each curve at the original ``times``.
    """
    from lifelines import AalenJohansenFitter

    fitters: dict[str, Any] = {}
    rows = []
    levels = [("all", df)] if by is None else [(str(k), g) for k, g in df.groupby(by)]
    for name, sub in levels:
        original = sub[duration_col].to_numpy(dtype=float)
        outcome = sub[outcome_col].to_numpy()
        shifted = untie(original, outcome)
        ajf = AalenJohansenFitter().fit(shifted, outcome, event_of_interest=event_of_interest,
                                        label=name)
        fitters[name] = ajf
        cif = ajf.cumulative_density_
        for t in times:
            upto = shifted[original <= t]
            value = (float(cif.loc[cif.index <= upto.max()].iloc[-1, 0]) if len(upto)
                     else 0.0)
            rows.append({"level": name, "time": t, "cumulative_incidence": value,
                         "events": int((outcome == event_of_interest).sum()),
                         "competing": int(((outcome > 0)
                                           & (outcome != event_of_interest)).sum())})
    return CIFResult(event_of_interest, fitters, pd.DataFrame(rows))


def completion(data: AnalysisData, *, by: Sequence[str] = ("centre_code", "group_itt"),
               ) -> pd.DataFrame:
    """Completion of each follow-up visit per centre and group: counts, % of enrolled,
    % in window.

    Only participants whose window has closed by the as-of date count in the denominator
    (``eligible_m6``…), so recently enrolled people do not look missing.
    """
    config = data.config
    as_of = pd.Timestamp(data.snapshot.as_of)
    p = data.participants
    q = data.questionnaires
    rows = p[["participant_id", *by, "inclusion_date"]].copy()
    keys = [(v.name, v.key) for v in config.schedule.follow_ups]
    for tp, _ in keys:
        done = q[q["timepoint"] == tp].set_index("participant_id")
        closes = rows["inclusion_date"] + pd.Timedelta(days=window_close_day(config, tp))
        rows[f"eligible_{tp.lower()}"] = (closes <= as_of) | rows["participant_id"].isin(
            done.index)
        rows[f"done_{tp.lower()}"] = rows["participant_id"].isin(done.index)
        rows[f"in_window_{tp.lower()}"] = rows["participant_id"].map(
            done["in_window"]).eq(True)
    named: dict[str, tuple[str, str]] = {"enrolled": ("participant_id", "size")}
    for _, key in keys:
        named[f"eligible_{key}"] = (f"eligible_{key}", "sum")
        named[f"{key}_done"] = (f"done_{key}", "sum")
        named[f"{key}_in_window"] = (f"in_window_{key}", "sum")
    agg = rows.groupby(list(by)).agg(**named).reset_index()
    if len(by) > 1:
        total = agg.groupby(list(by[1:])).sum(numeric_only=True).reset_index()
    else:
        total = agg.sum(numeric_only=True).to_frame().T
    total.insert(0, by[0], "All centres" if by[0] == "centre_code" else "All")
    agg = pd.concat([agg, total[agg.columns]], ignore_index=True)
    for _, tp in keys:
        denom = agg[f"eligible_{tp}"].replace(0, np.nan)
        agg[f"{tp}_pct"] = 100 * agg[f"{tp}_done"] / denom
        agg[f"{tp}_in_window_pct"] = 100 * agg[f"{tp}_in_window"] / denom
    return agg


def consort(data: AnalysisData) -> pd.DataFrame:
    """The flow: screened, eligible, enrolled, then each visit's questionnaires by group."""
    scr = data.screening
    p = data.participants
    q = data.questionnaires
    not_eligible = int((scr["outcome"] == "not_eligible").sum())
    rows = [
        {"stage": "Screened", "group": "all", "n": len(scr)},
        {"stage": "Not eligible", "group": "all", "n": not_eligible},
        {"stage": "Eligible", "group": "all", "n": len(scr) - not_eligible},
        {"stage": "Declined", "group": "all", "n": int((scr["outcome"] == "declined").sum())},
        {"stage": "Enrolled", "group": "all", "n": len(p)},
    ]
    for g in GROUPS:
        ids = p.loc[p["group_itt"] == g, "participant_id"]
        rows.append({"stage": "Enrolled", "group": g, "n": len(ids)})
        sub = q[q["participant_id"].isin(ids)]
        for tp in data.config.schedule.names:
            rows.append({"stage": f"{tp} questionnaire", "group": g,
                         "n": int(sub.loc[sub["timepoint"] == tp, "participant_id"].nunique())})
        pp = p[p["group_itt"] == g]
        rows.append({"stage": "Lost to follow-up", "group": g, "n": int(pp["ltfu_event"].sum())})
        rows.append({"stage": "Died", "group": g, "n": int((pp["ltfu_outcome"] == 2).sum())})
        rows.append({"stage": "Withdrew", "group": g,
                     "n": int((pp["current_status"] == "withdrawn").sum())})
        rows.append({"stage": "Per protocol", "group": g, "n": int(pp["per_protocol"].sum())})
    return pd.DataFrame(rows)


ATTENDANCE_DEFINITION = N_(
    "Retention by attendance: of the participants whose visit window has closed by the "
    "as-of date (or who came anyway), the share whose questionnaire was done inside the "
    "window, and done at all (on any date). Retention by status: the Kaplan–Meier "
    "probability of not being lost to follow-up at the close of the visit's window, "
    "which counts someone as retained until a loss is recorded — so a person who missed "
    "a visit without a recorded status still counts as retained there.")


def attendance(data: AnalysisData, km_centre: KMResult | None = None,
               km_all: KMResult | None = None) -> pd.DataFrame:
    """Per centre (and all centres): questionnaire done in window and at all, per visit,
    beside the status-based (Kaplan–Meier) retention at the window's close."""
    table = completion(data, by=("centre_code",))
    keys = [v.key for v in data.config.schedule.follow_ups]
    cols = ["centre_code", "enrolled"]
    renamed: dict[str, str] = {}
    for key in keys:
        cols += [f"eligible_{key}", f"{key}_in_window_pct", f"{key}_pct"]
        renamed |= {f"{key}_pct": f"{key}_done_pct", f"eligible_{key}": f"{key}_due"}
    table = table[cols].rename(columns=renamed)
    fits = dict(km_centre.fitters) if km_centre else {}
    if km_all:
        fits["All centres"] = next(iter(km_all.fitters.values()))
    for label, t in zip(keys, report_times(data), strict=True):
        table[f"{label}_status_retained_pct"] = table["centre_code"].map(
            lambda c, t=t: 100 * float(fits[c].survival_function_at_times(t).iloc[0])
            if c in fits else np.nan)
    return table


@dataclass
class RetentionResults(ResultBase):
    """Everything the retention part of the report shows.

    ``cox`` is clustered on centre (Efron, R's ``coxph(cluster = centre)``), ``cox_strata``
    stratified by centre; each carries its Schoenfeld test (``ph_test``). ``discrete`` is
    the per-visit model of loss; ``attendance`` retention by questionnaires done.
    """

    completion: pd.DataFrame
    consort: pd.DataFrame
    km_group: KMResult
    km_centre: KMResult
    logrank_group: TestResult
    logrank_centre: TestResult
    cox: Any
    cif: CIFResult
    km_all: KMResult | None = None
    cox_strata: Any = None
    discrete: Any = None
    attendance: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)

    @property
    def summary(self) -> pd.DataFrame:
        """Key estimates in one long frame (for CSV/JSON)."""
        parts = [
            self.km_group.summary.assign(estimate="km_retention_by_group"),
            self.logrank_group.summary.assign(estimate="logrank_group"),
            self.logrank_centre.summary.assign(estimate="logrank_centre"),
            self.cox.summary.assign(estimate="cox_ltfu_clustered_centre"),
            self.cox.ph_test.assign(estimate="schoenfeld_cox_clustered_centre"),
            self.cif.summary.assign(estimate="cif_ltfu_death_competing"),
        ]
        if self.cox_strata is not None:
            parts += [self.cox_strata.summary.assign(estimate="cox_ltfu_strata_centre"),
                      self.cox_strata.ph_test.assign(estimate="schoenfeld_cox_strata_centre")]
        if self.discrete is not None:
            parts.append(self.discrete.summary.assign(estimate="discrete_time_ltfu"))
        return pd.concat(parts, ignore_index=True)


def report_times(data: AnalysisData) -> tuple[float, ...]:
    """Months at which retention is reported: when each follow-up visit's window closes
    (the last one is the end of follow-up). Losses are dated at these closes, so the
    visits' own months would fall just before each step and show almost no loss."""
    return tuple(v.closes_day / DAYS_PER_MONTH for v in data.config.schedule.follow_ups)


def retention_analysis(data: AnalysisData, *, cox_strata: bool = True) -> RetentionResults:
    """All retention analyses on the cohort (time in months from inclusion).

    Loss to follow-up is dated at the close of the first missed visit window (see
    :func:`analysis.data._time_to_ltfu`); survival and cumulative incidence are reported
    at the M6 window's close and at the end of follow-up (:func:`report_times`).

    Two Cox models of group (Efron ties): errors clustered on centre, and a baseline
    hazard per centre; each with its Schoenfeld test. Then the per-visit (discrete-time)
    model of loss and retention by attendance. ``cox_strata`` is kept for callers of the
    old signature and changes nothing.
    """
    p = data.participants.copy()
    p["intervention"] = (p["group_itt"] == "intervention").astype(int)
    times = report_times(data)
    km_g = fit_km(p, "ltfu_months", "ltfu_event", by="group_itt", times=times)
    km_c = fit_km(p, "ltfu_months", "ltfu_event", by="centre_code", times=times)
    km_all = fit_km(p, "ltfu_months", "ltfu_event", times=times, label="all centres")
    lr_g = logrank(p, "ltfu_months", "ltfu_event", "group_itt")
    lr_c = logrank(p, "ltfu_months", "ltfu_event", "centre_code")
    cox = fit_cox_efron(p, "ltfu_months", "ltfu_event", ["intervention"],
                        cluster="centre_code")
    cox_s = fit_cox_efron(p, "ltfu_months", "ltfu_event", ["intervention"],
                          strata="centre_code")
    follow_ups = data.config.schedule.follow_ups
    closes = [window_close_day(data.config, v.name) for v in follow_ups]
    discrete = discrete_time_ltfu(p, closes, labels=[v.name for v in follow_ups])
    cif = cumulative_incidence(p, "ltfu_months", "ltfu_outcome", by="group_itt", times=times)
    return RetentionResults(completion(data), consort(data), km_g, km_c, lr_g, lr_c, cox, cif,
                            km_all, cox_s, discrete, attendance(data, km_c, km_all))
