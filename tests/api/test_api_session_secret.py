"""The page-session key: never a published constant, kept across restarts, 0600."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from api.app import create_app
from api.session_secret import OTHER_DATABASES_FILE, secret_path, session_secret
from cohort.settings import Settings


def test_no_published_default_key() -> None:
    assert Settings.model_fields["secret_key"].default is None
    assert Settings.model_fields["cookie_secure"].default is False


def test_generated_key_kept_next_to_sqlite_file_with_mode_0600(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'study.db'}", secret_key=None)
    first = session_secret(settings)
    path = tmp_path / "study.db.secret"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert session_secret(settings) == first  # a restart keeps sessions


def test_two_databases_get_different_keys(tmp_path: Path) -> None:
    one = session_secret(Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}"))
    two = session_secret(Settings(database_url=f"sqlite:///{tmp_path / 'b.db'}"))
    assert one != two


def test_other_databases_keep_the_key_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/study"
    assert secret_path(url) == tmp_path / OTHER_DATABASES_FILE


def test_explicit_key_wins_and_writes_no_file(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}",
                        secret_key="k" * 40)
    assert session_secret(settings) == "k" * 40
    assert not (tmp_path / "x.db.secret").exists()


def test_truncated_key_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "y.db.secret").write_text("short")
    with pytest.raises(RuntimeError, match="Delete it"):
        session_secret(Settings(database_url=f"sqlite:///{tmp_path / 'y.db'}"))


def test_cookie_secure_setting_reaches_the_session_cookie(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'z.db'}", secret_key="s" * 40,
                        cookie_secure=True)
    app = create_app(settings)
    with TestClient(app, base_url="https://testserver") as client:
        response = client.get("/login")
    cookie = response.headers.get("set-cookie", "")
    assert "outsider_session=" in cookie
    assert "secure" in cookie.lower()
