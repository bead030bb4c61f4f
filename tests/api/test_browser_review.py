"""The review pages of issue 15 part B (points 6-10) in Debian's headless Chromium, each at
390 px (a phone) and 1280 px (a laptop): nothing scrolls sideways, and what the page is for
works with its script (sorting, ticking many deviations). Screenshots are kept in
``test-artifacts/screenshots/`` (git-ignored) as ``15b-<page>-<width>.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.browser_site import SHOTS, chromium_tab, sign_in
from tests.api.test_browser_flows import Live, live

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["live"]  # the module's live server (demo cohort of 40 per centre)

WIDTHS = (390, 1280)


@pytest.fixture(params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def tab(request: pytest.FixtureRequest, live: Live) -> Iterator[Any]:
    width = int(request.param)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium_tab(width, 844 if width < 600 else 800) as page:
        yield page


def fits(page: Any, name: str) -> None:
    """The page fits its width (no sideways scroll) and is kept as a screenshot."""
    width = page.viewport_size["width"]
    page.screenshot(path=str(SHOTS / f"15b-{name}-{width}.png"), full_page=True)
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{name} at {width}px scrolls sideways ({scroll}px)"


def test_participant_list_and_page(tab: Any, live: Live) -> None:
    """Point 6: plain labels on the cards; on the participant's page the visit not yet due
    is a quiet button; point 8: the flags and their outcome are on the page."""
    sign_in(tab, live, "worker.c01")
    tab.goto(f"{live.base}/participants")
    text = tab.inner_text("#participant-list")
    assert "sessions 0/0" not in text and " to review" not in text
    fits(tab, "participants")
    flagged = tab.locator("#participant-list a.review-link").first
    if flagged.count():
        flagged.click()
        tab.wait_for_load_state()
        assert tab.url.endswith("#to-review")
        assert tab.locator("#participant-deviations li.card").count() >= 1
    else:
        tab.locator("#participant-list li.card a").first.click()
        tab.wait_for_load_state()
    fits(tab, "participant")
    primary = tab.locator("a.button.primary[href*='/questionnaires/']")
    assert primary.count() <= 1


def test_retention_sorts_and_fits(tab: Any, live: Live) -> None:
    """Point 7: at 1280 px the whole table is visible without scrolling sideways; a click
    on a column title (on a phone, the "Sort by" list) sorts the centres; both charts are
    drawn."""
    sign_in(tab, live, "officer")
    tab.goto(f"{live.base}/retention")
    tab.wait_for_load_state()
    assert tab.locator("#chart-centres rect").count() > 20
    assert tab.locator("#chart-months circle").count() >= 1
    fits(tab, "retention")
    width = tab.viewport_size["width"]
    if width >= 1280:
        box = tab.locator("#retention").bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
    if width >= 1280:
        header = tab.locator("#retention thead th[data-col='3'] button.sort")
        header.click()
        header.click()  # descending: the best M6 first
    else:  # the header is hidden on a phone: the "Sort by" list, highest first
        tab.locator("select.sort-by").first.select_option(label="M6 % done")
    column = tab.locator("#retention tbody tr td:nth-child(4)")
    values = [float(v) for v in column.evaluate_all(
        "cells => cells.map(c => c.getAttribute('data-sort'))")]
    assert values == sorted(values, reverse=True) and len(values) == 20
    fits(tab, "retention-sorted")


def test_deviations_ticked_together(tab: Any, live: Live) -> None:
    """Point 8: rule names on the badges, two ticked and acknowledged with one comment."""
    sign_in(tab, live, "officer")
    tab.goto(f"{live.base}/deviations")
    tab.wait_for_load_state()
    badges = tab.locator("#deviation-list .badge").all_inner_texts()
    assert badges and not any("." in b and "_" in b for b in badges), badges
    fits(tab, "deviations")
    ticks = tab.locator("#deviation-list input.tick")
    ids = [ticks.nth(i).get_attribute("value") for i in range(2)]
    ticks.nth(0).check()
    ticks.nth(1).check()
    assert tab.inner_text("#ticked") == "2 ticked"
    tab.fill("#bulk-comment", "Reviewed together at the weekly meeting.")
    tab.click("#bulk-acknowledge")
    tab.wait_for_load_state()
    assert "2 deviations acknowledged" in tab.inner_text("main")
    tab.goto(f"{live.base}/deviations?status=acknowledged")
    for deviation_id in ids:
        card = tab.locator(f"#deviation-{deviation_id}")
        assert "weekly meeting" in card.inner_text()
    fits(tab, "deviations-acknowledged")


def test_history_in_words(tab: Any, live: Live) -> None:
    """Point 9: labels, old -> new, who and when; no JSON."""
    sign_in(tab, live, "officer")
    tab.goto(f"{live.base}/participants?centre=C01")
    code = tab.locator("#participant-list strong.code").first.inner_text().strip()
    tab.goto(f"{live.base}/participants/{code}/history")
    text = tab.inner_text("#history")
    assert "Participant created" in text and '{"' not in text
    fits(tab, "history")


def test_statistician_pages(tab: Any, live: Live) -> None:
    """Point 10: no enrolment or workbooks offered; opened anyway, a clear 403 page; the
    exports page offers the formats and the report."""
    sign_in(tab, live, "statistician")
    nav = tab.inner_text("header nav")
    assert "Enrol" not in nav and "Workbooks" not in nav and "Exports and report" in nav
    response = tab.goto(f"{live.base}/participants/new")
    assert response is not None and response.status == 403
    assert "not available to you" in tab.inner_text("main")
    fits(tab, "statistician-enrol-403")
    tab.click("nav >> text=Exports and report")
    tab.wait_for_load_state()
    assert tab.locator("#export-form select#fmt option").count() >= 3
    fits(tab, "statistician-exports")
