"""The catalogues: every word the sources mark for translation has its French, the
placeholders match, and the languages are chosen as documented."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from cohort.messages import CATALOGUE, render
from forms import i18n
from forms.i18n.catalogues import DOMAINS, extract, missing


@pytest.mark.parametrize("domain", DOMAINS)
def test_french_catalogue_translates_every_message(domain: str) -> None:
    gaps = missing("fr", domain)
    assert not gaps, f"{len(gaps)} untranslated in {domain} (run `cohort i18n update`):\n" + (
        "\n".join(str(gap) for gap in gaps[:40]))


def test_every_catalogue_message_is_extracted_with_its_id_as_context() -> None:
    extracted = {(m.context, m.id) for m in extract("messages") if m.context}
    assert {(mid, text) for mid, text in CATALOGUE.items()} <= extracted


def test_a_catalogue_message_renders_in_the_readers_language() -> None:
    params = {"participant": "P-0001"}
    english = render("rule.group.crossing", params, "en")
    french = render("rule.group.crossing", params, "fr")
    assert english == CATALOGUE["rule.group.crossing"]
    assert french != english and french
    with i18n.use_language("fr"):
        assert render("rule.group.crossing", params) == french
    with i18n.use_language("en"):
        assert render("rule.group.crossing", params) == english


@pytest.mark.parametrize(("header", "expected"), [
    ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
    ("en-GB,en;q=0.9,fr;q=0.8", "en"),
    ("de-DE,fr;q=0.5,en;q=0.4", "fr"),
    ("en;q=0.2, fr;q=0.7", "fr"),
    ("de, it", None),
    ("fr;q=0", None),
    ("fr;q=abc", None),
    ("", None),
    ("x" * 5000, None),
    (",,,;;;=", None),
])
def test_accept_language_is_negotiated_and_hostile_headers_give_none(
        header: str, expected: str | None) -> None:
    assert i18n.negotiate(header) == expected


def test_default_language_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COHORT_DEFAULT_LANGUAGE", "fr_FR.UTF-8")
    assert i18n.current_language() == "fr"
    monkeypatch.setenv("COHORT_DEFAULT_LANGUAGE", "klingon")
    assert i18n.current_language() == "en"


def test_dates_and_numbers_the_french_way_and_iso_in_english() -> None:
    assert i18n.format_date(date(2026, 3, 31), "fr") == "31/03/2026"
    assert i18n.format_date(date(2026, 3, 31), "en") == "2026-03-31"
    assert i18n.format_datetime(datetime(2026, 3, 31, 14, 5), "fr") == "31/03/2026 14:05"
    assert i18n.format_decimal(1234.5, 1, "fr") == "1\u202f234,5"
    assert i18n.format_decimal(1234.5, 1, "en") == "1,234.5"
    assert i18n.format_percent(0.734, 0, "fr") == "73\u00a0%"
