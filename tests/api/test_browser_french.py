"""A French-speaking outreach worker on a phone (issue 14), in Debian's headless Chromium.

The worker's account is set to French; the phone's browser asks for English (a centre's
shared phone), so every French word on screen comes from the account's choice. They
enrol someone and are refused (rule enrol.under_18, a hard rule), enrol them once the age
is corrected, fill M0 with its branching (the treatment type is asked only of people on
opioid agonist treatment; the browser's own checks speak French too), and see the flag
a late M0 raises (rule visit.out_of_window, a soft rule): all in French, with no English
sentence in the refusal or the flag.
The questionnaire's texts are the study's French (``data_dictionary.fr.csv``), or, before
that file exists, the few lines of ``test_pages_french.TRANSLATION``.
Screenshots: ``test-artifacts/screenshots/14-french/`` (git-ignored).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from cohort.dictionary import use_dictionary
from cohort.messages import render
from cohort.models import Account, Deviation, Participant
from cohort.vocab import Timepoint
from forms import DataDictionary
from forms.loader import dictionary_paths, load_dictionary
from forms.translations import read_translations_text
from tests.api.browser_site import SHOTS, chromium_tab, demo_site, sign_in
from tests.api.test_browser_flows import answer
from tests.api.test_pages_french import TRANSLATION
from tests.conftest import TODAY
from tests.factories import questionnaire_answers

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FRENCH_SHOTS = SHOTS / "14-french"
PHONE_AGENT = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
               "(KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36")
#: Words of an English sentence; none of them is French.
ENGLISH = re.compile(r"\b(the|is|are|and|of|please|saved|refused|enrolment|needs?|"
                     r"review|outside|window|visit|will|nothing|from|you)\b", re.IGNORECASE)
#: An inclusion a month ago: M0 today is past its 14 days (a soft rule flags it).
INCLUDED = TODAY - timedelta(days=30)


@dataclass
class Site:
    base: str
    passwords: dict[str, str]
    engine: Any
    french: DataDictionary


def _speaks_french(session: Session) -> None:
    account = session.exec(select(Account).where(Account.username == "worker.c01")).one()
    account.language = "fr"
    session.add(account)
    session.commit()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    path, events = dictionary_paths()
    dictionary = load_dictionary(path, events=events if events.is_file() else None)
    if "fr" not in dictionary.translations:  # before the study's French questionnaire
        dictionary.translations["fr"] = read_translations_text(TRANSLATION, "fr")
    use_dictionary(dictionary)
    try:
        with demo_site(tmp_path_factory, "browser14fr", participants=10, seed=14,
                       prepare=_speaks_french) as served:
            yield Site(served.base, served.passwords, served.engine,
                       dictionary.in_language("fr"))
    finally:
        use_dictionary(None)


@pytest.fixture
def page(site: Site) -> Iterator[Any]:
    """A phone: Android Chrome's user agent, 412 px wide, touch; its browser in English."""
    FRENCH_SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium_tab(412, 915, user_agent=PHONE_AGENT, locale="en-GB") as tab:
        yield tab


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(FRENCH_SHOTS / f"{name}.png"), full_page=True)


def no_english(text: str) -> None:
    found = ENGLISH.findall(text)
    assert not found, f"English words {found} in: {text!r}"


def label(site: Site, name: str) -> str:
    return site.french.fields[name].plain_label


