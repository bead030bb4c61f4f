"""A refused write on SQLite releases the server's writer queue (``api.deps.session_for``):
found while testing jobs, every write after one that raised waited and answered 503. A
sign-in checks its password with the queue and the database's write lock free."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from api.app import create_app
from cohort.db import engine_for, forget_engines
from cohort.migrate import upgrade
from cohort.models import Account, SignInFailure
from cohort.services import signin
from tests.api.conftest import PASSWORD, TestClient, fixed_key_settings
from tests.conftest import TODAY
from tests.ops.conftest import seed_world


def test_writes_after_a_refused_write_are_not_held_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    upgrade(url)
    world = seed_world(url)
    assert world.pa is not None
    settings = fixed_key_settings().model_copy(update={"database_url": url,
                                                       "write_wait_seconds": 1.0})
    with TestClient(create_app(settings, engine=engine_for(url), today=lambda: TODAY)) as c:
        token = c.post("/api/v1/auth/token",
                       data={"username": "stat", "password": PASSWORD}).json()["access_token"]
        for _ in range(3):  # a statistician may not write: refused (403), each time
            got = c.post(f"/api/v1/participants/{world.pa.code}/status",
                         headers={"Authorization": f"Bearer {token}"},
                         json={"status": "withdrawn", "effective_date": "2026-01-01"})
            assert got.status_code == 403, got.text
    forget_engines(url)


class _Watching:
    """Argon2's hasher, recording whether the database's write lock is free while a
    password is checked (another connection can begin a write at once)."""

    def __init__(self, real: Any, path: Path, seen: list[str]) -> None:
        self.real, self.path, self.seen = real, path, seen

    def verify(self, stored: str, password: str) -> bool:
        probe = sqlite3.connect(self.path, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
            failures = probe.execute("SELECT count(*) FROM sign_in_failure").fetchone()[0]
            self.seen.append(f"free, {failures} failure(s) counted")
        except sqlite3.OperationalError:
            self.seen.append("locked")
        finally:
            probe.close()
        return bool(self.real.verify(stored, password))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_password_is_checked_without_holding_the_writers_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 takes a tenth of a second: checked inside the sign-in's transaction, it held
    SQLite's write lock (and the process's writer turn), and every save waited behind
    each outreach worker signing in."""
    path = tmp_path / "signin.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    seed_world(url)
    seen: list[str] = []
    monkeypatch.setattr(signin, "_hasher", _Watching(signin._hasher, path, seen))
    settings = fixed_key_settings().model_copy(update={"database_url": url})
    with TestClient(create_app(settings, engine=engine_for(url), today=lambda: TODAY)) as c:
        assert c.post("/api/v1/auth/token",
                      data={"username": "stat", "password": PASSWORD}).status_code == 200
        assert c.post("/api/v1/auth/token",
                      data={"username": "stat", "password": "wrong"}).status_code == 401
        login = c.get("/login").text
        csrf = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        signed = c.post("/login", data={"username": "officer", "password": PASSWORD,
                                        "csrf_token": csrf}, follow_redirects=False)
        assert signed.status_code == 303
    # Each try is counted as failed before its password is checked (guesses sent at once
    # cannot all find the count below the limit), and forgotten when it was right.
    assert seen == ["free, 1 failure(s) counted", "free, 1 failure(s) counted",
                    "free, 2 failure(s) counted"]
    with Session(engine_for(url)) as session:
        left = session.exec(select(SignInFailure.username)).all()
    assert left == ["stat"]
    forget_engines(url)


def test_the_same_password_hashed_again_meanwhile_still_signs_in(tmp_path: Path) -> None:
    """Two sign-ins at once after Argon2's parameters changed: the first stores a new
    hash of the same password (a new salt) while the second checks the old one; the
    second checks the password against the new hash rather than refuse it."""
    url = f"sqlite:///{tmp_path / 'rehashed.db'}"
    upgrade(url)
    seed_world(url)
    engine = engine_for(url)
    again = signin.hash_password(PASSWORD)
    real = signin._hasher

    class Rehashing:
        rehashed = False

        def verify(self, stored: str, password: str) -> bool:
            if not self.rehashed:
                self.rehashed = True
                with Session(engine) as other:
                    account = other.exec(
                        select(Account).where(Account.username == "stat")).one()
                    account.password_hash = again
                    other.add(account)
                    other.commit()
            return bool(real.verify(stored, password))

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    with Session(engine) as session, pytest.MonkeyPatch.context() as patch:
        patch.setattr(signin, "_hasher", Rehashing())
        assert signin.sign_in(session, username="stat", password=PASSWORD) is not None
    forget_engines(url)


def test_a_password_changed_while_it_was_checked_signs_nobody_in(tmp_path: Path) -> None:
    """The account is read again after the check, in the transaction that records the
    sign-in: a password changed (or an account disabled) meanwhile is what counts."""
    url = f"sqlite:///{tmp_path / 'changed.db'}"
    upgrade(url)
    seed_world(url)
    engine = engine_for(url)
    new_hash = signin.hash_password("a new one")

    real = signin._hasher

    class Changing:
        """The first check passes, and the password is changed while it runs."""

        changed = False

        def verify(self, stored: str, password: str) -> bool:
            if self.changed:
                return bool(real.verify(stored, password))
            self.changed = True
            with Session(engine) as other:
                account = other.exec(select(Account).where(Account.username == "stat")).one()
                account.password_hash = new_hash
                other.add(account)
                other.commit()
            return True

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    with Session(engine) as session, pytest.MonkeyPatch.context() as patch:
        patch.setattr(signin, "_hasher", Changing())
        assert signin.sign_in(session, username="stat", password=PASSWORD) is None
    with Session(engine) as session:
        assert signin.sign_in(session, username="stat", password="a new one") is not None
    forget_engines(url)


def test_guesses_sent_at_once_are_held_to_the_limit(tmp_path: Path) -> None:
    """Twelve wrong passwords sent at the same moment: five are checked, seven wait
    (429), as when they come one after the other (each is counted before its check)."""
    url = f"sqlite:///{tmp_path / 'burst.db'}"
    upgrade(url)
    seed_world(url)
    settings = fixed_key_settings().model_copy(update={"database_url": url})
    codes: list[int] = []
    with TestClient(create_app(settings, engine=engine_for(url), today=lambda: TODAY)) as c:
        start = threading.Barrier(12)

        def guess() -> None:
            start.wait()
            codes.append(c.post("/api/v1/auth/token",
                                data={"username": "stat", "password": "wrong"}).status_code)

        threads = [threading.Thread(target=guess) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(codes) == [401] * 5 + [429] * 7
    forget_engines(url)
