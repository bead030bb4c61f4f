"""The offline app in real headless Chromium (Debian's), on a 390 px phone.

An outreach worker signs in once, then with no network (``set_offline``, and the service
worker's own fetches aborted) enrols someone, fills their M0 and logs a session; back
online the three entries are sent and each row exists once. A page killed mid-send is
reopened and sends the rest once. A refusal comes back on the "needs attention" list and is
corrected; a conflict shows both versions. Sign-out leaves no study data in IndexedDB, the
caches or local storage; an offline copy not refreshed for ``offline_days`` is wiped.
Screenshots go to ``test-artifacts/screenshots/offline-*.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from cohort.models import AerliSession, Participant, Questionnaire
from cohort.models_ops import SyncReceipt
from tests.api.browser_site import ARGS, CHROMIUM, SHOTS, demo_site
from tests.conftest import TODAY
from tests.factories import questionnaire_answers

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WORKER = "worker.c01"
ENROLMENT = {"age": "31", "injected_past_month": "1", "wish_neck_groin": "0",
             "consent": "1", "year_of_birth": "1995", "gender": "1", "reached_via": "1",
             "study_group": "1"}
SESSION = {"setting": "1", "modality": "1", "product": "1", "injection_site": "1",
           "risks": ["2"], "topics": ["1"]}


@dataclass
class Live:
    base: str
    passwords: dict[str, str]
    engine: Engine


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with demo_site(tmp_path_factory, "offline", participants=100, seed=1) as site:
        yield Live(site.base, site.passwords, site.engine)


@dataclass
class Phone:
    context: Any
    page: Any

    def new_page(self) -> Any:
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        return self.page


def _phone(browser: Any, **options: Any) -> Phone:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1,
                                  is_mobile=True, has_touch=True, **options)
    phone = Phone(context, None)
    phone.new_page()
    return phone


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # ``set_offline`` alone does not cut a service worker's own fetches: with this, the
    # context's routes see them too, and ``go_offline`` aborts them (see below).
    monkeypatch.setenv("PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS", "1")

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _no_network(route: Any) -> None:
    route.abort("internetdisconnected")


def go_offline(phone: Phone) -> None:
    """No network for the page and for its service worker (whose fetches ``set_offline``
    does not reach), so what opens comes from the phone's own copy."""
    phone.context.set_offline(True)
    phone.context.route("**/*", _no_network)
    phone.page.evaluate("window.dispatchEvent(new Event('offline'))")


def go_online(phone: Phone) -> None:
    phone.context.unroute("**/*", _no_network)
    phone.context.set_offline(False)


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"offline-{name}.png"), full_page=True)


def sign_in_offline_app(phone: Phone, live: Live) -> Any:
    page = phone.page
    page.goto(f"{live.base}/login?next=/offline/")
    page.fill("#username", WORKER)
    page.fill("#password", live.passwords[WORKER])
    page.click("button[type=submit]")
    page.wait_for_url("**/offline/")
    page.wait_for_selector("#offline-app[data-ready='1']")
    page.wait_for_selector("#participant-list li")
    return page


def answer(page: Any, name: str, value: Any) -> None:
    scope = "#offline-form"
    if isinstance(value, list):
        for code in value:
            page.check(f"{scope} input[name='{name}'][value='{code}']")
        return
    radio = page.locator(f"{scope} input[type=radio][name='{name}'][value='{value}']")
    if radio.count():
        radio.check()
        return
    field = page.locator(f"{scope} [name='{name}']").first
    if field.evaluate("e => e.tagName") == "SELECT":
        field.select_option(str(value))
    else:
        field.fill(str(value))


def fill_and_keep(page: Any, values: dict[str, Any]) -> None:
    until(page, "() => window.cohortBranching !== undefined")
    for name, value in values.items():
        answer(page, name, value)
    page.click("#offline-form button[type=submit]")
    page.wait_for_selector("#home:not([hidden])")


def until(page: Any, predicate: str, seconds: float = 20) -> None:
    """``wait_for_function`` without ``eval`` (the app's CSP forbids it): poll."""
    import time

    deadline = time.monotonic() + seconds
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {seconds} s: {predicate}")
        page.wait_for_timeout(100)


