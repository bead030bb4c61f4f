"""The command line speaks the reader's language (issue 14): ``--lang``, else ``LC_ALL``,
``LC_MESSAGES`` or ``LANG``, else ``COHORT_DEFAULT_LANGUAGE``, else English. Rule ids,
severities and options never change; the words do."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cohort.cli.common import command_language
from cohort.cli.main import app
from cohort.messages import CATALOGUE, render
from forms import i18n

runner = CliRunner()
#: No language from the environment: each test says the one it wants.
QUIET = {"LC_ALL": None, "LC_MESSAGES": None, "LANG": "C.UTF-8",
         "COHORT_DEFAULT_LANGUAGE": None}


def _run(args: list[str], **env: str | None) -> tuple[int, str, str]:
    result = runner.invoke(app, args, env=QUIET | env)
    return result.exit_code, result.stdout, result.stderr


def _french_rules(out: str) -> None:
    assert "enrol.under_18" in out and "session.trained_staff" in out  # ids unchanged
    assert render("rule.enrol.under_18", lang="fr") in out
    assert "Inclusion refusée : moins de 18 ans." in out
    assert CATALOGUE["rule.enrol.under_18"] not in out


@pytest.mark.parametrize("how", ["option", "LANG", "LC_MESSAGES", "default"])
def test_cohort_rules_in_french(how: str) -> None:
    """rule.* summaries in French; --lang, LANG=fr_FR.UTF-8, LC_MESSAGES or the default."""
    if how == "option":
        code, out, _ = _run(["--lang", "fr", "rules"])
    elif how == "default":
        code, out, _ = _run(["rules"], COHORT_DEFAULT_LANGUAGE="fr")
    else:
        code, out, _ = _run(["rules"], **{how: "fr_FR.UTF-8"})
    assert code == 0
    _french_rules(out)
    assert i18n.current_language() == "en"  # the command's language does not leak


def test_cohort_rules_in_english_otherwise() -> None:
    code, out, _ = _run(["rules"])
    assert code == 0
    assert CATALOGUE["rule.enrol.under_18"] in out
    code, out, _ = _run(["--lang", "en", "rules"], LANG="fr_FR.UTF-8")  # the option wins
    assert CATALOGUE["rule.enrol.under_18"] in out


def test_the_json_listing_keeps_ids_and_keys() -> None:
    import json

    code, out, _ = _run(["--lang", "fr", "rules", "--json"])
    rows = json.loads(out)
    assert code == 0 and {"id", "severity", "applies_to", "message"} <= set(rows[0])
    assert rows[0]["id"] == "enrol.under_18" and rows[0]["severity"] == "hard"


@pytest.mark.parametrize(("args", "env"), [
    (["--lang", "fr", "deviations", "--rule", "no.such.rule"], {}),
    (["deviations", "--rule", "no.such.rule"], {"LANG": "fr_FR.UTF-8"}),
])
def test_a_refused_command_in_french(args: list[str], env: dict[str, str]) -> None:
    code, _, err = _run(args, **env)
    assert code == 1
    assert err.strip() == ("Erreur : règle inconnue « no.such.rule » ; `cohort rules` les "
                           "liste.")


def test_a_refused_command_in_english_otherwise() -> None:
    code, _, err = _run(["deviations", "--rule", "no.such.rule"], LANG="de_DE.UTF-8")
    assert code == 1
    assert err.strip() == "Error: unknown rule 'no.such.rule'; `cohort rules` lists them."


def test_a_bad_workbook_kind_is_refused_in_french(tmp_path: Path) -> None:
    code, _, err = _run(["--lang", "fr", "template", "-o", str(tmp_path / "t.xlsx"),
                         "--centre", "C01", "--kind", "cahier"])
    assert code == 1
    assert err.strip() == ("Erreur : « cahier » n'est pas un type de classeur ; utilisez "
                           "questionnaire, enrolment ou session.")
    assert not (tmp_path / "t.xlsx").exists()


def test_a_language_we_do_not_speak_is_refused() -> None:
    code, _, err = _run(["--lang", "klingon", "rules"])
    assert code == 2 and "klingon" in err


@pytest.mark.parametrize(("option", "env", "expected"), [
    ("fr", {"LANG": "en_GB.UTF-8"}, "fr"),
    ("FR_ca", {}, "fr"),
    (None, {"LC_ALL": "fr_FR.UTF-8", "LANG": "en_US.UTF-8"}, "fr"),
    (None, {"LC_ALL": "C", "LANG": "fr_FR.UTF-8"}, "fr"),
    (None, {"LC_MESSAGES": "en_US.UTF-8", "LANG": "fr_FR.UTF-8"}, "en"),
    (None, {"LANG": "de_DE.UTF-8", "COHORT_DEFAULT_LANGUAGE": "fr"}, "fr"),
    (None, {"LANG": "C.UTF-8"}, "en"),
])
def test_which_language_a_command_speaks(option: str | None, env: dict[str, str],
                                         expected: str, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    monkeypatch.delenv("COHORT_DEFAULT_LANGUAGE", raising=False)
    if "COHORT_DEFAULT_LANGUAGE" in env:
        monkeypatch.setenv("COHORT_DEFAULT_LANGUAGE", env["COHORT_DEFAULT_LANGUAGE"])
    assert command_language(option, env) == expected


def test_i18n_check_passes_for_the_translated_domains() -> None:
    code, out, _ = _run(["--lang", "fr", "i18n", "check", "--domain", "messages",
                         "--domain", "cli"])
    assert code == 0, out
    assert "Tous les messages sont traduits." in out
