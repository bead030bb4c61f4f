"""The retention page after a save: the parts kept from earlier states (headings, other
centres' lines, cells and rows) make the same page as one rendered from nothing."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from api.pages import monitoring, retention_rows, retention_view
from cohort.recent import Recent
from cohort.services import retention_groups
from cohort.vocab import Timepoint
from tests.api.conftest import World
from tests.api.test_api_pages import sign_in
from tests.factories import Factory


def _page(client: TestClient, language: str) -> str:
    html = client.get("/retention", headers={"Accept-Language": language}).text
    html = re.sub(r'name="csrf_token" value="[^"]+"', "", html)
    return re.sub(r'nonce="[^"]+"', "", html)


def _forget_rendered() -> None:
    kept: list[Recent] = [monitoring._RENDERED, monitoring._BY_FIGURES,  # type: ignore[type-arg]  # noqa: SLF001
                          retention_rows._ROWS,  # noqa: SLF001
                          retention_rows._FIXED, retention_rows._MODULES,  # noqa: SLF001
                          retention_view._LINES, retention_groups._CELLS]  # noqa: SLF001
    for recent in kept:
        recent._values.clear()  # noqa: SLF001


def _line(code: str) -> object:
    """The line last kept for a centre (``retention_view._LINES``, newest last)."""
    return next(value[0][2] for key, value in reversed(retention_view._LINES._values.items())  # noqa: SLF001
                if isinstance(key, tuple) and key[0] == code)


def test_a_page_after_a_save_equals_one_rendered_from_nothing(
        client: TestClient, world: World, factory: Factory) -> None:
    assert world.pa is not None and world.pb is not None
    sign_in(client, "officer")
    before = {language: _page(client, language) for language in ("en", "fr")}
    lines = {code: _line(code) for code in ("C01", "C02")}
    worker = factory.actor(world.users["worker_a"].staff)
    factory.questionnaire(worker, world.pa, Timepoint("M6"))
    after = {language: _page(client, language) for language in ("en", "fr")}
    assert after != before  # the save moved C01's figures
    # The untouched centre's line was kept, the saved one's made again.
    assert _line("C02") is lines["C02"] and _line("C01") is not lines["C01"]
    _forget_rendered()
    again = {language: _page(client, language) for language in ("en", "fr")}
    assert again == after


def test_a_save_outside_an_officers_centres_leaves_their_table_as_it_was(
        client: TestClient, world: World, factory: Factory) -> None:
    """The officer who follows C02 only: a save in C01 is a new state of the data, not new
    figures for them, and their table is the one rendered before (the very same object);
    a save in C02 renders it again."""
    assert world.pa is not None and world.pb is not None
    sign_in(client, "officer.b")

    def newest() -> object:
        return next(reversed(monitoring._RENDERED._values.values()))[0]  # noqa: SLF001

    before = _page(client, "en")
    table = newest()
    factory.questionnaire(factory.actor(world.users["worker_a"].staff), world.pa,
                          Timepoint("M6"))
    assert _page(client, "en") == before
    assert newest() is table and len(monitoring._RENDERED._values) >= 2  # noqa: SLF001
    factory.questionnaire(factory.actor(world.users["worker_b"].staff), world.pb,
                          Timepoint("M6"))
    assert _page(client, "en") != before and newest() is not table