def test_a_french_speaking_worker_enrols_and_fills_m0_on_a_phone(page: Any,
                                                                  site: Site) -> None:
    page.goto(f"{site.base}/login")
    assert page.get_attribute("html", "lang") == "en"  # the phone asks for English
    sign_in(page, site, "worker.c01")
    assert page.url.endswith("/participants")
    assert page.get_attribute("html", "lang") == "fr"  # the account's choice wins
    nav = page.inner_text("header")
    assert "Mes participant·es" in nav and "Se déconnecter" in nav
    assert "Intervenant·e" in nav and "Sign out" not in nav
    assert "Participant·es de mon centre" in page.inner_text("h1")
    shot(page, "01-participants")

    # Enrolment, refused by a hard rule (under 18): the refusal in French.
    page.click("text=Inclure un·e participant·e")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "Inclure un·e participant·e"
    assert label(site, "age") in page.inner_text("#field-age label")
    assert label(site, "age") != "Age (years)"
    assert page.inner_text("#field-consent .choices") .split() == ["Oui", "Non"]
    enrolment = {"age": "17", "injected_past_month": "1", "wish_neck_groin": "0",
                 "consent": "1", "consent_date": INCLUDED.isoformat(),
                 "inclusion_date": INCLUDED.isoformat(), "year_of_birth": "2009",
                 "gender": "1", "reached_via": "1", "study_group": "1"}
    for name, value in enrolment.items():
        answer(page, name, value)
    page.click("button:has-text('Inclure')")
    page.wait_for_load_state()
    refusal = page.inner_text("#form-error")
    expected = render("enrol.under_18", {"age": 17, "min_age": 18}, "fr")
    assert refusal == expected and "18" in refusal
    assert expected != render("enrol.under_18", {"age": 17, "min_age": 18}, "en")
    no_english(refusal)
    no_english(page.inner_text("#field-age .error"))
    shot(page, "02-enrolment-refused")

    answer(page, "age", "31")
    answer(page, "year_of_birth", "1995")
    page.click("button:has-text('Inclure')")
    page.wait_for_load_state()
    code = page.inner_text("h1.code").strip()
    assert code.startswith("C01-")
    enrolled = page.inner_text(".flash")
    assert enrolled == (f"Enregistré : {code} est inclus·e. "
                        "Veuillez noter ce code sur sa carte.")
    card = page.inner_text("main")
    assert "groupe intervention" in card and f"inclus·e le {INCLUDED:%d/%m/%Y}" in card
    shot(page, "03-enrolled")

    # M0, with its branching: the treatment type only for people on treatment.
    page.click("text=Saisir M0")
    page.wait_for_load_state()
    assert page.inner_text("h1").startswith("Questionnaire M0")
    assert re.fullmatch(r"\d+ questions répondues sur \d+", page.inner_text("#form-progress"))
    oat_type = page.locator("#field-oat_type")
    assert label(site, "oat_type") in oat_type.inner_text()
    assert label(site, "oat_current") in page.inner_text("#field-oat_current legend")
    answer(page, "oat_current", "0")
    assert oat_type.is_hidden()
    shot(page, "04-m0-no-treatment")
    answer(page, "oat_current", "1")
    assert oat_type.is_visible()
    shot(page, "05-m0-treatment-type-asked")
    # The light checks in the browser speak French too (static/branching.js).
    page.click("button:has-text('Enregistrer M0')")
    assert page.inner_text("#field-inj_freq .error").strip() == "Veuillez choisir une réponse."
    assert "/questionnaires/M0" in page.url
    for name, value in questionnaire_answers(TODAY, Timepoint("M0")).items():
        answer(page, name, value)
    page.click("button:has-text('Enregistrer M0')")
    page.wait_for_url(f"**/participants/{code}")

    # Saved, with the flag of a soft rule (M0 past its window), in French.
    with Session(site.engine) as session:
        participant = session.exec(select(Participant).where(Participant.code == code)).one()
        flagged = session.exec(select(Deviation).where(
            Deviation.participant_id == participant.id)).one()
    assert flagged.rule_id == "visit.out_of_window"
    reason = render(flagged.message_id, flagged.message_params, "fr")
    assert reason != render(flagged.message_id, flagged.message_params, "en")
    flash = page.inner_text(".flash")
    assert flash.startswith(f"Enregistré : questionnaire M0 de {code}. À noter : ")
    assert reason in flash and "chargé·e de recherche" in flash
    no_english(flash)
    assert "(hors de sa fenêtre)" in page.inner_text("main")
    flags = page.inner_text("#participant-deviations")
    assert reason in flags
    no_english(flags)  # the rule's name and the review status too
    shot(page, "06-m0-saved-and-flagged")

    page.click("text=Mes participant·es")
    page.wait_for_load_state()
    listed = page.inner_text(f"#participant-list li:has-text('{code}')")
    assert "signalement à vérifier par un·e chargé·e de recherche" in listed
    shot(page, "07-list-with-the-flag")

    # The offline app on the same phone: its own words, its forms and dates in French.
    page.click("nav >> text=Hors ligne")
    page.wait_for_selector("#offline-app[data-ready='1']")
    page.wait_for_selector("#participant-list li")
    home = page.inner_text("#home")
    for words in ("En ligne", "Participant·es de mon centre (", "Envoyer maintenant",
                  "Rien en attente.", "Se déconnecter et vider ce téléphone",
                  "utilisable hors ligne jusqu’au"):
        assert words in home, words
    assert "Send now" not in home and "Waiting to send" not in home
    assert re.search(r"liste du \d\d/\d\d/\d{4}", home)  # the phone's own date, French way
    shot(page, "08-offline-app")
    page.click("#home button:has-text('Inclure un·e participant·e')")
    form = page.inner_text("#form-view")
    assert label(site, "age") in form and "Garder sur ce téléphone" in form
    shot(page, "09-offline-enrolment-form")
