"""What every browser test file shares: Debian's Chromium, where screenshots go, and a demo
cohort in its own SQLite file served by uvicorn on loopback (the app exactly as deployed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from cohort.db import create_schema, engine_for
from tests.api.conftest import fixed_key_settings
from tests.api.redcap_live import serving
from tests.conftest import TODAY

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run"]


@dataclass
class DemoSite:
    """The served site: its address, the demo accounts' passwords, its database, and what
    the file's own ``prepare`` made in it."""

    base: str
    passwords: dict[str, str]
    engine: Engine
    prepared: Any = None


@contextmanager
def demo_site(tmp_path_factory: pytest.TempPathFactory, name: str, *, participants: int,
              seed: int, prepare: Callable[[Session], Any] | None = None
              ) -> Iterator[DemoSite]:
    """A demo cohort of ``participants`` per centre with the demo accounts, served until
    the block ends; skipped (not failed) where Debian's chromium is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make system-deps)")
    from api.app import create_app
    from cohort.demo import build_demo
    from cohort.services.accounts import create_demo_accounts

    url = f"sqlite:///{tmp_path_factory.mktemp(name) / 'browser.db'}"
    engine = engine_for(url)
    create_schema(engine)
    with Session(engine, expire_on_commit=False) as session:
        build_demo(session, participants=participants, seed=seed, as_of=TODAY)
        accounts = create_demo_accounts(session)
        prepared = prepare(session) if prepare is not None else None
    app = create_app(fixed_key_settings(), engine=engine, today=lambda: TODAY)
    try:
        with serving(app) as port:
            yield DemoSite(f"http://127.0.0.1:{port}",
                           {a.username: a.password for a in accounts}, engine, prepared)
    finally:
        engine.dispose()


@contextmanager
def chromium_tab(width: int, height: int, **options: Any) -> Iterator[Any]:
    """A tab of Debian's headless Chromium at this size; below 600 px it is a phone (touch,
    mobile viewport). ``options`` are more Playwright context options (``user_agent``,
    ``locale``)."""
    from playwright.sync_api import sync_playwright

    phone = width < 600
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": width, "height": height},
                                      device_scale_factor=1, is_mobile=phone, has_touch=phone,
                                      **options)
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        try:
            yield tab
        finally:
            context.close()
            browser.close()


class Served(Protocol):
    """A served site as the test files keep it: its address and the demo passwords."""

    base: str
    passwords: dict[str, str]


def sign_in(page: Any, site: Served, username: str) -> None:
    """Sign in on the login page as a demo account, and wait for the page it leads to."""
    page.goto(f"{site.base}/login")
    page.fill("#username", username)
    page.fill("#password", site.passwords[username])
    page.click("button[type=submit]")
    page.wait_for_load_state()
