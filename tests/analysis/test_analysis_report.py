"""Retention tables, the report and the command line on a small demo cohort."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from analysis.data import AnalysisData
from analysis.report import write_report
from analysis.retention import completion, consort, retention_analysis
from cohort.settings import get_settings


def test_consort_flow_adds_up(demo_data: AnalysisData) -> None:
    flow = consort(demo_data).set_index(["stage", "group"])["n"]
    screened = flow[("Screened", "all")]
    assert flow[("Not eligible", "all")] + flow[("Eligible", "all")] == screened
    assert flow[("Eligible", "all")] - flow[("Declined", "all")] == flow[("Enrolled", "all")]
    assert flow[("Enrolled", "intervention")] + flow[("Enrolled", "comparison")] == flow[
        ("Enrolled", "all")] == len(demo_data.participants)
    for g in ("intervention", "comparison"):
        assert flow[("M12 questionnaire", g)] <= flow[("Enrolled", g)]


def test_completion_percentages(demo_data: AnalysisData) -> None:
    table = completion(demo_data)
    total = table[table["centre_code"] == "All centres"].set_index("group_itt")
    per_centre = table[table["centre_code"] != "All centres"]
    assert total["enrolled"].sum() == len(demo_data.participants)
    assert total.loc["intervention", "m6_done"] == per_centre.loc[
        per_centre["group_itt"] == "intervention", "m6_done"].sum()
    row = total.loc["comparison"]
    assert row["m6_pct"] == pytest.approx(100 * row["m6_done"] / row["eligible_m6"])
    assert (table["m6_in_window"] <= table["m6_done"]).all()
    assert (table["m12_pct"].dropna() <= 100).all()


def test_retention_models(demo_data: AnalysisData) -> None:
    r = retention_analysis(demo_data)
    assert set(r.km_group.fitters) == {"intervention", "comparison"}
    assert r.cox.cluster == "centre_code" and list(r.cox.summary["term"]) == ["intervention"]
    assert r.cox_strata.strata == ["centre_code"][0]
    for fit in (r.cox, r.cox_strata):  # a Schoenfeld test for every Cox model
        assert list(fit.ph_test["term"]) == ["intervention", "GLOBAL"]
    assert set(r.discrete.table["visit"]) <= {"M6", "M12"}
    att = r.attendance.set_index("centre_code").loc["All centres"]
    assert att["m6_in_window_pct"] <= att["m6_done_pct"] <= 100
    assert 0 <= r.logrank_group.p_value <= 1
    cif = r.cif.summary
    km = r.km_group.summary
    # Death competes, so the cumulative incidence of loss never exceeds 1 - KM.
    merged = cif.merge(km, on=["level", "time"])
    assert (merged["cumulative_incidence"] <= 1 - merged["survival"] + 1e-9).all()


def test_report_writes_html_figures_and_estimates(demo_data: AnalysisData,
                                                  tmp_path: Path) -> None:
    report = write_report(demo_data, tmp_path / "report", what="all", cov_struct="ar1",
                          outcomes=("any_risk_practice", "any_complication", "share_syringe"))
    names = {p.name for p in report.figures}
    assert {"km_by_group.png", "km_by_centre.png", "cif_ltfu.png", "forest_interaction.png",
            "proportions_any_risk_practice.png"} <= names
    for fig in report.figures:
        assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and fig.stat().st_size > 10_000
    html = report.html.read_text(encoding="utf-8")
    assert "2026-11-22" in html and "ar1" in html and "Table 1" in html
    assert "regression to the mean" in html and "primary analysis" in html
    # The weighted models' errors are the stacked ones, and the page says what they stack.
    assert "the proportion treated, each visit's completion model" in html
    assert 'src="figures/km_by_group.png"' in html
    payload = json.loads((report.directory / "estimates.json").read_text(encoding="utf-8"))
    assert payload["snapshot"]["as_of"] == "2026-11-22"
    assert payload["snapshot"]["rows"]["participants"] == 120
    specs = " ".join(m["spec"] for m in payload["models"])
    assert "y ~ intervention * (m6 + m12)" in specs and "ar1" in specs
    assert "stacked estimating equations (every weight's model estimated)" in specs
    est = pd.read_csv(report.directory / "estimates.csv")
    inter = est[est["contrast"].fillna("").str.startswith("group × time")]
    assert set(inter["analysis"]) >= {"ITT", "per-protocol", "IPTW", "IPTW + IPCW",
                                      "mixed-effects"}
    # Models with separation stay in the CSV, marked, with no OR (never 0.00 or inf).
    failed = inter["estimable"].eq(False)
    assert inter.loc[failed, "odds_ratio"].isna().all()
    assert inter.loc[failed, "note"].str.startswith("not estimable").all()
    ok = inter[~failed]
    assert (ok["ci_lower"] <= ok["odds_ratio"]).all()
    assert np.isfinite(ok["odds_ratio"]).all() and (ok["odds_ratio"] < 1e4).all()
    if failed.any():
        assert "Not estimable, left out" in html
    for word in ("addict", "abuser", "clean", "dirty"):
        assert word not in html.lower()


def test_report_retention_only(demo_data: AnalysisData, tmp_path: Path) -> None:
    report = write_report(demo_data, tmp_path, what="retention")
    assert not (tmp_path / "table1.csv").exists()
    # Every result in one shape (title, summary, notes), whatever its type.
    text = (tmp_path / "results.txt").read_text(encoding="utf-8")
    assert "== Kaplan–Meier by group" in text and "== Cox clustered on centre" in text
    assert "== cumulative incidence" in text and "intervention" in text
    assert "Injection-risk outcomes" not in report.html.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="unknown report section"):
        write_report(demo_data, tmp_path, what="everything")


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("COHORT_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def test_cli_demo_then_analyse_and_export(cli_db: Path, tmp_path: Path) -> None:
    from cohort.cli.main import app

    runner = CliRunner()
    res = runner.invoke(app, ["demo", "--participants", "120", "--as-of", "2026-11-22"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "report"
    res = runner.invoke(app, ["analyse", "all", "-o", str(out), "--as-of", "2026-11-22",
                              "--no-ipcw"])
    assert res.exit_code == 0, res.output
    assert "Report written" in res.stdout
    assert (out / "index.html").exists() and (out / "estimates.json").exists()
    res = runner.invoke(app, ["export", "--format", "dta", "--shape", "wide", "-o",
                              str(tmp_path / "cohort.dta"), "--as-of", "2026-11-22",
                              "--purpose", "Statistical analysis"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "cohort.dta.codebook.csv").exists()  # named after the full file name


def test_cli_errors_are_one_line(cli_db: Path, tmp_path: Path) -> None:
    from cohort.cli.main import app

    runner = CliRunner()
    res = runner.invoke(app, ["analyse", "all", "-o", str(tmp_path)])
    assert res.exit_code == 3
    assert res.stderr.count("\n") == 1 and "cohort init" in res.stderr
    res = runner.invoke(app, ["analyse", "everything"])
    assert res.exit_code == 2 and "retention, outcomes or all" in res.stderr
    res = runner.invoke(app, ["export", "-o", str(tmp_path / "x.rds")])
    assert res.exit_code == 2 and "csv, xlsx, dta, sav, parquet" in res.stderr
    res = runner.invoke(app, ["analyse", "--correlation", "unstructured"])
    assert res.exit_code == 2 and "exchangeable" in res.stderr
    res = runner.invoke(app, ["analyse", "--censor-at", "last_contact"])
    assert res.exit_code == 2 and "missed_visit or as_of" in res.stderr


def test_completion_by_group_only(demo_data: AnalysisData) -> None:
    table = completion(demo_data, by=("group_itt",))
    assert list(table["group_itt"]) == ["comparison", "intervention", "All"]
    assert table["enrolled"].iloc[-1] == len(demo_data.participants)


def test_completion_and_ipcw_use_each_visits_own_window(demo_data: AnalysisData) -> None:
    """A narrower M6 window closes earlier, so more people are due for M6 (completion
    denominators, IPCW model rows); ``window_days`` alone would leave them unchanged."""
    import dataclasses

    from analysis.outcomes import censoring_weights
    from tests.factories import config_with

    base = dataclasses.replace(demo_data, config=config_with(window_days=42))
    narrow = dataclasses.replace(demo_data, config=config_with(
        window_days=42, visit_window_days={"M6": 2, "M12": 2}))
    due = {name: completion(d, by=("group_itt",)).set_index("group_itt").loc["All"]
           for name, d in (("base", base), ("narrow", narrow))}
    assert due["narrow"]["eligible_m6"] > due["base"]["eligible_m6"]
    rows = {name: censoring_weights(d).summary["n"].iloc[0]
            for name, d in (("base", base), ("narrow", narrow))}
    assert rows["narrow"] > rows["base"]


def test_cli_export_free_text_only_when_asked(cli_db: Path, tmp_path: Path) -> None:
    """The codebook tells users to run ``cohort export --include-free-text``: the option
    must exist, and free text stays out without it."""
    from sqlmodel import Session, select

    from cohort.cli.main import app
    from cohort.db import engine_for
    from cohort.models import Questionnaire

    runner = CliRunner()
    res = runner.invoke(app, ["demo", "--participants", "40", "--as-of", "2026-11-22"])
    assert res.exit_code == 0, res.output
    engine = engine_for(f"sqlite:///{cli_db}")
    with Session(engine) as session:
        q = session.exec(select(Questionnaire)).first()
        assert q is not None
        q.answers = {**q.answers, "questionnaire_note": "Met near the station"}
        session.add(q)
        session.commit()
    engine.dispose()
    plain, full = tmp_path / "plain.csv", tmp_path / "full.csv"
    args = ["export", "--as-of", "2026-11-22", "--purpose", "Statistical analysis", "-o"]
    res = runner.invoke(app, [*args, str(plain)])
    assert res.exit_code == 0, res.output
    assert "station" not in plain.read_text(encoding="utf-8")
    assert "questionnaire_note" not in plain.read_text(encoding="utf-8").splitlines()[0]
    res = runner.invoke(app, [*args, str(full), "--include-free-text"])
    assert res.exit_code == 0, res.output
    assert "station" in full.read_text(encoding="utf-8")
    assert "check them for names" in res.stdout


def test_km_by_centre_shows_every_centre(demo_data: AnalysisData) -> None:
    """The by-centre figure showed the first 8 of 20 centres on one axis: one panel per
    centre now, each titled with its code."""
    from analysis.plots import _plt, km_panels_figure

    r = retention_analysis(demo_data)
    centres = sorted(demo_data.participants["centre_code"].unique())
    assert len(centres) > 8
    fig = km_panels_figure(r.km_centre, title="t",
                           overall=r.km_all.fitters["all centres"] if r.km_all else None)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()]
    _plt().close(fig)
    assert sorted(t.split()[0] for t in titles) == centres


def test_proportion_counts_sit_under_the_axis(demo_data: AnalysisData) -> None:
    """``n=`` labels beside the points overlapped the error bars: the counts are rows
    under the axis, one per group, a number per visit."""
    from analysis.outcomes import proportions
    from analysis.plots import _plt, proportions_figure

    props = proportions(demo_data.long, "any_risk_practice")
    fig = proportions_figure(props, title="t")
    ax = fig.axes[0]
    texts = [t for t in ax.texts if t.get_text().isdigit()]
    _plt().close(fig)
    assert sorted(int(t.get_text()) for t in texts) == sorted(props["n"].astype(int))
    assert all(t.get_position()[1] < 0 for t in texts)  # axes fraction: below the plot
    assert not [t for t in ax.texts if t.get_text().startswith("n=")]
