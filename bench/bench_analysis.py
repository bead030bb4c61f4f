"""The statisticians' pipeline on a large cohort, next to the bare library calls.

Run: ``.venv/bin/python bench/bench_analysis.py [--participants 100000] [--seed 1]``

What is timed, in the same run:

1. **Ours**: ``build_frames`` (raw tables -> tidy frames and derived variables: JSON answers
   to columns, per-protocol exposure, time to loss to follow-up, composites), then
   ``retention_analysis`` and ``outcome_analysis`` (all the models of the report) and both
   Table 1s. The raw tables are synthesised in memory in the shape one SQL query per table
   returns (answers as dicts, as the JSON column gives them): the database read itself is
   *not* timed here (it is one ``SELECT`` per table, checked by the tests).
2. **Floor**: the same lifelines and statsmodels fits called directly on the final frames
   (model matrices prepared beforehand, outside the timer): Kaplan–Meier by group and by
   centre, two log-rank tests, the stratified Cox model, Aalen–Johansen by group, the GEEs
   (ITT and per-protocol for every outcome; IPTW and IPTW × IPCW for the two primary
   outcomes), the two weighting GLMs and the two mixed models.

Prints both times and the ratio (target: ours within 1.3 × the floor).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

AS_OF = date(2026, 11, 22)
YESNO = ["share_syringe", "share_cooker", "share_filter", "share_water", "reuse_own_syringe",
         "swab_before", "swab_after", "rotate_sites", "inject_outdoors_hurry", "abscess",
         "cellulitis", "vein_damage", "missed_hit", "overdose", "hcv_test_ever",
         "hiv_test_ever", "oat_current"]


def synthesise(n: int, seed: int) -> dict[str, pd.DataFrame]:
    """Raw tables shaped like ``analysis.data._extract``'s output (synthetic only)."""
    rng = np.random.default_rng(seed)
    pid = np.arange(1, n + 1)
    centre = rng.integers(1, 21, n)
    inclusion = pd.Timestamp(AS_OF) - pd.to_timedelta(rng.integers(30, 820, n), unit="D")
    treated = rng.random(n) < 0.52
    parts = pd.DataFrame({
        "participant_id": pid, "code": [f"C{c:02d}-{i:06d}" for c, i in zip(centre, pid,
                                                                            strict=True)],
        "centre_id": centre, "centre_code": [f"C{c:02d}" for c in centre],
        "inclusion_date": inclusion.date, "age_at_inclusion": rng.integers(18, 65, n),
        "year_of_birth": inclusion.year - 35,
        "gender": rng.choice(["man", "woman", "trans_or_non_binary", "prefers_not_to_say"], n,
                             p=[0.74, 0.22, 0.02, 0.02]),
        "reached_via": rng.choice(["in_person", "online", "phone"], n, p=[0.8, 0.12, 0.08]),
        "group": np.where(treated, "intervention", "comparison"),
        "status": "active",
    })
    days = (pd.Timestamp(AS_OF) - inclusion).days.to_numpy()
    risk0 = rng.random(n) < np.where(treated, 0.45, 0.27)
    rows = []
    for tp, day, p_done in (("M0", 0, 1.0), ("M6", 182, 0.75), ("M12", 365, 0.65)):
        done = (days >= day + 20) & (rng.random(n) < p_done)
        k = int(done.sum())
        visit = inclusion[done] + pd.to_timedelta(day + rng.integers(-20, 20, k), unit="D")
        effect = 0.0 if tp == "M0" else -0.12
        frame = {name: rng.choice(["0", "1"], k, p=[0.8, 0.2]) for name in YESNO}
        p_share = np.where(risk0[done], 0.6, 0.15) + np.where(treated[done], effect, 0.0)
        frame["share_syringe"] = np.where(rng.random(k) < p_share / 2, "1", "0")
        frame["share_cooker"] = np.where(rng.random(k) < p_share, "1", "0")
        answers = pd.DataFrame(frame)
        answers["inj_freq"] = rng.choice(["1", "2", "3", "4"], k)
        answers["visit_date"] = [d.isoformat() for d in visit.date]
        if tp == "M0":
            answers["housing"] = rng.choice(list("123456"), k)
            answers["income_source"] = rng.choice(list("1234"), k)
            answers["education"] = rng.choice(list("123"), k)
            answers["years_injecting"] = rng.integers(1, 30, k)
            answers["age_first_injection"] = rng.integers(14, 40, k)
            answers["prison_ever"] = rng.choice(["0", "1"], k)
        records = answers.to_dict("records")
        for r in records:
            r["products"] = ["1", "5"]
            r["inj_sites"] = ["1"]
        rows.append(pd.DataFrame({
            "participant_id": pid[done], "timepoint": tp, "visit_date": visit.date,
            "in_window": rng.random(k) < 0.9, "completeness": 1.0, "answers": records,
        }))
    questionnaires = pd.concat(rows, ignore_index=True)
    has_session = treated & (rng.random(n) < 0.7) | (~treated & (rng.random(n) < 0.04))
    s_pid = pid[has_session]
    s_date = inclusion[has_session] + pd.to_timedelta(
        rng.integers(5, 250, len(s_pid)), unit="D")
    sessions = pd.DataFrame({
        "session_id": np.arange(1, len(s_pid) + 1), "participant_id": s_pid,
        "session_date": s_date.date, "setting": "squat", "modality": "in_person",
        "injection_site": "arm", "counts_for_protocol": treated[has_session],
    })
    lost = (rng.random(n) < 0.12) & (days > 200)
    died = ~lost & (rng.random(n) < 0.015) & (days > 100)
    enrol = pd.DataFrame({"participant_id": pid, "status": "active",
                          "effective_date": inclusion.date})
    ends = []
    for mask, status in ((lost, "lost_to_follow_up"), (died, "deceased")):
        eff = inclusion[mask] + pd.to_timedelta(
            (rng.random(int(mask.sum())) * np.minimum(days[mask], 400)).astype(int), unit="D")
        ends.append(pd.DataFrame({"participant_id": pid[mask], "status": status,
                                  "effective_date": eff.date}))
    status = pd.concat([enrol, *ends], ignore_index=True).sort_values(
        ["participant_id", "effective_date"], kind="stable")
    status.insert(0, "status_change_id", np.arange(1, len(status) + 1))
    n_screen = int(n * 1.25)
    screening = pd.DataFrame({
        "screening_id": np.arange(1, n_screen + 1),
        "screened_on": (pd.Timestamp(AS_OF) - pd.to_timedelta(
            rng.integers(30, 820, n_screen), unit="D")).date,
        "centre_id": rng.integers(1, 21, n_screen),
        "outcome": ["enrolled"] * n + list(rng.choice(["not_eligible", "declined"],
                                                      n_screen - n)),
        "reason": None, "participant_id": list(pid) + [None] * (n_screen - n),
    })
    deviations = pd.DataFrame({
        "deviation_id": [1], "rule_id": ["time.no_session_6m"], "severity": ["time"],
        "entity": ["participant"], "record_id": [1], "participant_id": [1],
        "centre_id": [1], "status": ["open"], "raised_at": [pd.Timestamp(AS_OF, tz="UTC")],
    })
    return {"participants": parts, "questionnaires": questionnaires, "sessions": sessions,
            "deviations": deviations, "status_changes": status, "screening": screening}


