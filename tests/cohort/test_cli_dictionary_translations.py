"""``cohort dictionary check`` on translations, ``cohort dictionary translations`` and the
codebook in the reader's language.

Exit codes: ``check`` exits 1 on a translation error (unknown field, form or code, an
unreadable line, a lost piping reference) and 0 with warnings only (missing or stale
texts); ``translations`` only lists and writes, and exits 1 on a bad option.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from cohort.cli.dictionary import dictionary_app
from forms.loader import dictionary_paths
from tests.forms.helpers import csv_text, line

runner = CliRunner()
HEADER = "name,part,code,english,text\n"


@pytest.fixture()
def dd(tmp_path: Path) -> Path:
    path = tmp_path / "dd.csv"
    path.write_text(csv_text(line("age", "text", "Age", validation="integer"),
                             line("sex", "radio", "Sex", choices="1, Woman | 2, Man")))
    return path


def french(dd: Path, text: str) -> Path:
    path = dd.with_name("dd.fr.csv")
    path.write_text(HEADER + text, encoding="utf-8")
    return path


def test_check_reports_translation_errors_by_line_and_exits_1(dd: Path) -> None:
    french(dd, "age,label,,Age,Âge\nagee,label,,Age,Âge\nsex,choice,3,Other,Autre\n"
               "age,label,,Age,Âge encore\n")
    result = runner.invoke(dictionary_app, ["check", str(dd)])
    assert result.exit_code == 1, result.output
    assert "dd.csv: OK — 2 fields in 1 forms." in result.output
    assert "Translations fr (dd.fr.csv): 3 error(s)," in result.output
    assert "  line 3: error [unknown_field]: 'agee' is not a field" in result.output
    assert "  line 4: error [unknown_code]: field 'sex' has no choice code '3'" in result.output
    assert ("  line 5: error [unreadable]: second translation of the label of age (first on "
            "line 2)") in result.output
    assert "Traceback" not in result.output


def test_check_lists_missing_and_stale_texts_as_warnings_and_exits_0(dd: Path) -> None:
    french(dd, "age,label,,Age in years,Âge\nsex,choice,1,Woman,Femme\n")
    result = runner.invoke(dictionary_app, ["check", str(dd)])
    assert result.exit_code == 0, result.output
    assert "Translations fr (dd.fr.csv): 0 error(s), 4 warning(s)." in result.output
    assert "  line 2: warning [stale]: the label of age was translated from 'Age in years'" \
        in result.output
    assert ("  warning: 3 texts are not translated and are shown in English: form f, label "
            "of sex, choice 2 of sex; `cohort dictionary translations --lang fr` lists them."
            ) in result.output


def test_check_with_no_translations_and_the_studys_own(dd: Path) -> None:
    result = runner.invoke(dictionary_app, ["check", str(dd)])
    assert result.exit_code == 0
    assert "Translations: none (the questionnaire is in English only)." in result.output
    path, _ = dictionary_paths()
    result = runner.invoke(dictionary_app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "Translations fr (data_dictionary.fr.csv): OK, every text is translated." \
        in result.output


def test_check_an_unreadable_translation_file(dd: Path) -> None:
    dd.with_name("dd.fr.csv").write_bytes(b"name,part,code,english,text\n\xff\xfe,label\n")
    result = runner.invoke(dictionary_app, ["check", str(dd)])
    assert result.exit_code == 1
    assert "error [unreadable]: not UTF-8 text" in result.output
    dd.with_name("dd.fr.csv").write_text("nom,partie,code,anglais,texte\n", encoding="utf-8")
    result = runner.invoke(dictionary_app, ["check", str(dd)])
    assert result.exit_code == 1
    assert "line 1: error [unreadable]: missing columns: name, part, english, text" \
        in result.output


def test_check_speaks_french_to_a_french_reader(dd: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COHORT_DEFAULT_LANGUAGE", "fr")
    french(dd, "agee,label,,Age,Âge\n")
    result = runner.invoke(dictionary_app, ["check", str(dd)])
    assert result.exit_code == 1
    assert "dd.csv : OK — 2 champs dans 1 formulaires." in result.output
    assert "Traductions fr (dd.fr.csv) : 1 erreur(s)" in result.output
    assert "ligne 2 : erreur [unknown_field]" in result.output


def test_translations_lists_what_is_left(dd: Path) -> None:
    french(dd, "age,label,,Age in years,Âge\nsex,choice,1,Woman,Femme\n")
    result = runner.invoke(dictionary_app, ["translations", "--lang", "fr",
                                            "--dictionary", str(dd)])
    assert result.exit_code == 0, result.output
    assert "fr: 4 of 5 texts left to translate (dd.fr.csv):" in result.output
    assert "  f,form,: F\n" in result.output
    assert "  age,label,: Age (translated from older English)\n" in result.output
    assert "  sex,choice,2: Man\n" in result.output
    assert "sex,choice,1" not in result.output


def test_translations_of_the_study_are_complete() -> None:
    result = runner.invoke(dictionary_app, ["translations", "--lang", "fr"])
    assert result.exit_code == 0, result.output
    assert "fr: every one of the 244 texts is translated (data_dictionary.fr.csv)." \
        in result.output


def test_a_template_for_a_new_language(dd: Path, tmp_path: Path) -> None:
    result = runner.invoke(dictionary_app, ["translations", "--lang", "de",
                                            "--dictionary", str(dd)])
    assert result.exit_code == 0
    assert "de: no translations yet" in result.output and "--template" in result.output
    out = tmp_path / "template.csv"
    result = runner.invoke(dictionary_app, ["translations", "--lang", "de", "--dictionary",
                                            str(dd), "--template", str(out)])
    assert result.exit_code == 0, result.output
    assert "5 texts, 5 to translate; save it as dd.de.csv" in result.output
    assert out.read_text(encoding="utf-8").splitlines() == [
        "name,part,code,english,text", "f,form,,F,", "age,label,,Age,", "sex,label,,Sex,",
        "sex,choice,1,Woman,", "sex,choice,2,Man,"]


@pytest.mark.parametrize(("args", "message"), [
    (["--lang", "en"], "English is the dictionary's own language"),
    (["--lang", "../x"], "is not a language code"),
    (["--lang", "fr", "--format", "pdf"], "unknown format 'pdf'; use mlm or xlsform"),
    (["--lang", "fr", "--format", "xlsform"], "give the file to write with --output"),
])
def test_translations_refuses_bad_options(args: list[str], message: str) -> None:
    result = runner.invoke(dictionary_app, ["translations", *args])
    assert result.exit_code == 1
    assert message in result.output


def test_exports_parse_back(tmp_path: Path) -> None:
    result = runner.invoke(dictionary_app, ["translations", "--lang", "fr", "--format", "mlm"])
    assert result.exit_code == 0, result.output
    mlm = json.loads(result.output)
    assert mlm["creator"] == "REDCap MLM" and mlm["key"] == "fr"
    assert {f["id"] for f in mlm["fieldTranslations"]} >= {"age", "products", "fu_status"}
    out = tmp_path / "outsider.xlsx"
    result = runner.invoke(dictionary_app, ["translations", "--lang", "fr", "--format",
                                            "xlsform", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"Wrote {out} (xlsform, fr)." in result.output
    book = load_workbook(io.BytesIO(out.read_bytes()))
    header = next(book["survey"].iter_rows(values_only=True))
    assert "label::French (fr)" in header and "hint::French (fr)" in header


def test_the_codebook_in_french_and_in_english() -> None:
    result = runner.invoke(dictionary_app, ["codebook", "--lang", "fr"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Livre de codes")
    assert "| `consent` | La personne a-t-elle donné son consentement éclairé" in result.output
    result = runner.invoke(dictionary_app, ["codebook", "--lang", "fr", "--format", "csv"])
    assert result.output.startswith("variable,form,section,field_type")
    assert "Entrée dans l'étude" not in result.output  # form names, not labels, in the CSV
    result = runner.invoke(dictionary_app, ["codebook"])
    assert result.output.startswith("# Codebook") and "Age (years)" in result.output


def test_check_says_a_language_the_system_does_not_speak_is_not_read(dd: Path) -> None:
    dd.with_name("dd.de.csv").write_text(HEADER + "age,label,,Age,Alter\n", encoding="utf-8")
    result = runner.invoke(dictionary_app, ["check", str(dd)])
    assert result.exit_code == 0
    assert "dd.de.csv is not read: de is not one of the system's languages (en, fr)" \
        in result.output
    result = runner.invoke(dictionary_app, ["translations", "--lang", "de", "--dictionary",
                                            str(dd)])
    assert "de: 4 of 5 texts left to translate (dd.de.csv):" in result.output
