"""Person-first, non-judgemental French: words the system never uses (issue 14).

The French twin of ``tests/forms/test_study_dictionary.py::test_language_is_person_first``:
every translation of every French catalogue (``msgstr``) and every French text of the
study dictionary (``data_dictionary.fr.csv``) is checked against a list of words that
label people by their drug use or call injecting equipment clean or dirty. Say
« personne qui s'injecte des drogues », « consommation », matériel « stérile » / « usagé ».
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from forms.i18n import LOCALES

ROOT = Path(__file__).resolve().parents[2]
FRENCH = LOCALES / "fr" / "LC_MESSAGES"
DICTIONARY_FR = ROOT / "data_dictionary.fr.csv"

_EQUIPMENT = (r"(?:seringues?|aiguilles?|matériels?|kits?|cuill[eè]res?|cups?|filtres?|pipes?"
              r"|stérifix|stéricups?|garrots?|tampons?|pailles?)")
#: Up to three words between the equipment and the adjective ("matériel d'injection propre").
_BETWEEN = r"\s+(?:[\w'’-]+\s+){0,3}"
#: (why, pattern): matched case-insensitively on whole words.
BANNED: list[tuple[str, str]] = [
    ("an identity, not a person", r"toxicomanes?|toxicomanie"),
    ("an identity, not a person", r"drogu(?:é|ée|és|ées)"),
    ("stigmatising slang", r"junkies?|cam[ée]e?s?|tox|défonce|défoncée?s?|accros?"),
    ("judgemental", r"abus|abuseurs?|abuseuses?|abusi(?:f|ve|fs|ves)"),
    ("an identity, not a person", r"addicts?|addiction|addicte?s?"),
    ("an identity: say « personne qui consomme »", r"usag[eè]re?s? de drogues?"),
    ("equipment is « stérile », never « propre »", _EQUIPMENT + _BETWEEN + r"propres?"),
    ("equipment is « stérile », never « propre »", r"propres?\s+" + _EQUIPMENT),
    ("equipment is « usagé », never « sale »", _EQUIPMENT + _BETWEEN + r"sales?"),
    ("« sale » judges: say « usagé »", r"sales?"),
]
_COMPILED = [(why, re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])", re.I))
             for why, pattern in BANNED]


def offending(text: str) -> list[str]:
    """Each banned word found in ``text``, with why it is banned."""
    return [f"{match.group(0)!r} ({why})" for why, pattern in _COMPILED
            for match in pattern.finditer(text)]


def _catalogue_texts() -> list[tuple[str, str]]:
    texts: list[tuple[str, str]] = []
    for po in sorted(FRENCH.glob("*.po")):
        with po.open("rb") as handle:
            catalog = read_po(handle, locale="fr")
        for message in catalog:
            strings = message.string if isinstance(message.string, tuple) else (
                message.string,)
            msgid = message.id if isinstance(message.id, str) else message.id[0]
            texts += [(f"{po.name} {message.context or ''} {msgid[:50]!r}", s)
                      for s in strings if isinstance(s, str) and s]
    return texts


def _dictionary_texts() -> list[tuple[str, str]]:
    if not DICTIONARY_FR.exists():
        return []
    with DICTIONARY_FR.open(encoding="utf-8", newline="") as handle:
        return [(f"{DICTIONARY_FR.name} {row.get('name')} {row.get('part')} "
                 f"{row.get('code') or ''}", row.get("text") or "")
                for row in csv.DictReader(handle)]


def test_the_french_catalogues_exist_and_are_read() -> None:
    assert len(_catalogue_texts()) > 200


@pytest.mark.parametrize("source", ["catalogues", "dictionary"])
def test_french_words_are_person_first(source: str) -> None:
    texts = _catalogue_texts() if source == "catalogues" else _dictionary_texts()
    if source == "dictionary" and not texts:
        pytest.skip("no data_dictionary.fr.csv yet")
    found = [f"{where}: {', '.join(bad)}" for where, text in texts
             if (bad := offending(text))]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("text", [
    "Un toxicomane de 30 ans", "les drogués", "une droguée", "Junkie", "il est camé",
    "la défonce", "abus de substances", "un abuseur", "addict", "accro",
    "des seringues propres", "du matériel propre", "matériel sale", "seringue sale",
    "une seringue très sale", "c'est sale", "des sales habitudes", "Seringues Propres",
    "usager de drogues", "usagères de drogue", "du matériel d'injection propre",
    "des seringues neuves et propres", "un kit d'injection sale",
])
def test_the_list_finds_what_it_bans(text: str) -> None:
    assert offending(text), text


@pytest.mark.parametrize("text", [
    "personne qui s'injecte des drogues", "matériel stérile", "matériel usagé",
    "seringue usagée", "ses propres centres", "votre propre compte", "salle de consommation",
    "Salles de consommation à moindre risque", "consommation", "participant·e",
    "les salariés", "abstinence",
])
def test_the_list_lets_person_first_french_pass(text: str) -> None:
    assert offending(text) == [], text
