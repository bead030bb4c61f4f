"""Our wrappers against results computed elsewhere (R), on data no one here made.

- GEE: statsmodels ships ``gee_logistic_1.csv`` and, in ``genmod/tests/test_gee.py``
  (``TestGEE.test_logistic``), the coefficients and robust standard errors that R's
  ``gee`` package gives for ``gee(Y ~ X1 + X2 + X3, id=Id, family=binomial,
  corstr="independence" | "exchangeable")``. The values below are copied from there.
- Cox: lifelines ships the North Central Cancer Treatment Group ``lung`` data of R's
  ``survival`` package. R: ``coxph(Surv(time, status) ~ age + sex, data = lung)`` prints
  coef age 0.017045 (se 0.009223), sex -0.513219 (se 0.167458) (survival package,
  Efron ties; the example of the R survival tutorials, e.g. STHDA "Cox proportional
  hazards model"), and ``survdiff(Surv(time, status) ~ sex, data = lung)`` prints
  Chisq = 10.3 on 1 degree of freedom, p = 0.001.
- Cox with cluster-robust errors, and rossi: R ``coxph`` values quoted in lifelines'
  own ``tests/test_estimation.py`` (each test below names the lifelines test).
- Kaplan–Meier and cumulative incidence: R ``survfit``/``cmprsk::cuminc`` values quoted
  in statsmodels' ``duration/tests/test_survfunc.py``, and SAS PROC LIFETEST results that
  statsmodels ships (``bmt_results.csv``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels

from analysis.outcomes import fit_gee
from analysis.retention import cumulative_incidence, fit_cox, fit_km, logrank

R_GEE = {
    "independence": (
        [0.0167272965285882, 1.13038654425893, -1.86896345082962, 1.09397608331333],
        [0.127291720283049, 0.166725808326067, 0.192430061340865, 0.173141068839597],
    ),
    "exchangeable": (
        [0.0178982283915449, 1.13118798191788, -1.86133518416017, 1.08944256230299],
        [0.127045031730155, 0.165470678232842, 0.192052750030501, 0.173174779369249],
    ),
}


@pytest.fixture(scope="module")
def gee_data() -> pd.DataFrame:
    path = (Path(statsmodels.__file__).parent / "genmod" / "tests" / "results"
            / "gee_logistic_1.csv")
    frame = pd.read_csv(path, header=None)
    frame.columns = ["Id", "Y", "X1", "X2", "X3"]
    return frame


@pytest.mark.parametrize("structure", ["independence", "exchangeable"])
def test_gee_logistic_matches_r_gee(gee_data: pd.DataFrame, structure: str) -> None:
    fit = fit_gee(gee_data, "Y ~ X1 + X2 + X3", "Id", cov_struct=structure)
    coef, se = R_GEE[structure]
    np.testing.assert_allclose(fit.summary["coef"], coef, atol=1e-6)
    np.testing.assert_allclose(fit.summary["se"], se, atol=1e-6)
    assert fit.n_clusters == gee_data["Id"].nunique()
    np.testing.assert_allclose(fit.summary["odds_ratio"], np.exp(coef), rtol=1e-5)
    assert (fit.summary["ci_lower"] < fit.summary["odds_ratio"]).all()


def test_gee_ar1_runs_with_a_time_order(gee_data: pd.DataFrame) -> None:
    """AR(1) (grid search) needs the visit order; it must fit and stay close to R's
    exchangeable estimates on these data (no R AR-M value is asserted by statsmodels)."""
    frame = gee_data.assign(t=gee_data.groupby("Id").cumcount())
    fit = fit_gee(frame, "Y ~ X1 + X2 + X3", "Id", cov_struct="ar1", time="t")
    np.testing.assert_allclose(fit.summary["coef"], R_GEE["exchangeable"][0], atol=0.05)
    assert "Autoregressive" in fit.dependence or "autocorrelation" in fit.dependence.lower()


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    from lifelines.datasets import load_lung

    return load_lung()


def test_cox_matches_r_coxph_on_lung(lung: pd.DataFrame) -> None:
    res = fit_cox(lung, "time", "status", ["age", "sex"])
    s = res.summary.set_index("term")
    assert s.loc["age", "coef"] == pytest.approx(0.017045, abs=5e-6)
    assert s.loc["sex", "coef"] == pytest.approx(-0.513219, abs=5e-6)
    assert s.loc["age", "se"] == pytest.approx(0.009223, abs=5e-6)
    assert s.loc["sex", "se"] == pytest.approx(0.167458, abs=5e-6)
    assert s.loc["sex", "hr"] == pytest.approx(np.exp(-0.513219), rel=1e-4)


def test_logrank_matches_r_survdiff_on_lung(lung: pd.DataFrame) -> None:
    res = logrank(lung, "time", "status", "sex")
    assert res.summary["statistic"].iloc[0] == pytest.approx(10.3, abs=0.05)
    assert res.summary["df"].iloc[0] == 1
    assert res.p_value == pytest.approx(0.001, abs=0.0005)


def test_cox_strata_and_cluster_options(lung: pd.DataFrame) -> None:
    frame = lung.dropna(subset=["inst"])
    strat = fit_cox(frame, "time", "status", ["age"], strata=["sex"])
    assert list(strat.summary["term"]) == ["age"] and strat.strata == ["sex"]
    clustered = fit_cox(frame, "time", "status", ["age", "sex"], cluster_col="inst")
    naive = fit_cox(frame, "time", "status", ["age", "sex"])
    # Same point estimates; the sandwich changes only the standard errors.
    np.testing.assert_allclose(clustered.summary["coef"], naive.summary["coef"], rtol=1e-6)
    assert not np.allclose(clustered.summary["se"], naive.summary["se"])


def test_cumulative_incidence_equals_one_minus_km_without_competing_events(
        lung: pd.DataFrame) -> None:
    times = (100.0, 365.0, 700.0)
    cif = cumulative_incidence(lung, "time", "status", times=times)
    km = fit_km(lung, "time", "status", times=times)
    np.testing.assert_allclose(cif.summary["cumulative_incidence"],
                               1 - km.summary["survival"], atol=1e-12)


def test_cumulative_incidence_counts_events_at_time_zero_and_ties() -> None:
    """lifelines' Aalen–Johansen dropped events at time 0 (0.026 against 1 - KM 0.077 in
    the demo); with no competing event the CIF must be 1 - KM at every time, ties
    between events and censorings included."""
    frame = pd.DataFrame({
        "t": [0, 0, 0, 0, 0, 1, 1, 1, 2, 3, 3, 3, 5, 5, 8],
        "e": [1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0],
    })
    times = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0)
    cif = cumulative_incidence(frame, "t", "e", times=times)
    km = fit_km(frame, "t", "e", times=times)
    np.testing.assert_allclose(cif.summary["cumulative_incidence"],
                               1 - km.summary["survival"], atol=1e-12)
    assert cif.summary["cumulative_incidence"].iloc[0] == pytest.approx(3 / 15)


def test_cumulative_incidence_matches_r_cmprsk_cuminc() -> None:
    """statsmodels' ``duration/tests/test_survfunc.py::test_incidence`` gives R's
    ``cmprsk::cuminc(ftime, fstat)`` on these 18 records (three causes, tied times);
    the values below are copied from there. Our wrapper must reproduce them exactly
    (lifelines alone jitters the ties at random)."""
    ftime = [1, 1, 2, 4, 4, 4, 6, 6, 7, 8, 9, 9, 9, 1, 2, 2, 4, 4]
    fstat = [1, 1, 1, 2, 2, 2, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    frame = pd.DataFrame({"t": ftime, "cause": fstat})
    times = (1.0, 2.0, 4.0, 6.0, 7.0, 8.0, 9.0)
    expected = {
        1: [0.11111111, 0.17037037, 0.17037037, 0.17037037, 0.17037037, 0.17037037,
            0.17037037],
        2: [0.0, 0.0, 0.20740741, 0.20740741, 0.20740741, 0.20740741, 0.20740741],
        3: [0.0, 0.0, 0.0, 0.17777778, 0.26666667, 0.26666667, 0.26666667],
    }
    for cause, values in expected.items():
        res = cumulative_incidence(frame, "t", "cause", event_of_interest=cause, times=times)
        np.testing.assert_allclose(res.summary["cumulative_incidence"], values, atol=1e-7)


# --- Cox with cluster-robust errors, Kaplan–Meier: reference values from library tests

def test_cox_cluster_robust_se_matches_r_coxph_cluster() -> None:
    """lifelines' ``tests/test_estimation.py::TestCoxPHFitter::test_cluster_option`` gives
    R's ``coxph(Surv(T, E) ~ var1 + var2 + cluster(id), data = df)`` robust standard
    errors on these five records: var1 5.9752, var2 4.0683 (copied from there)."""
    df = pd.DataFrame({
        "var1": [1, 1, 2, 2, 2],
        "var2": [0.184677, 0.071893, 1.364646, 0.098375, 1.663092],
        "T": [7.335846, 5.269797, 11.684092, 12.678458, 6.601666],
        "id": [1, 1, 2, 3, 4],
        "E": 1,
    })
    res = fit_cox(df, "T", "E", ["var1", "var2"], cluster_col="id")
    s = res.summary.set_index("term")
    assert s.loc["var1", "se"] == pytest.approx(5.9752, abs=5e-4)
    assert s.loc["var2", "se"] == pytest.approx(4.0683, abs=5e-4)
    assert res.cluster_col == "id"


def test_cox_cluster_robust_with_strata_matches_r() -> None:
    """Same file, ``test_cluster_option_with_strata``: R's ``coxph(Surv(T, E) ~
    strata(strata) + var + cluster(id), data = df)`` gives a robust SE of 0.643 for var
    (the project's Cox model uses strata or a cluster; both at once must work too)."""
    df = pd.DataFrame({
        "var": [0.184677, 0.071893, 1.364646, 0.098375, 1.663092],
        "id": [1, 1, 2, 3, 4],
        "strata": [1, 1, 2, 2, 2],
        "T": [5.269797, 6.601666, 7.335846, 11.684092, 12.678458],
        "E": 1,
    })
    res = fit_cox(df, "T", "E", ["var"], strata=["strata"], cluster_col="id")
    assert res.summary["se"].iloc[0] == pytest.approx(0.643, abs=5e-4)


def test_cox_matches_r_coxph_on_rossi() -> None:
    """lifelines' ``test_coef_output_against_R_super_accurate`` and
    ``test_standard_error_coef_output_against_R`` give R's ``coxph(Surv(week, arrest) ~
    fin + age + race + wexp + mar + paro + prio, data = rossi)`` (Fox's appendix on Cox
    regression): coefficients to 7 digits and standard errors to 5."""
    from lifelines.datasets import load_rossi

    rossi = load_rossi()
    terms = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
    res = fit_cox(rossi, "week", "arrest", terms)
    s = res.summary.set_index("term").loc[terms]
    np.testing.assert_allclose(s["coef"], [-0.3794222, -0.0574377, 0.3138998, -0.1497957,
                                           -0.4337039, -0.0848711, 0.0914971], atol=1e-6)
    np.testing.assert_allclose(s["se"], [0.19138, 0.02200, 0.30799, 0.21222, 0.38187,
                                         0.19576, 0.02865], atol=5e-5)


def test_kaplan_meier_matches_r_survfit() -> None:
    """statsmodels' ``duration/tests/test_survfunc.py`` gives R's ``survfit(Surv(ti1,
    st1) ~ 1)`` on eight records with ties: S = 0.875, 0.7291667, 0.546875, 0 at times 1,
    2, 3, 5 (copied from there)."""
    frame = pd.DataFrame({"t": [3, 1, 2, 3, 2, 1, 5, 3], "e": [0, 1, 1, 1, 0, 0, 1, 0]})
    res = fit_km(frame, "t", "e", times=(1.0, 2.0, 3.0, 5.0))
    np.testing.assert_allclose(res.summary["survival"],
                               [0.8750000, 0.7291667, 0.5468750, 0.0], atol=1e-7)


def test_kaplan_meier_matches_sas_lifetest_on_bmt() -> None:
    """statsmodels ships ``bmt.csv`` (bone-marrow transplant, group ALL) and
    ``bmt_results.csv``, SAS PROC LIFETEST's survival estimates (statsmodels'
    ``test_bmt`` cites the SAS documentation). Our wrapper must give the same curve."""
    results = Path(statsmodels.__file__).parent / "duration" / "tests" / "results"
    bmt = pd.read_csv(results / "bmt.csv")
    sas = pd.read_csv(results / "bmt_results.csv")
    all_ = bmt[bmt["Group"] == "ALL"]
    res = fit_km(all_, "T", "Status", times=tuple(float(t) for t in sas["t"]))
    np.testing.assert_allclose(res.summary["survival"], sas["s"], atol=1e-4)
