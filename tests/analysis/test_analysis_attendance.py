"""Retention by attendance: the dashboard's SQL figures equal the report's pandas ones,
and both differ from the status-based figure where visits were missed silently."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from analysis.data import AnalysisData
from analysis.retention import retention_analysis
from cohort.db import engine_for, session_scope
from cohort.services.context import Actor
from cohort.services.monitoring import centre_status
from cohort.vocab import Role

from .conftest import AS_OF


def test_dashboard_attendance_equals_the_report(demo_url: str, demo_data: AnalysisData) -> None:
    report = retention_analysis(demo_data).attendance.set_index("centre_code")
    with session_scope(engine_for(demo_url)) as session:
        rows = centre_status(session, actor=Actor(staff_id=0, role=Role.ADMIN,
                                                  centre_id=None, centre_ids=None), as_of=AS_OF)
    assert len(rows) == 20
    for row in rows:
        if row.centre_code not in report.index:
            assert row.enrolled == 0
            continue
        r = report.loc[row.centre_code]
        assert row.visit("M6").eligible == r["m6_due"]
        assert row.visit("M12").eligible == r["m12_due"]
        for tp in ("M6", "M12"):
            visit, key = row.visit(tp), tp.lower()
            if visit.attended_pct is None:
                continue
            assert visit.attended_pct == pytest.approx(r[f"{key}_done_pct"], abs=0.05)
            assert visit.attended_in_window_pct == pytest.approx(
                r[f"{key}_in_window_pct"], abs=0.05)
    total = report.loc["All centres"]
    # The point of the figure: status-based retention stays high while visits are missed.
    assert total["m12_status_retained_pct"] > total["m12_done_pct"]


def test_cohort_status_prints_attendance(demo_url: str, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    from cohort.cli.main import app
    from cohort.settings import get_settings

    monkeypatch.setenv("COHORT_DATABASE_URL", demo_url)
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(app, ["status", "--as-of", AS_OF.isoformat()])
        js = CliRunner().invoke(app, ["status", "--as-of", AS_OF.isoformat(), "--json"])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    assert "Retention by attendance" in out.output and "M12 on time" in out.output
    assert '"attended_pct"' in js.output and '"retained_by_status_pct"' in js.output
    assert [v["visit"] for v in json.loads(js.output)[0]["visits"]] == ["M0", "M6", "M12"]
