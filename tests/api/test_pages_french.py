"""The field pages in French (issue 14): who reads which language, and what they read.

The reader's language is the account's choice (account page, kept in the page session),
else the browser's ``Accept-Language``; ``<html lang>`` and ``Content-Language`` say which.
Words of the pages come from the ``pages`` catalogue; the questionnaire's texts from the
dictionary's translation (``DataDictionary.in_language``), here a few lines written in
the test so that it does not depend on the study's French file; codes never change.
English pages stay as they were.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from cohort.dictionary import use_dictionary
from cohort.models import Account, AuditEntry
from forms import DataDictionary
from forms.loader import dictionary_paths, load_dictionary
from forms.translations import read_translations_text
from tests.api.conftest import World
from tests.api.test_api_pages import csrf, sign_in

FR = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}

#: A few of the questionnaire's texts in French, keyed by field and code.
TRANSLATION = "\n".join((
    "name,part,code,english,text",
    "enrolment,form,,Enrolment,Inclusion",
    "age,label,,Age (years),Âge (années)",
    "study_group,label,,Study group,Groupe de l'étude",
    "study_group,choice,1,Intervention (AERLI sessions),Intervention (séances AERLI)",
    "study_group,choice,2,Comparison (questionnaires only),"
    "Comparaison (questionnaires seulement)",
    "oat_current,label,,Is the participant currently receiving opioid agonist treatment "
    "(OAT)?,La personne suit-elle actuellement un traitement agoniste opioïde (TAO) ?",
    "oat_type,label,,Which opioid agonist treatment?,Quel traitement agoniste opioïde ?",
))


@pytest.fixture
def french_dictionary() -> Iterator[DataDictionary]:
    """The study's dictionary with the small French translation above."""
    path, events = dictionary_paths()
    dictionary = load_dictionary(path, events=events if events.is_file() else None)
    dictionary.translations["fr"] = read_translations_text(TRANSLATION, "fr")
    use_dictionary(dictionary)
    try:
        yield dictionary
    finally:
        use_dictionary(None)


def lang_of(html: str) -> str:
    match = re.search(r'<html lang="([a-z]+)">', html)
    assert match, "page has no <html lang>"
    return match.group(1)


def set_account_language(session: Session, username: str, language: str | None) -> None:
    account = session.exec(select(Account).where(Account.username == username)).one()
    account.language = language
    session.add(account)
    session.commit()


def test_the_sign_in_page_follows_the_browser(client: TestClient) -> None:
    french = client.get("/login", headers=FR)
    assert lang_of(french.text) == "fr" and french.headers["content-language"] == "fr"
    assert "Se connecter" in french.text and "Mot de passe" in french.text
    assert "Sign in" not in french.text
    english = client.get("/login", headers=EN)
    assert lang_of(english.text) == "en" and english.headers["content-language"] == "en"
    assert "<h1>Sign in</h1>" in english.text and "Username" in english.text
    wrong = client.post("/login", headers=FR, data={
        "username": "nobody", "password": "x", "csrf_token": csrf(french.text)})
    assert wrong.status_code == 401 and "ne correspondent à aucun compte actif" in wrong.text


def test_the_worker_pages_in_french(client: TestClient, world: World,
                                    french_dictionary: DataDictionary) -> None:
    assert world.pa is not None
    client.headers.update(FR)
    sign_in(client, "worker.a")
    home = client.get("/participants")
    assert lang_of(home.text) == "fr"
    for words in ("Mes participant·es", "Inclure un·e participant·e", "Se déconnecter",
                  "Intervenant·e", "Participant·es de mon centre", "Hors ligne"):
        assert words in home.text, words
    assert "My participants" not in home.text and "Sign out" not in home.text
    card = client.get(f"/participants/{world.pa.code}")
    assert "groupe intervention" in card.text and "Questionnaires" in card.text
    assert "Séances AERLI" in card.text and "Signalé pour vérification" in card.text
    assert world.pa.inclusion_date.strftime("%d/%m/%Y") in card.text  # dates the French way

    enrol = client.get("/participants/new")
    assert "Âge (années)" in enrol.text and "Intervention (séances AERLI)" in enrol.text
    # Yes/No of yesno fields from the catalogue; codes and names unchanged.
    assert re.search(r'name="consent" value="1"[^>]*>\s*<span>Oui</span>', enrol.text, re.S)
    assert 'name="study_group" value="1"' in enrol.text and 'data-field="age"' in enrol.text
    assert "Age (years)" not in enrol.text

    m0 = client.get(f"/participants/{world.pa.code}/questionnaires/M0")
    assert "Quel traitement agoniste opioïde ?" in m0.text
    assert "La personne suit-elle actuellement" in m0.text
    assert "Enregistrer M0" in m0.text and 'data-field="oat_type"' in m0.text
    # The branching logic is the same (names and codes), whatever the language.
    assert 'data-branching="' in m0.text


