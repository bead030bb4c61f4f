"""The ``cohort`` command line, end to end on an SQLite file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cohort.cli.main import app
from cohort.rules import RULES, Severity
from cohort.services.context import COMMAND_LINE
from cohort.settings import get_settings

runner = CliRunner()
SOFT_RULES = {r.id for r in RULES if r.severity is Severity.SOFT}
TIME_RULES = {r.id for r in RULES if r.severity is Severity.TIME}


@pytest.fixture
def db_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("COHORT_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One demo cohort shared by the read-only command tests (it takes a few seconds)."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COHORT_DATABASE_URL", f"sqlite:///{path}")
        get_settings.cache_clear()
        code, out, err = run("demo", "--participants", "300", "--seed", "7",
                             "--as-of", "2026-11-22")
        assert code == 0, err
        assert "300 participants" in out
        yield path
    get_settings.cache_clear()


@pytest.fixture
def on_demo(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("COHORT_DATABASE_URL", f"sqlite:///{demo_db}")
    get_settings.cache_clear()
    yield demo_db
    get_settings.cache_clear()


def test_demo_status_and_deviations_show_every_soft_and_time_rule(on_demo: Path) -> None:
    code, out, _ = run("status", "--json", "--as-of", "2026-11-22")
    assert code == 0
    centres = json.loads(out)
    assert len(centres) == 20
    assert sum(c["enrolled"] for c in centres) == 300
    assert all(c["visits"][1]["done"] <= c["visits"][0]["done"] <= c["enrolled"]
               for c in centres)
    assert [v["visit"] for v in centres[0]["visits"]] == ["M0", "M6", "M12"]
    code, out, _ = run("deviations", "--json")
    assert code == 0
    listed = json.loads(out)
    assert listed["count"] == len(listed["data"]) > 0
    assert {d["rule_id"] for d in listed["data"]} >= SOFT_RULES | TIME_RULES


def test_check_is_idempotent(on_demo: Path) -> None:
    code, out, _ = run("check", "--json", "--as-of", "2026-11-22")
    assert code == 0
    assert json.loads(out)["raised"] == 0


def test_deviation_filters(on_demo: Path) -> None:
    code, out, _ = run("deviations", "--json", "--centre", "C03",
                       "--rule", "visit.out_of_window")
    assert code == 0
    data = json.loads(out)["data"]
    assert all(d["rule_id"] == "visit.out_of_window" for d in data)
    assert len({d["centre_id"] for d in data}) <= 1


def test_demo_is_deterministic_for_a_seed(db_file: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = []
    for name in ("a.db", "b.db"):
        monkeypatch.setenv("COHORT_DATABASE_URL", f"sqlite:///{tmp_path / name}")
        get_settings.cache_clear()
        assert run("demo", "--participants", "30", "--seed", "3", "--as-of", "2026-11-22")[0] == 0
        outputs.append(run("status", "--json", "--as-of", "2026-11-22")[1])
    assert outputs[0] == outputs[1]


def test_rules_lists_every_rule() -> None:
    code, out, _ = run("rules", "--json")
    assert code == 0
    assert {r["id"] for r in json.loads(out)} == {r.id for r in RULES}


@pytest.mark.parametrize(
    ("args", "expected_code", "fragment"),
    [
        (("status", "--as-of", "22/11/2026"), 1, "is not a date"),
        (("deviations", "--rule", "no.such.rule"), 1, "unknown rule"),
        (("deviations", "--status", "closed"), 1, "unknown status"),
        (("status",), 3, "cohort init"),
    ],
)
def test_errors_are_one_clear_line(db_file: Path, args: tuple[str, ...], expected_code: int,
                                   fragment: str) -> None:
    code, out, err = run(*args)
    assert code == expected_code
    assert fragment in err
    assert "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1


def test_init_creates_the_schema_then_status_is_empty(db_file: Path) -> None:
    code, out, _ = run("init")
    assert code == 0 and "Database ready" in out
    code, out, _ = run("status", "--json")
    assert code == 0 and json.loads(out) == []


def test_demo_and_init_drop_never_delete_a_database_holding_study_data(db_file: Path) -> None:
    from sqlmodel import Session

    from cohort.db import engine_for
    from cohort.services.setup import CentreCreate, create_centre

    assert run("init")[0] == 0
    with Session(engine_for(f"sqlite:///{db_file}")) as session:
        create_centre(session, actor=COMMAND_LINE,
                      data=CentreCreate(code="C01", name="Centre one", city="Lyon"))
    size = db_file.stat().st_size

    for args in (("demo", "--participants", "5"), ("init", "--drop")):
        code, out, err = run(*args)
        assert code != 0, out
        assert "study data" in err and "Traceback" not in err
    assert db_file.stat().st_size == size
    code, out, _ = run("status", "--json")
    assert [row["centre_code"] for row in json.loads(out)] == ["C01"]


def test_demo_replaces_its_own_earlier_demo(db_file: Path) -> None:
    assert run("demo", "--participants", "20", "--seed", "3")[0] == 0
    code, out, err = run("demo", "--participants", "30", "--seed", "3")
    assert code == 0, err
    assert "30 participants" in out
    code, out, _ = run("status", "--json")
    assert sum(row["enrolled"] for row in json.loads(out)) == 30


def _one_line_no_traceback(code: int, out: str, err: str, expected_code: int) -> str:
    assert code == expected_code, (out, err)
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    return lines[0]


def test_init_on_a_database_with_an_unknown_revision_is_one_line(db_file: Path) -> None:
    import sqlite3

    assert run("init")[0] == 0
    with sqlite3.connect(db_file) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'from_elsewhere'")
    line = _one_line_no_traceback(*run("init"), expected_code=3)
    assert "from_elsewhere" in line and "another version" in line


def test_an_invalid_setting_is_one_line_naming_the_variable(
    db_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COHORT_M6_TARGET_DAY", "abc")
    get_settings.cache_clear()
    line = _one_line_no_traceback(*run("status"), expected_code=4)
    assert "COHORT_M6_TARGET_DAY" in line


def test_init_into_a_missing_directory_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COHORT_DATABASE_URL", f"sqlite:///{tmp_path}/absent/cohort.db")
    get_settings.cache_clear()
    try:
        line = _one_line_no_traceback(*run("init"), expected_code=3)
    finally:
        get_settings.cache_clear()
    assert f"{tmp_path}/absent does not exist" in line and "cohort init" not in line


def test_check_refuses_a_future_as_of_date_in_one_line(db_file: Path) -> None:
    """time.visit_overdue is never raised ahead of time."""
    assert run("init")[0] == 0
    line = _one_line_no_traceback(*run("check", "--as-of", "2999-01-01"), expected_code=2)
    assert "in the future" in line


@pytest.mark.parametrize("args", [("check", "--bogus"), ("status", "--as-of"), ("nope",)])
def test_usage_errors_are_typer_messages_not_tracebacks(args: tuple[str, ...]) -> None:
    code, out, err = run(*args)
    assert code == 2 and "Traceback" not in out + err
    assert "Error" in err


def test_demo_twice_on_postgresql_says_it_holds_a_demo(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import pg_database

    request.getfixturevalue("pg_url")  # fails in CI / skips locally when unreachable
    with pg_database("cohort_demo2") as url:
        monkeypatch.setenv("COHORT_DATABASE_URL", url)
        get_settings.cache_clear()
        try:
            assert run("demo", "--participants", "5", "--as-of", "2026-11-22")[0] == 0
            line = _one_line_no_traceback(*run("demo", "--participants", "5"), expected_code=1)
        finally:
            get_settings.cache_clear()
    assert "already holds a demo cohort" in line and "did not build" not in line
