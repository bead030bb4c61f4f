"""The problems of a data dictionary speak the data manager's language (issue 14).

Codes, variable names, field types and REDCap's column names stay as they are; the
sentences around them are French under ``use_language("fr")`` and unchanged in English.
"""

from __future__ import annotations

import pytest

from forms import load_dictionary_text
from forms.errors import DictionaryError
from forms.i18n import use_language
from tests.forms.helpers import csv_text, line

BROKEN = csv_text(
    line("age", "text", "Age", validation="integer"),
    line("mood", "smiley", "Mood"),
    line("drug", "text", "Drug", branching="[nowhere] = '1'"),
    line("age", "text", "Age again"),
    line("route", "radio", "Route", choices="1, Injected | 1, Smoked"),
    line("bad_logic", "text", "Bad", branching="[age] = = 1"),
)


def _problems(lang: str) -> DictionaryError:
    with use_language(lang), pytest.raises(DictionaryError) as caught:
        load_dictionary_text(BROKEN)
    return caught.value


def test_problems_are_french_under_french() -> None:
    error = _problems("fr")
    by_code = {p.code: p.message for p in error.problems}
    assert by_code["unknown_field_type"].startswith(
        "« smiley » n'est pas un type de champ ; utilisez l'un de ceux-ci : ")
    assert by_code["unknown_reference"] == (
        "la logique de branchement nomme [nowhere], qui n'est pas une variable de ce "
        "dictionnaire.")
    assert by_code["duplicate_name"] == (
        "la variable « age » est déjà définie à la ligne 2 ; les noms doivent être uniques.")
    assert by_code["duplicate_choice"] == "le code de choix « 1 » est utilisé deux fois."
    assert by_code["bad_expression"].startswith("impossible de lire la logique de branchement")
    assert "REDCap le refuse aussi" in by_code["bad_expression"]
    with use_language("fr"):  # messages are worded when found, the list when it is shown
        report = error.report()
    assert report.startswith("Le dictionnaire de données a 5 problèmes :")
    assert "ligne 3, colonne « Field Type » : « smiley »" in report
    # codes, names and REDCap's column names are never translated
    assert {p.column for p in error.problems} >= {"Field Type", "Variable / Field Name"}


def test_problems_are_unchanged_in_english() -> None:
    error = _problems("en")
    by_code = {p.code: p.message for p in error.problems}
    assert by_code["unknown_field_type"].startswith("'smiley' is not a field type; use one of ")
    assert by_code["unknown_reference"] == (
        "the branching logic names [nowhere], which is not a variable of this dictionary.")
    assert by_code["duplicate_name"] == (
        "variable 'age' is already defined on line 2; names must be unique.")
    assert by_code["duplicate_choice"] == "choice code '1' is used twice."
    assert by_code["bad_expression"].startswith("the branching logic does not parse: ")
    assert by_code["bad_expression"].endswith("REDCap refuses it too).")
    with use_language("en"):
        report = error.report()
    assert report.startswith("The data dictionary has 5 problems:")
    assert "line 3, column 'Field Type': 'smiley' is not a field type" in report


def test_french_problems_keep_every_code() -> None:
    assert [p.code for p in _problems("fr").problems] == [
        p.code for p in _problems("en").problems]
