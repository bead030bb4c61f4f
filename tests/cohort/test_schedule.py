"""The schedule of visits: built from an event mapping and settings (no database)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError
from typer.testing import CliRunner

from analysis import visits
from cohort.rules import ProtocolConfig, ScheduleFacts, overdue_timepoints
from cohort.schedule import ScheduleInvalid, build_schedule, get_schedule, use_schedule
from cohort.settings import Settings, get_settings
from cohort.vocab import Group, Timepoint
from forms.events import parse_events

FORMS = ("enrolment", "questionnaire", "aerli_session", "follow_up_status")


def mapping(*events: str) -> object:
    rows = ["arm_num,unique_event_name,form", "1,m0_arm_1,enrolment"]
    rows += [f"1,{event},questionnaire" for event in ("m0_arm_1", *events)]
    rows += ["1,ongoing_arm_1,aerli_session", "1,ongoing_arm_1,follow_up_status"]
    found, problems = parse_events("\n".join(rows) + "\n", forms=FORMS)
    assert problems == []
    return found


def test_the_study_schedule_is_outsiders() -> None:
    schedule = get_schedule()
    assert schedule.names == ["M0", "M6", "M12"]
    assert [(v.event, v.target_day, v.before, v.after, v.month) for v in schedule] == [
        ("m0_arm_1", 0, 0, 14, 0), ("m6_arm_1", 182, 42, 42, 6),
        ("m12_arm_1", 365, 42, 42, 12)]
    assert ProtocolConfig().follow_up_end(date(2026, 1, 1)) == date(2026, 1, 1) + timedelta(
        days=365 + 42)


def test_visits_their_days_and_windows_come_from_the_mapping_and_settings() -> None:
    settings = Settings(visit_target_days={"W2": 14}, visit_window_days={"M24": 60},
                        visit_labels={"M24": "Two years"}, window_days=30)
    schedule = build_schedule(mapping("w2_arm_1", "m3_arm_1", "m24_arm_1"), settings)
    assert schedule.names == ["M0", "W2", "M3", "M24"]
    assert [v.target_day for v in schedule] == [0, 14, 91, 730]
    assert [(v.before, v.after) for v in schedule] == [(0, 14), (30, 30), (30, 30), (60, 60)]
    assert schedule.get("M24").label == "Two years" and schedule.get("W2").month == 0
    assert schedule.by_event("m3_arm_1") is schedule.get("M3")
    assert schedule.parse(" m24 ") == "M24"
    with pytest.raises(ValueError, match="use M0, W2, M3 or M24"):
        schedule.parse("M18")


def test_deprecated_m6_and_m12_settings_still_apply() -> None:
    schedule = build_schedule(mapping("m6_arm_1", "m12_arm_1"),
                              Settings(m6_target_day=180, m12_window_days=60))
    assert (schedule.get("M6").target_day, schedule.get("M12").after) == (180, 60)


def test_a_visit_without_a_day_or_out_of_order_is_a_setting_error() -> None:
    with pytest.raises(ScheduleInvalid, match="COHORT_VISIT_TARGET_DAYS"):
        build_schedule(mapping("final_arm_1"), Settings())
    with pytest.raises(ScheduleInvalid, match="must grow"):
        build_schedule(mapping("m12_arm_1", "m6_arm_1"), Settings())


def test_cli_reports_a_bad_schedule_as_an_invalid_setting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cohort.cli.main import app

    monkeypatch.setenv("COHORT_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("COHORT_VISIT_TARGET_DAYS", '{"M6": 400}')
    get_settings.cache_clear()
    try:
        assert CliRunner().invoke(app, ["init"]).exit_code == 0
        result = CliRunner().invoke(app, ["status"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 4 and "must grow" in result.stderr


def test_timepoint_is_a_string_checked_against_the_schedule() -> None:
    adapter = TypeAdapter(Timepoint)
    assert adapter.validate_python("m6") == "M6" and adapter.validate_python("M6").value == "M6"
    with pytest.raises(ValidationError, match="not a visit of this study"):
        adapter.validate_python("M24")
    assert adapter.dump_json(Timepoint("M12")) == b'"M12"'


def test_rules_and_contrasts_follow_a_swapped_schedule() -> None:
    """overdue_timepoints (rule time.visit_overdue) and the analysis terms iterate over
    whatever schedule is in force."""
    schedule = build_schedule(mapping("m3_arm_1", "m24_arm_1"), Settings())
    use_schedule(schedule)
    try:
        incl = date(2024, 1, 1)
        facts = ScheduleFacts(Group.COMPARISON, incl, incl + timedelta(days=800), True,
                              frozenset({Timepoint("M0")}), (), ProtocolConfig())
        assert [tp for tp, _ in overdue_timepoints(facts)] == ["M3", "M24"]
        assert visits.group_by_time() == "intervention * (m3 + m24)"
        assert list(visits.contrast_spec())[-2:] == ["group × time interaction, M3",
                                                     "group × time interaction, M24"]
    finally:
        use_schedule(None)
