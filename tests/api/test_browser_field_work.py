"""Issue 15 B1-B5 in headless Chromium, at 390 px (a phone) and 1280 px (a desk).

The layout stays put when a corrected answer's error clears (the next radio button is
measured before and after the blur), the M0 form has sections with progress and jumping,
keeps a draft while it is filled (gone on sending and on signing out), refuses an age at
first injection above the age given at enrolment before any round trip, and stops its
date at today; the session form marks and pre-selects the signed-in worker; lists find a
participant by a loosely typed code and suggest the code meant when one character is wrong.
Screenshots: ``test-artifacts/screenshots/15b1/`` (git-ignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cohort.vocab import Timepoint
from tests.api.browser_site import chromium_tab, demo_site, sign_in
from tests.api.test_browser_flows import answer
from tests.conftest import TODAY
from tests.factories import questionnaire_answers

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots" / "15b1"
WIDTHS = {"phone": {"width": 390, "height": 844}, "desk": {"width": 1280, "height": 900}}


@dataclass
class Site:
    base: str
    passwords: dict[str, str]
    fresh: dict[str, str]   # per width: a C01 participant, aged 34, with no M0 yet
    other: str              # another C01 participant's code


def _participants(session: Any) -> tuple[dict[str, str], str]:
    """Per width, a fresh C01 participant aged 34 with no M0 yet; and another C01 code."""
    from sqlmodel import select

    from cohort.models import Account, Participant, Staff
    from cohort.services.context import actor_for
    from cohort.services.enrolment import EnrolmentCreate, enrol
    from cohort.vocab import Group, Modality

    account = session.exec(select(Account).where(Account.username == "worker.c01")).one()
    staff = session.get(Staff, account.staff_id)
    assert staff is not None
    inclusion = TODAY - timedelta(days=2)
    fresh = {width: enrol(session, actor=actor_for(session, staff), on=TODAY,
                          data=EnrolmentCreate(
                              age=34, injected_past_month=True, wish_neck_groin=False,
                              consent=True, consent_date=inclusion,
                              inclusion_date=inclusion, year_of_birth=inclusion.year - 34,
                              reached_via=Modality.IN_PERSON,
                              group=Group.INTERVENTION)).record.code
             for width in WIDTHS}
    other = session.exec(select(Participant.code).where(
        Participant.centre_id == staff.centre_id,
        Participant.code.not_in(list(fresh.values())))).first()  # type: ignore[attr-defined]
    assert other is not None
    return fresh, other


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with demo_site(tmp_path_factory, "browser15b1", participants=40, seed=3,
                   prepare=_participants) as served:
        fresh, other = served.prepared
        yield Site(served.base, served.passwords, fresh, other)


@pytest.fixture(params=sorted(WIDTHS))
def page(request: pytest.FixtureRequest) -> Iterator[Any]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = WIDTHS[request.param]
    with chromium_tab(size["width"], size["height"]) as tab:
        tab.width_name = request.param
        yield tab


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}-{page.width_name}.png"), full_page=True)


def page_top(page: Any, selector: str) -> float:
    """Where an element is on the page (not in the viewport): scrolling does not move it."""
    return float(page.eval_on_selector(
        selector, "e => e.getBoundingClientRect().top + window.scrollY"))


def drafts(page: Any) -> list[str]:
    return list(page.evaluate(
        "Object.keys(localStorage).filter(k => k.startsWith('cohort-draft:'))"))


def test_layout_stays_put_when_a_corrected_error_clears(page: Any, site: Site) -> None:
    """B2: submit with errors, correct one field, blur: the next radio does not move."""
    sign_in(page, site, "worker.c01")
    page.goto(f"{site.base}/participants/{site.fresh[page.width_name]}/questionnaires/M0")
    page.fill("input[name=years_injecting]", "250")
    page.click("button:has-text('Save M0')")
    error = page.locator("#field-years_injecting .error")
    assert error.is_visible() and "at most 80" in error.inner_text()
    shot(page, "b2-1-errors-shown")
    radio = "input[name=prison_ever][value='1']"
    page.fill("input[name=years_injecting]", "8")
    before = page_top(page, radio)
    page.eval_on_selector("input[name=years_injecting]", "e => e.blur()")
    assert error.inner_text().strip() == ""
    after = page_top(page, radio)
    shot(page, "b2-2-corrected-no-shift")
    assert after == before, (before, after)
    # The tap lands where the person aimed.
    page.locator(radio).scroll_into_view_if_needed()
    page.locator(radio).click()
    assert page.locator(radio).is_checked()


def test_m0_sections_progress_jump_age_check_and_draft(page: Any, site: Site) -> None:
    """B4: sections with progress and jumping, a draft kept while filling and cleared on
    sending and on signing out, [age] as the bound of age at first injection, date max."""
    sign_in(page, site, "worker.c01")
    url = f"{site.base}/participants/{site.fresh[page.width_name]}/questionnaires/M0"
    page.goto(url)
    links = page.locator(".form-sections a.section-link")
    assert links.count() >= 6
    assert links.first.inner_text().startswith("Visit")
    progress = page.locator("#form-progress")
    start = progress.inner_text()
    assert start.startswith("1 of ")  # the visit date, filled with today
    shot(page, "b4-1-sections")
    assert page.get_attribute("input[name=visit_date]", "max") == TODAY.isoformat()

    page.check("input[name=housing][value='3']")
    page.fill("input[name=age_first_injection]", "40")
    page.eval_on_selector("input[name=age_first_injection]", "e => e.blur()")
    message = page.locator("#field-age_first_injection .error").inner_text()
    assert "at most 34" in message and "Age (years)" in message
    assert progress.inner_text().startswith("3 of ")
    shot(page, "b4-2-age-check")

    # Jump to the sixth section: its heading comes to the top, under the bar.
    sixth = links.nth(5)
    title = sixth.inner_text().rsplit(" ", 1)[0]
    sixth.click()
    page.wait_for_timeout(200)
    heading = page.locator("h3.section", has_text=title).first
    bar_bottom = page.eval_on_selector(".form-sections", "e => e.getBoundingClientRect().bottom")
    top = heading.evaluate("e => e.getBoundingClientRect().top")
    assert bar_bottom - 2 <= top <= bar_bottom + 60, (bar_bottom, top)
    shot(page, "b4-3-jumped")

    # A draft: reopened, the answers come back; sending removes it.
    page.wait_for_timeout(500)
    assert drafts(page) == [f"cohort-draft:{site.fresh[page.width_name]}/M0"]
    page.goto(url)
    assert page.locator("#draft-restored").is_visible()
    assert page.locator("input[name=housing][value='3']").is_checked()
    assert page.input_value("input[name=age_first_injection]") == "40"
    shot(page, "b4-4-draft-restored")
    future = (TODAY + timedelta(days=1)).isoformat()
    page.fill("input[name=visit_date]", future)
    page.click("button:has-text('Save M0')")
    assert "up to today" in page.locator("#field-visit_date .error").inner_text()
    page.wait_for_timeout(100)
    assert drafts(page)  # stopped in the browser: the draft stays
    for name, value in questionnaire_answers(TODAY, Timepoint("M0")).items():
        answer(page, name, value)
    page.click("button:has-text('Save M0')")
    page.wait_for_url(f"**/participants/{site.fresh[page.width_name]}")
    assert drafts(page) == []

    # Signing out removes every draft left on the phone.
    page.goto(url.replace("/M0", "/M6"))
    page.check("input[name=inj_freq][value='2']")
    page.wait_for_timeout(500)
    assert drafts(page)
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/login")
    assert drafts(page) == []


def test_session_form_marks_you_and_counts_trained_workers(page: Any, site: Site) -> None:
    """B5: the signed-in worker is first, marked "(you)" and ticked; trained workers are
    shown; the count of trained workers ticked follows the ticks, with plurals."""
    sign_in(page, site, "worker.c01")
    page.goto(f"{site.base}/participants/{site.fresh[page.width_name]}/sessions/new")
    first = page.locator("#workers label.choice").first
    assert "(you)" in first.inner_text() and first.locator("input").is_checked()
    assert page.locator("#workers input:checked").count() == 1
    count = page.locator("#trained-count")
    trained = page.locator("#workers input[data-trained-on]")
    start = count.inner_text()
    shot(page, "b5-1-session-form")
    others = [i for i in range(trained.count()) if not trained.nth(i).is_checked()]
    if others:
        trained.nth(others[0]).check()
        after = count.inner_text()
        assert after != start and "workers ticked" in after
    assert "worker(s)" not in page.content()
    shot(page, "b5-2-second-worker")


def test_lists_find_a_code_and_suggest_the_one_meant(page: Any, site: Site) -> None:
    """B1: loose typing finds the participant; one wrong character gets a suggestion."""
    sign_in(page, site, "officer")
    page.goto(f"{site.base}/participants")
    page.fill("input[name=q]", site.other.lower().replace("-", " "))
    page.click("form.code-search button")
    page.wait_for_load_state()
    assert page.locator("#participant-list li.card").count() == 1
    assert site.other in page.inner_text("#participant-list")
    shot(page, "b1-1-found")
    i = site.other.rindex("-") - 1
    slip = site.other[:i] + ("7" if site.other[i] != "7" else "8") + site.other[i + 1:]
    page.goto(f"{site.base}/deviations")
    page.fill("input[name=q]", slip)
    page.click("form.code-search button")
    page.wait_for_load_state()
    hint = page.locator("#code-search-result")
    assert site.other in hint.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    shot(page, "b1-2-suggestion")
    hint.locator(f"a:has-text('{site.other}')").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/participants/{site.other}")


def test_status_page_and_session_correction(page: Any, site: Site) -> None:
    """B3: the status page records a status; a session is corrected with a reason."""
    sign_in(page, site, "worker.c01")
    page.goto(f"{site.base}/participants/{site.other}")
    page.click("#status-link")
    page.wait_for_load_state()
    shot(page, "b3-1-status-page")
    choices = page.locator("input[name=status]")
    assert choices.count() >= 2
    assert page.get_attribute("input[name=effective_date]", "max") == TODAY.isoformat()
    page.goto(f"{site.base}/participants/{site.fresh[page.width_name]}/sessions/new")
    page.check("input[name=setting][value='1']")
    page.check("input[name=modality][value='1']")
    page.click("button:has-text('Save session')")
    page.wait_for_load_state()
    correct = page.locator("a.button:has-text('Correct')").last
    correct.click()
    page.wait_for_load_state()
    assert page.locator("input[name=reason]").is_visible()
    shot(page, "b3-2-correct-session")
    page.check("input[name=modality][value='3']")
    page.fill("input[name=reason]", "It was a phone call")
    page.click("button:has-text('Save the correction')")
    page.wait_for_load_state()
    assert "Corrected" in page.inner_text(".flash")
    shot(page, "b3-3-corrected")