def test_a_refused_enrolment_and_a_saved_one_in_french(client: TestClient, world: World,
                                                       french_dictionary: DataDictionary
                                                       ) -> None:
    client.headers.update(FR)
    sign_in(client, "worker.a")
    form = client.get("/participants/new")
    base = {"csrf_token": csrf(form.text), "age": "17", "injected_past_month": "1",
            "wish_neck_groin": "0", "consent": "1", "consent_date": "2026-11-20",
            "inclusion_date": "2026-11-20", "year_of_birth": "2009", "gender": "1",
            "reached_via": "1", "study_group": "1"}
    refused = client.post("/participants/new", data=base)
    assert refused.status_code == 422 and lang_of(refused.text) == "fr"
    assert "Âge (années)" in refused.text and 'id="form-error"' in refused.text
    ok = client.post("/participants/new", data={**base, "age": "30", "year_of_birth": "1996"},
                     follow_redirects=False)
    assert ok.status_code == 303
    code = ok.headers["location"].rsplit("/", 1)[1]
    page = client.get(ok.headers["location"]).text
    assert f"Enregistré : {code} est inclus·e. Veuillez noter ce code sur sa carte." in page
    history = client.get(f"/participants/{code}/history").text
    assert "Participant·e créé·e" in history and "Historique" in history


def test_the_account_choice_beats_the_browser(client: TestClient, world: World,
                                              session: Session) -> None:
    set_account_language(session, "worker.a", "fr")
    client.headers.update(EN)
    sign_in(client, "worker.a")  # sign-in copies the account's choice into the session
    page = client.get("/participants")
    assert lang_of(page.text) == "fr" and page.headers["content-language"] == "fr"
    assert "Mes participant·es" in page.text


def test_choosing_a_language_on_the_account_page(client: TestClient, world: World,
                                                 session: Session) -> None:
    client.headers.update(EN)
    sign_in(client, "worker.a")
    account_page = client.get("/account")
    assert account_page.status_code == 200 and "Language of the pages" in account_page.text
    assert 'href="/account"' in client.get("/participants").text  # from the header
    forged = client.post("/account/language", data={"language": "fr"})
    assert forged.status_code == 403
    bad = client.post("/account/language",
                      data={"language": "xx", "csrf_token": csrf(account_page.text)})
    assert bad.status_code == 422 and "Please choose a language" in bad.text

    chosen = client.post("/account/language", follow_redirects=False,
                         data={"language": "fr", "csrf_token": csrf(account_page.text)})
    assert chosen.status_code == 303 and chosen.headers["location"] == "/account"
    after = client.get("/account")
    assert lang_of(after.text) == "fr" and "Votre langue est enregistrée." in after.text
    assert re.search(r'value="fr" checked', after.text)
    session.expire_all()
    account = session.exec(select(Account).where(Account.username == "worker.a")).one()
    assert account.language == "fr"
    audit = session.exec(select(AuditEntry).where(AuditEntry.table_name == "account",
                                                  AuditEntry.record_id == account.id,
                                                  AuditEntry.field == "language")).one()
    assert (audit.old_value, audit.new_value) == (None, "fr")
    assert audit.actor_id == world.users["worker_a"].staff.id

    # "As my browser asks": the browser's language again.
    back = client.post("/account/language", follow_redirects=False,
                       data={"language": "", "csrf_token": csrf(after.text)})
    assert back.status_code == 303
    assert lang_of(client.get("/participants").text) == "en"
    assert lang_of(client.get("/participants", headers=FR).text) == "fr"
    session.expire_all()
    assert session.get(Account, account.id).language is None  # type: ignore[union-attr]