def waiting(page: Any) -> int:
    return int(page.locator("#waiting li.card").count())


def count(engine: Engine, model: Any, *where: Any) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def test_a_whole_visit_offline_then_online_saves_each_row_once(browser: Any,
                                                               live: Live) -> None:
    phone = _phone(browser)
    page = sign_in_offline_app(phone, live)
    until(page, "() => navigator.serviceWorker.controller !== null")
    participants_before = count(live.engine, Participant)
    shot(page, "01-online-list")

    go_offline(phone)
    page.reload()  # the shell from the service worker, the list from IndexedDB
    page.wait_for_selector("#offline-app[data-ready='1']")
    assert "Offline" in page.inner_text("#net")
    assert page.locator("#participant-list li[data-code]").count() > 1

    page.click("text=Enrol a participant")
    assert page.input_value("#offline-form input[name=inclusion_date]") == TODAY.isoformat()
    fill_and_keep(page, ENROLMENT)
    assert waiting(page) == 1
    new = page.locator("#participant-list li[data-after]")
    new.locator("button:has-text('M0')").click()
    oat_type = page.locator("#offline-form #field-oat_type")
    answer(page, "oat_current", "0")
    assert oat_type.is_hidden()  # branching evaluated in the browser, offline
    m0 = questionnaire_answers(TODAY)
    m0["years_injecting"] = "250"
    for name, value in m0.items():
        answer(page, name, value)
    page.click("#offline-form button[type=submit]")
    error = page.locator("#offline-form #field-years_injecting .error")
    assert error.is_visible() and error.inner_text().strip()
    shot(page, "02-offline-m0-inline-error")
    answer(page, "years_injecting", "8")
    page.click("#offline-form button[type=submit]")
    page.wait_for_selector("#home:not([hidden])")
    assert waiting(page) == 2
    new.locator("button:has-text('AERLI session')").click()
    assert "(you)" in page.inner_text("#field-staff")
    fill_and_keep(page, SESSION)
    assert waiting(page) == 3
    shot(page, "03-offline-three-waiting")
    assert count(live.engine, Participant) == participants_before

    go_online(phone)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    until(page, "() => document.querySelectorAll('#waiting li.card').length === 0")
    shot(page, "04-online-sent")
    page.evaluate("window.offlineApp.sendNow()")  # nothing left to send twice
    page.reload()
    page.wait_for_selector("#offline-app[data-ready='1']")
    assert count(live.engine, Participant) == participants_before + 1
    with Session(live.engine) as session:
        person = session.exec(select(Participant).order_by(Participant.id.desc())  # type: ignore[union-attr]
                              ).first()
        assert person is not None
        code = person.code
        assert count(live.engine, Questionnaire, Questionnaire.participant_id == person.id) == 1
        assert count(live.engine, AerliSession, AerliSession.participant_id == person.id) == 1
    assert code in page.inner_text("#participant-list")
    phone.context.close()


def test_a_page_killed_mid_send_sends_the_rest_once_when_reopened(browser: Any,
                                                                   live: Live) -> None:
    """The second entry reaches the server but its answer never reaches the phone (the
    page dies): reopened, the phone sends it again (kept once) and the third."""
    phone = _phone(browser, service_workers="block")
    page = sign_in_offline_app(phone, live)
    before = count(live.engine, Participant)
    receipts = count(live.engine, SyncReceipt)
    # No service worker here (so no Background Sync sending behind the test's back): the
    # network to the server fails while the three entries are made.
    page.route("**/offline/entries", lambda route: route.abort())
    for age in ("40", "41", "42"):
        page.click("text=Enrol a participant")
        fill_and_keep(page, {**ENROLMENT, "age": age})
    assert waiting(page) == 3
    assert count(live.engine, Participant) == before
    page.unroute("**/offline/entries")
    calls: list[str] = []

    def lose_the_second_answer(route: Any) -> None:
        calls.append(route.request.url)
        if len(calls) == 2:
            route.fetch()  # the server saves it...
            route.abort()  # ...and the phone never hears back
            return
        if len(calls) > 2:
            route.abort()
            return
        route.continue_()

    page.route("**/offline/entries", lose_the_second_answer)
    page.evaluate("window.offlineApp.sendNow()")
    until(page, "() => document.querySelectorAll('#waiting li.card').length === 2")
    assert count(live.engine, Participant) == before + 2
    page.close()

    page = phone.new_page()  # reopened: sends on load
    page.goto(f"{live.base}/offline/")
    page.wait_for_selector("#offline-app[data-ready='1']")
    until(page, "() => document.querySelectorAll('#waiting li.card').length === 0")
    assert count(live.engine, Participant) == before + 3
    assert count(live.engine, SyncReceipt) == receipts + 3
    phone.context.close()