def ours(raw: dict[str, pd.DataFrame]) -> tuple[Any, Any, Any, dict[str, float]]:
    from analysis.data import build_frames
    from analysis.outcomes import outcome_analysis
    from analysis.retention import retention_analysis
    from analysis.table1 import table1
    from cohort.rules import ProtocolConfig

    laps: dict[str, float] = {}
    t = time.perf_counter()
    data = build_frames(raw, as_of=AS_OF, config=ProtocolConfig(), database="synthetic")
    laps["frames"] = time.perf_counter() - t
    t = time.perf_counter()
    retention = retention_analysis(data)
    laps["retention"] = time.perf_counter() - t
    t = time.perf_counter()
    outcomes = outcome_analysis(data)
    laps["outcomes"] = time.perf_counter() - t
    t = time.perf_counter()
    table1(data.participants, variable_labels=data.variable_labels,
           value_labels=data.value_labels)
    table1(data.participants, weights=outcomes.iptw.weights if outcomes.iptw else None)
    laps["table1"] = time.perf_counter() - t
    return data, retention, outcomes, laps


def floor(data: Any, outcomes: Any) -> dict[str, float]:
    """The same fits, called straight on lifelines and statsmodels."""
    import patsy
    import scipy.sparse as sp
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    from lifelines import AalenJohansenFitter, CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test
    from statsmodels.genmod import cov_struct
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    from analysis.mixed import VB_OPTIONS
    from analysis.outcomes import (
        DEFAULT_ADJUST,
        PS_COVARIATES,
        _covariate_frame,
        _formula,
        _logit_formula,
        censoring_weights,
        design_frame,
    )

    p = data.participants.assign(intervention=(data.participants["group_itt"]
                                               == "intervention").astype(int))
    long = data.long
    long = long.assign(iptw=long["participant_id"].map(outcomes.iptw.weights).fillna(1.0))
    ipcw = censoring_weights(data).weights
    long["ipcw"] = ipcw.reindex(long.index).fillna(1.0).to_numpy()
    long["iptw_ipcw"] = long["iptw"] * long["ipcw"]
    # Prepared outside the timer: every design matrix the fits need.
    fits = []
    for m in outcomes.models:
        if m.analysis == "mixed-effects":
            continue
        src = long[long["per_protocol"]] if m.analysis == "per-protocol" else long
        weights = {"IPTW": "iptw", "IPTW + IPCW": "iptw_ipcw"}.get(m.analysis)
        frame = design_frame(src, m.outcome, group_col="group_pp" if m.analysis ==
                             "per-protocol" else "group_itt", covariates=DEFAULT_ADJUST,
                             extra=[weights] if weights else []).sort_values(
            ["participant_id", "step"], kind="stable")
        fits.append((frame, _formula(DEFAULT_ADJUST, frame), weights))
    mixed = []
    for m in outcomes.models:
        if m.analysis != "mixed-effects":
            continue
        frame = design_frame(long, m.outcome, covariates=DEFAULT_ADJUST)
        y, x = patsy.dmatrices(_formula(DEFAULT_ADJUST, frame), frame, return_type="dataframe")
        codes, uniq = pd.factorize(frame["participant_id"])
        vc = sp.csr_matrix((np.ones(len(codes)), (np.arange(len(codes)), codes)),
                           shape=(len(codes), len(uniq)))
        mixed.append((y.iloc[:, 0].to_numpy(), x.to_numpy(), vc, len(uniq)))
    x_ps = _covariate_frame(p, PS_COVARIATES)
    x_ps["treated"] = p["intervention"].astype(float)
    ps_formula = _logit_formula("treated", x_ps.drop(columns="treated"))
    ipcw_frame = x_ps.drop(columns="treated").assign(
        observed=(np.arange(len(x_ps)) % 4 > 0).astype(float))
    ipcw_formula = _logit_formula("observed", ipcw_frame.drop(columns="observed"))

    laps: dict[str, float] = {}
    t = time.perf_counter()
    for _, g in p.groupby("group_itt"):
        KaplanMeierFitter().fit(g["ltfu_months"], g["ltfu_event"])
    for _, g in p.groupby("centre_code"):
        KaplanMeierFitter().fit(g["ltfu_months"], g["ltfu_event"])
    multivariate_logrank_test(p["ltfu_months"], p["group_itt"], p["ltfu_event"])
    multivariate_logrank_test(p["ltfu_months"], p["centre_code"], p["ltfu_event"])
    CoxPHFitter().fit(p[["ltfu_months", "ltfu_event", "intervention", "centre_code"]],
                      "ltfu_months", "ltfu_event", strata=["centre_code"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _, g in p.groupby("group_itt"):
            AalenJohansenFitter(seed=0).fit(g["ltfu_months"], g["ltfu_outcome"],
                                            event_of_interest=1)
    laps["retention"] = time.perf_counter() - t
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        smf.glm(ps_formula, data=x_ps, family=sm.families.Binomial()).fit()
        smf.glm(ipcw_formula, data=ipcw_frame, family=sm.families.Binomial()).fit()
        for frame, formula, weights in fits:
            kw: dict[str, Any] = {"time": frame["step"].to_numpy()}
            if weights:
                kw["weights"] = frame[weights].to_numpy()
            smf.gee(formula, "participant_id", data=frame, family=sm.families.Binomial(),
                    cov_struct=cov_struct.Exchangeable(), **kw).fit()
        for y, x, vc, q in mixed:
            BinomialBayesMixedGLM(y, x, vc, np.zeros(q, dtype=int)).fit_vb(
                fit_method="L-BFGS-B", minim_opts=VB_OPTIONS)
    laps["outcomes"] = time.perf_counter() - t
    return laps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    t = time.perf_counter()
    raw = synthesise(args.participants, args.seed)
    print(f"synthesised {args.participants:,} participants, "
          f"{len(raw['questionnaires']):,} questionnaires, {len(raw['sessions']):,} sessions "
          f"in {time.perf_counter() - t:.1f} s (not timed below; database read not timed)")
    t = time.perf_counter()
    data, retention, outcomes, laps = ours(raw)
    total = time.perf_counter() - t
    base = floor(data, outcomes)
    floor_total = sum(base.values())
    print("ours:  " + ", ".join(f"{k} {v:.2f} s" for k, v in laps.items())
          + f"  => total {total:.2f} s")
    print("floor: " + ", ".join(f"{k} {v:.2f} s" for k, v in base.items())
          + f"  => total {floor_total:.2f} s")
    print(f"models fitted: {len(outcomes.models)} outcome models, Cox HR "
          f"{retention.cox.summary['hr'].iloc[0]:.3f}")
    ratio = total / floor_total
    print(f"ratio ours/floor = {ratio:.2f} (target <= 1.30): "
          f"{'OK' if ratio <= 1.3 else 'ABOVE TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