def test_every_role_reaches_the_account_page(client: TestClient, world: World) -> None:
    for username in ("officer", "stat", "admin"):
        client.cookies.clear()
        sign_in(client, username)
        page = client.get("/account")
        assert page.status_code == 200 and 'id="language-form"' in page.text
        assert 'href="/account"' in page.text


def test_english_pages_are_unchanged(client: TestClient, world: World) -> None:
    assert world.pa is not None
    sign_in(client, "worker.a")
    home = client.get("/participants").text
    assert lang_of(home) == "en"
    for words in ("My participants", "Enrol a participant", "Sign out",
                  "My centre's participants", "Outreach worker"):
        assert words in home, words
    card = client.get(f"/participants/{world.pa.code}").text
    assert f"intervention group · included {world.pa.inclusion_date.isoformat()}" in card
    enrol = client.get("/participants/new").text
    assert "Age (years)" in enrol and "<span>Yes</span>" in enrol


def test_the_offline_app_speaks_french(client: TestClient, world: World,
                                       french_dictionary: DataDictionary) -> None:
    shell = client.get("/offline/", headers=FR).text
    assert lang_of(shell) == "fr" and "Saisie hors ligne" in shell
    words = re.search(r'<script type="application/json" id="page-words">(.*?)</script>',
                      shell, re.S)
    assert words is not None
    table = json.loads(words.group(1))
    assert table["lang"] == "fr" and table["Send now"] == "Envoyer maintenant"
    assert table["Keep on this phone"] == "Garder sur ce téléphone"
    english = json.loads(re.search(  # type: ignore[union-attr]
        r'id="page-words">(.*?)</script>', client.get("/offline/", headers=EN).text,
        re.S).group(1))
    assert english["Send now"] == "Send now" and english["lang"] == "en"
    client.headers.update(FR)
    sign_in(client, "worker.a")
    bundle = client.get("/offline/data").json()
    assert "Quel traitement agoniste opioïde ?" in bundle["forms"]["M0"]["html"]
    assert "Âge (années)" in bundle["forms"]["enrolment"]["html"]
    manifest = client.get("/offline/manifest.webmanifest").json()
    assert manifest["name"] == "OUTSIDER saisie hors ligne" and manifest["lang"] == "fr"


def test_every_word_of_the_scripts_is_in_the_catalogue() -> None:
    """Each ``t("...")`` of static/offline/app.js is listed in ``OFFLINE_WORDS`` (what the
    shell translates), and those of the pages' scripts in ``SCRIPT_WORDS``."""
    from pathlib import Path

    from api.pages.common import SCRIPT_WORDS
    from api.pages.offline import OFFLINE_WORDS

    static = Path(__file__).resolve().parents[2] / "api" / "static"

    def words(name: str) -> set[str]:
        source = (static / name).read_text(encoding="utf-8")
        return {json.loads(f'"{text}"') for text in re.findall(r'\bt\("([^"]*)"', source)}

    assert words("offline/app.js") - set(OFFLINE_WORDS) == set()
    for name in ("drafts.js", "branching.js", "session.js", "sections.js"):
        assert words(name) and words(name) - set(SCRIPT_WORDS) == set(), name


def test_a_person_sets_only_their_own_language_unless_data_manager(
        session: Session, world: World) -> None:
    """``account_admin.set_language``: one's own account (rule scope.role otherwise), data
    managers anyone's; only languages the system speaks."""
    from cohort.errors import ActionNotAllowed
    from cohort.services.account_admin import set_language
    from cohort.services.context import actor_for

    def account_id(username: str) -> int:
        found = session.exec(select(Account.id).where(Account.username == username)).one()
        assert found is not None
        return found

    worker = actor_for(session, world.users["worker_a"].staff)
    admin = actor_for(session, world.users["admin"].staff)
    assert set_language(session, actor=worker, account_id=account_id("worker.a"),
                        language="fr").language == "fr"
    with pytest.raises(ActionNotAllowed):
        set_language(session, actor=worker, account_id=account_id("worker.b"), language="fr")
    session.rollback()
    assert set_language(session, actor=admin, account_id=account_id("worker.b"),
                        language="en").language == "en"
    with pytest.raises(ValueError, match="unknown language"):
        set_language(session, actor=admin, account_id=account_id("worker.b"), language="xx")