def test_a_refusal_comes_back_to_be_corrected_and_sign_out_clears_the_phone(
        browser: Any, live: Live) -> None:
    phone = _phone(browser)
    page = sign_in_offline_app(phone, live)
    until(page, "() => navigator.serviceWorker.controller !== null")
    before = count(live.engine, Participant)
    go_offline(phone)
    page.click("text=Enrol a participant")
    fill_and_keep(page, {**ENROLMENT, "age": "17"})  # enrol.under_18
    go_online(phone)
    page.evaluate("window.offlineApp.sendNow()")
    card = page.locator("#attention li.card")
    card.wait_for()
    assert "18" in card.locator(".reason").inner_text()
    assert waiting(page) == 0
    shot(page, "05-needs-attention")
    assert count(live.engine, Participant) == before

    card.locator("button:has-text('Correct')").click()
    assert page.input_value("#offline-form input[name=age]") == "17"
    answer(page, "age", "19")
    page.click("#offline-form button[type=submit]")
    until(page, "() => document.querySelectorAll('#attention li.card').length === 0 && "
                           "document.querySelectorAll('#waiting li.card').length === 0")
    assert count(live.engine, Participant) == before + 1

    # One entry refused again stays: sign-out names it before discarding it.
    page.click("text=Enrol a participant")
    fill_and_keep(page, {**ENROLMENT, "age": "16"})
    page.locator("#attention li.card").wait_for()
    page.click("text=Sign out and clear this phone")
    warning = page.locator("#discard-warning")
    warning.wait_for()
    assert page.locator("#discard-list li").count() == 1
    assert "Enrolment" in page.inner_text("#discard-list")
    shot(page, "06-sign-out-warning")
    page.click("text=Discard it and sign out")
    page.wait_for_url("**/login")
    left = page.evaluate("""async () => {
        const dbs = indexedDB.databases ? await indexedDB.databases() : [];
        const keys = [];
        for (const name of await caches.keys()) {
            const cache = await caches.open(name);
            for (const r of await cache.keys()) { keys.push(new URL(r.url).pathname); }
        }
        return {dbs: dbs.map(d => d.name), cached: keys, local: localStorage.length,
                session: sessionStorage.length};
    }""")
    assert "outsider-offline" not in left["dbs"]
    # Only the app shell may be kept again (no participant list, no entries, no answers).
    assert all(path.startswith(("/static/", "/offline/")) and path != "/offline/data"
               for path in left["cached"]), left
    assert left["local"] == 0 and left["session"] == 0
    phone.context.close()


def test_the_offline_copy_is_wiped_after_offline_days_without_signing_in(
        browser: Any, live: Live) -> None:
    phone = _phone(browser)
    page = sign_in_offline_app(phone, live)
    until(page, "() => navigator.serviceWorker.controller !== null")
    page.evaluate("""async () => {
        const b = await OfflineQueue.getMeta('bundle');
        b.device_fetched -= (b.offline_days + 1) * 86400000;
        await OfflineQueue.setMeta('bundle', b);
    }""")
    go_offline(phone)
    page.reload()
    page.wait_for_selector("#offline-app[data-ready='1']")
    assert page.locator("#expired").is_visible()
    assert page.locator("#participant-list").count() == 0
    assert page.evaluate("OfflineQueue.getMeta('bundle')") is None
    shot(page, "07-expired")
    phone.context.close()


