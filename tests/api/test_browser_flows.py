"""Real headless Chromium (Debian's) against the app served by uvicorn on loopback.

An outreach worker signs in, enrols someone, fills M0 using a branching question, gets an
inline error for a bad value, saves, and finds the participant in the list; a research
officer resolves a deviation. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from cohort.vocab import Timepoint
from tests.api.browser_site import SHOTS, chromium_tab, demo_site, sign_in
from tests.conftest import TODAY
from tests.factories import questionnaire_answers

pytestmark = [pytest.mark.browser, pytest.mark.slow]



@dataclass
class Live:
    base: str
    passwords: dict[str, str]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with demo_site(tmp_path_factory, "browser", participants=40, seed=1) as site:
        yield Live(site.base, site.passwords)


@pytest.fixture
def page(live: Live) -> Iterator[Any]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium_tab(390, 844) as tab:
        yield tab


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def answer(page: Any, name: str, value: Any) -> None:
    """Fill one dictionary field the way a person would (tap the choice, type the number)."""
    if isinstance(value, list):
        for code in value:
            page.check(f"input[name='{name}'][value='{code}']")
        return
    radio = page.locator(f"input[type=radio][name='{name}'][value='{value}']")
    if radio.count():
        radio.check()
        return
    field = page.locator(f"[name='{name}']").first
    if field.evaluate("e => e.tagName") == "SELECT":
        field.select_option(str(value))
    else:
        field.fill(str(value))


def test_outreach_worker_enrols_and_fills_m0(page: Any, live: Live) -> None:
    sign_in(page, live, "worker.c01")
    assert page.url.endswith("/participants")
    shot(page, "01-worker-participants")
    page.click("text=Enrol a participant")
    enrolment = {"age": "31", "injected_past_month": "1", "wish_neck_groin": "0",
                 "consent": "1", "consent_date": TODAY.isoformat(),
                 "inclusion_date": TODAY.isoformat(), "year_of_birth": "1995",
                 "gender": "1", "reached_via": "1", "study_group": "1"}
    for name, value in enrolment.items():
        answer(page, name, value)
    shot(page, "02-enrol-form")
    page.click("button:has-text('Enrol')")
    page.wait_for_load_state()
    assert "is enrolled" in page.inner_text(".flash")
    code = page.inner_text("h1.code").strip()
    assert code.startswith("C01-")
    shot(page, "03-enrolled")

    page.click("text=Enter M0")
    page.wait_for_load_state()
    # Branching: the treatment type is asked only of people currently on OAT.
    oat_type = page.locator("#field-oat_type")
    answer(page, "oat_current", "0")
    assert oat_type.is_hidden()
    answer(page, "oat_current", "1")
    assert oat_type.is_visible()
    values = questionnaire_answers(TODAY, Timepoint("M0"))
    values["years_injecting"] = "250"  # not possible: an inline error, before any round trip
    for name, value in values.items():
        answer(page, name, value)
    page.click("button:has-text('Save M0')")
    error = page.locator("#field-years_injecting .error")
    assert error.is_visible() and error.inner_text().strip()
    assert "/questionnaires/M0" in page.url
    shot(page, "04-inline-error")
    answer(page, "years_injecting", "8")
    page.click("button:has-text('Save M0')")
    page.wait_for_url(f"**/participants/{code}")
    assert "Saved" in page.inner_text(".flash")
    shot(page, "05-m0-saved")

    page.click("text=My participants")
    page.wait_for_load_state()
    assert code in page.inner_text("#participant-list")
    shot(page, "06-list-with-new-participant")


def test_research_officer_resolves_a_deviation(page: Any, live: Live) -> None:
    sign_in(page, live, "officer")
    assert page.url.endswith("/retention")
    assert page.locator("#retention tbody tr").count() == 20
    shot(page, "11-officer-retention")
    page.click("nav >> text=Deviations")
    page.wait_for_load_state()
    card = page.locator("#deviation-list li.card").first
    card_id = card.get_attribute("id")
    card.locator("input[name=comment]").fill("Discussed with the team; second worker trained.")
    shot(page, "12-deviation-queue")
    card.locator("button[value=resolve]").click()
    page.wait_for_load_state()
    assert "resolved" in page.inner_text(".flash")
    page.goto(f"{live.base}/deviations?status=resolved")
    resolved = page.locator(f"#{card_id}")
    assert resolved.count() == 1
    assert "second worker trained" in resolved.inner_text()
    shot(page, "13-deviation-resolved")


def test_research_officer_reads_retention_on_a_phone(page: Any, live: Live) -> None:
    """390 px wide: every centre's M6 and M12 figures are readable without scrolling
    sideways (a stacked card per centre under the phone media query)."""
    sign_in(page, live, "officer")
    page.goto(f"{live.base}/retention")
    page.wait_for_load_state()
    width = page.viewport_size["width"]
    assert width == 390
    shot(page, "14-officer-retention-390px")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    rows = page.locator("#retention tbody tr")
    assert rows.count() == 20
    for index in (0, rows.count() - 1):
        row = rows.nth(index)
        row.scroll_into_view_if_needed()
        for label in ("M12 done", "M12 on time", "M12 due now", "M12 overdue",
                      "M6 done", "M6 overdue"):
            cell = row.locator(f"td[data-label='{label}']")
            assert cell.is_visible(), label
            box = cell.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, \
                (label, box)
            assert cell.inner_text().strip().split()[0].isdigit(), (label, cell.inner_text())
    # The card's "… enrolled" after the count is the cell's own translated label, not a
    # word written in the style sheet (which read "enrolled" on the French page too).
    enrolled = rows.first.locator("td.enrolled")
    label = enrolled.get_attribute("data-label")
    suffix = enrolled.evaluate("cell => getComputedStyle(cell, '::after').content")
    assert label and suffix == f'" {label}"', (label, suffix)
    total = page.locator("#retention tfoot th[data-label='M12 done']")
    assert total.is_visible()
    box = total.bounding_box()
    assert box is not None and box["x"] + box["width"] <= width


def test_data_manager_locks_a_centre_and_the_officer_reviews_the_reads(
        page: Any, live: Live) -> None:
    """Rule study.locked from the Study lock page; the read shows in the access log."""
    sign_in(page, live, "admin")
    page.goto(f"{live.base}/participants")
    code = page.locator("#participant-list strong.code").first.inner_text().strip()
    centre = code.split("-")[0]
    page.click("nav >> text=Study lock")
    page.select_option("#lock-centre", centre)
    page.fill("#lock-reason", "Follow-up finished in this centre")
    page.click("#lock-form button[value=lock]")
    page.wait_for_load_state()
    assert f"Centre {centre}" in page.inner_text("#lock-state")
    shot(page, "21-centre-locked")
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/login")  # the phone's copy is cleared first, then the session

    sign_in(page, live, "officer")
    page.goto(f"{live.base}/participants/{code}")
    assert "locked" in page.inner_text("#locked")
    assert page.locator("text=Log a session").count() == 0
    shot(page, "22-locked-participant")
    page.click("nav >> text=Access log")
    page.select_option("select[name=centre]", centre)
    page.click("#access-filters button")
    page.wait_for_load_state()
    assert code in page.inner_text("#access-table")
    shot(page, "23-access-log")
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/login")  # the phone's copy is cleared first, then the session

    sign_in(page, live, "admin")
    page.goto(f"{live.base}/study-lock")
    page.select_option("#lock-centre", centre)
    page.fill("#lock-reason", "Locked for the browser test only")
    page.click("#lock-form button[value=unlock]")
    page.wait_for_load_state()
    assert "unlocked" in page.inner_text(".flash")