def test_someone_else_saved_the_same_m6_meanwhile_both_versions_are_shown(
        browser: Any, live: Live) -> None:
    """sync.conflict: the phone's M6 and the one saved meanwhile side by side; "Send mine
    as a correction" makes mine version 2 (theirs stays in the history)."""
    from datetime import timedelta

    from cohort.models import Account
    from cohort.services.context import actor_for
    from cohort.services.enrolment import EnrolmentCreate, enrol
    from cohort.services.questionnaires import save_questionnaire
    from cohort.vocab import Group, Timepoint

    included = TODAY - timedelta(days=182)
    with Session(live.engine, expire_on_commit=False) as session:
        account = session.exec(select(Account).where(Account.username == WORKER)).one()
        from cohort.models import Staff

        staff = session.get(Staff, account.staff_id)
        assert staff is not None
        actor = actor_for(session, staff)
        person = enrol(session, actor=actor, on=TODAY, data=EnrolmentCreate(
            age=30, injected_past_month=True, wish_neck_groin=False, consent=True,
            consent_date=included, inclusion_date=included, group=Group.INTERVENTION)).record
        save_questionnaire(session, actor=actor, code=person.code, timepoint=Timepoint("M0"),
                           answers=questionnaire_answers(included), on=TODAY)
    phone = _phone(browser)
    page = sign_in_offline_app(phone, live)
    until(page, "() => navigator.serviceWorker.controller !== null")
    go_offline(phone)
    page.locator(f"#participant-list li[data-code='{person.code}'] button:has-text('M6')").click()
    fill_and_keep(page, questionnaire_answers(TODAY, Timepoint("M6"), share_water="1"))
    with Session(live.engine, expire_on_commit=False) as session:
        save_questionnaire(session, actor=actor, code=person.code, timepoint=Timepoint("M6"),
                           answers=questionnaire_answers(TODAY, Timepoint("M6"), share_water="0"),
                           on=TODAY)
    go_online(phone)
    page.evaluate("window.offlineApp.sendNow()")
    card = page.locator("#attention li.card")
    card.wait_for()
    assert "Someone else saved" in card.locator(".reason").inner_text()
    diffs = card.locator(".conflict .diff")
    assert diffs.count() == 1  # only the answer that differs (computed fields follow)
    assert "water" in diffs.inner_text().lower()
    assert "Theirs: No" in diffs.inner_text() and "Yours: Yes" in diffs.inner_text()
    shot(page, "08-conflict")
    card.locator("button:has-text('Send mine as a correction')").click()
    until(page, "() => document.querySelectorAll('#attention li.card').length === 0 && "
                "document.querySelectorAll('#waiting li.card').length === 0")
    with Session(live.engine) as session:
        stored = session.exec(select(Questionnaire).where(
            Questionnaire.participant_id == person.id,
            Questionnaire.timepoint == Timepoint("M6"))).one()
        assert stored.version == 2 and stored.answers["share_water"] == "1"
    phone.context.close()


def test_signing_out_from_any_page_never_drops_unsent_entries_silently(
        browser: Any, live: Live) -> None:
    """The header's "Sign out" on the ordinary pages: with entries still on the phone it goes
    to the offline app's warning; with none, it clears the phone and signs out."""
    phone = _phone(browser)
    page = sign_in_offline_app(phone, live)
    # The server cannot be reached for sending (from the page or by Background Sync).
    phone.context.route("**/offline/entries", _no_network)
    page.click("text=Enrol a participant")
    fill_and_keep(page, ENROLMENT)
    assert waiting(page) == 1
    page.goto(f"{live.base}/participants")
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/offline/#signout")
    page.locator("#discard-warning").wait_for()
    assert page.locator("#discard-list li").count() == 1
    page.click("text=Keep it and stay signed in")
    assert waiting(page) == 1

    phone.context.unroute("**/offline/entries", _no_network)
    page.evaluate("window.offlineApp.sendNow()")
    until(page, "() => document.querySelectorAll('#waiting li.card').length === 0")
    page.goto(f"{live.base}/participants")
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/login")
    assert "outsider-offline" not in page.evaluate(
        "async () => (await indexedDB.databases()).map(d => d.name)")
    page.goto(f"{live.base}/participants")
    assert "/login" in page.url  # signed out on the server too
    phone.context.close()
