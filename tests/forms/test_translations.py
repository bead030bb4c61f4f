"""The questionnaire in other languages (``forms.translations``): the study's French, the
copy ``in_language`` gives, the check's rules, the template and the exports.

Rules of the check, by the name each problem carries: ``unreadable`` (a line or a whole
file that cannot be used: unknown part, second translation of a text, missing or repeated
column, too large, not CSV), ``unknown_field``, ``unknown_form``, ``unknown_code``,
``no_such_text``, ``code_not_expected`` and ``piping`` are errors; ``stale`` and ``missing``
are warnings.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from openpyxl import load_workbook

from forms import DataDictionary, default_dictionary, load_dictionary_text
from forms.expressions import parse_expression
from forms.i18n import use_language
from forms.translation_exports import to_redcap_mlm, to_xlsform, xlsform_sheets, xpath
from forms.translations import (
    MAX_BYTES,
    MAX_TEXT,
    TranslationProblem,
    check_translations,
    left_to_translate,
    read_translations_text,
    template_csv,
)
from tests.forms.helpers import csv_text, line

#: French texts that are rightly the English words: the same word in both languages.
SAME_IN_FRENCH = {"Squat", "Questionnaire", "Inclusion"}
#: Words the French questionnaire never uses (person-first, non-judgemental wording).
#: As ``test_study_dictionary.test_language_is_person_first`` does for the English:
#: « propre » / « sale » would judge equipment (« stérile » / « usagé »), the others people.
JUDGEMENTAL = re.compile(r"\b(toxicomanes?|toxicomanie|toxicos?|drogué·?e?s?|camé·?e?s?|"
                         r"junkies?|addicts?|abus|abuseurs?|propres?|sales?|"
                         r"usagers? de drogues?)\b", re.IGNORECASE)
HEADER = "name,part,code,english,text\n"


def small(translations: str | None = None) -> DataDictionary:
    text = csv_text(
        line("age", "text", "Age (years)", form="intake", section="About you",
             validation="integer", min="18", max="99", note="In years."),
        line("sex", "radio", "Sex", form="intake", choices="1, Woman | 2, Man"),
        line("pregnant", "yesno", "Pregnant?", form="intake", branching="[sex] = '1'"),
        line("greeting", "descriptive", "Hello, you are [age] years old", form="intake"))
    return load_dictionary_text(text, translations={"fr": translations}
                                if translations is not None else None)


def problems(translations: str) -> list[TranslationProblem]:
    d = small(translations)
    return check_translations(d, d.translations["fr"])


def rules(found: list[TranslationProblem]) -> list[tuple[str, str, int]]:
    return [(p.severity, p.rule, p.line) for p in found if p.rule != "missing"]


# The study's French -----------------------------------------------------------------------

def test_the_study_questionnaire_is_translated_into_french_with_no_problem() -> None:
    study = default_dictionary()
    assert "fr" in study.translations
    assert check_translations(study, study.translations["fr"]) == []
    french = study.in_language("fr")
    same = {english for key, english in study.texts()
            if dict(french.texts())[key] == english}
    assert same <= SAME_IN_FRENCH, same - SAME_IN_FRENCH


def test_every_field_label_and_choice_differs_where_it_should() -> None:
    study = default_dictionary()
    french = study.in_language("fr")
    for name, f in study.fields.items():
        fr = french.fields[name]
        assert fr.label != f.label or f.label in SAME_IN_FRENCH, name
        for code, label in f.choices.items():
            assert fr.choices[code] != label or label in SAME_IN_FRENCH, (name, code)
        assert bool(fr.note) == bool(f.note) and (not f.note or fr.note != f.note), name
    for name, form in study.forms.items():
        assert french.forms[name].label != form.label or form.label in SAME_IN_FRENCH


def test_the_french_questionnaire_is_person_first() -> None:
    study = default_dictionary()
    for key, text in study.in_language("fr").texts():
        assert not JUDGEMENTAL.search(text), (key, text)
    french = study.in_language("fr")
    assert "matériel stérile" in french.fields["topics"].choices["2"].lower()
    assert french.forms["aerli_session"].label == "Séance AERLI"


def test_in_language_keeps_names_codes_validation_and_branching() -> None:
    study = default_dictionary()
    french = study.in_language("fr")
    assert french.lang == "fr" and study.lang == "en"
    assert study.in_language("fr") is french and study.in_language("en") is study
    assert list(french.fields) == list(study.fields)
    assert list(french.forms) == list(study.forms)
    for name, f in study.fields.items():
        fr = french.fields[name]
        assert (fr.form, fr.field_type, fr.validation, fr.min, fr.max, fr.required,
                fr.branching, fr.calculation, fr.identifier) == (
            f.form, f.field_type, f.validation, f.min, f.max, f.required, f.branching,
            f.calculation, f.identifier), name
        assert list(fr.choices) == list(f.choices), name
        assert fr.export_columns() == f.export_columns()
    answers = {"visit_date": "2026-03-31", "inj_freq": "9", "hcv_test_ever": "0",
               "hcv_last_result": "1"}
    english, translated = (d.validate("questionnaire", answers) for d in (study, french))
    assert [(p.field, p.code) for p in english.problems] == [
        (p.field, p.code) for p in translated.problems]
    assert english.clean == translated.clean


def test_a_language_with_no_translations_is_the_english_dictionary() -> None:
    d = small()
    assert d.in_language("fr") is d


def test_an_untranslated_text_falls_back_to_english() -> None:
    d = small(HEADER + "sex,choice,1,Woman,Femme\nintake,form,,Intake,Accueil\n")
    fr = d.in_language("fr")
    assert fr.fields["sex"].choices == {"1": "Femme", "2": "Man"}
    assert fr.forms["intake"].label == "Accueil"
    assert fr.fields["age"].label == "Age (years)"


# The check --------------------------------------------------------------------------------

def test_a_complete_translation_has_no_problem() -> None:
    d = small()
    rows = "".join(f"{name},{part},{code},{english},FR {english}\n".replace(
        "FR Hello, you are [age] years old", '"Bonjour, vous avez [age] ans"').replace(
        "Hello, you are [age] years old,", '"Hello, you are [age] years old",')
        for (part, name, code), english in d.texts())
    assert problems(HEADER + rows) == []


def test_unknown_field_form_and_code_are_errors_with_their_line() -> None:
    found = problems(HEADER + "agee,label,,Age (years),Âge\n"
                              "intake,label,,Intake,Accueil\n"
                              "sex,choice,3,Other,Autre\n"
                              "outtake,form,,Outtake,Sortie\n"
                              "sex,label,2,Sex,Sexe\n"
                              "sex,note,,,Une note\n"
                              "age,section_header,,About you,À propos de vous\n")
    assert rules(found) == [("error", "unknown_field", 2), ("error", "unknown_field", 3),
                            ("error", "unknown_code", 4), ("error", "unknown_form", 5),
                            ("error", "code_not_expected", 6), ("error", "no_such_text", 7)]
    assert "field 'sex' has no choice code '3' (its codes: 1, 2)" in found[2].message
    assert "a form's name" in found[1].message


def test_a_stale_translation_is_a_warning_and_still_shown() -> None:
    found = problems(HEADER + "age,label,,Age,Âge\n")
    assert rules(found) == [("warning", "stale", 2)]
    assert "now says 'Age (years)'" in found[0].message
    assert small(HEADER + "age,label,,Age,Âge\n").in_language("fr").fields["age"].label == "Âge"


def test_missing_texts_are_warnings_listed_one_by_one() -> None:
    found = problems(HEADER + "age,label,,Age (years),Âge (années)\nsex,label,,Sex,\n")
    missing = [p for p in found if p.rule == "missing"]
    assert all(p.severity == "warning" for p in missing)
    keys = [p.key for p in missing]
    assert ("label", "age", "") not in keys and ("label", "sex", "") in keys
    assert [p.line for p in missing if p.key == ("label", "sex", "")] == [3]
    assert len(missing) == len(list(small().texts())) - 1


def test_a_translation_must_keep_piping() -> None:
    found = problems(HEADER + 'greeting,label,,"Hello, you are [age] years old",'
                              '"Bonjour, vous avez [âge] ans"\n')
    assert rules(found) == [("error", "piping", 2)]
    assert "drops [age]" in found[0].message


@pytest.mark.parametrize(("text", "expected"), [
    (HEADER + "age,label,,Age (years),Âge\nage,label,,Age (years),Âge bis\n",
     (3, "second translation of the label of age (first on line 2)")),
    (HEADER + "age,title,,Age (years),Âge\n", (2, "unknown part 'title'")),
    (HEADER + ",label,,Age (years),Âge\n", (2, "no name")),
    ("name,part,english,text\nage,label,Age (years),Âge\n", (1, "missing columns: code")),
    ("name,part,code,code,english,text\n", (1, "repeated columns: code")),
    ("", (1, "missing columns: name, part, code, english, text")),
    (HEADER + "age,label,,Age (years),Âge\x00\n", (2, "a NUL character")),
    (HEADER + 'age,label,,"Age (years),Âge\n', (2, "unexpected end of data")),
    (HEADER + "age,label,,Age (years)," + "x" * (MAX_TEXT + 1) + "\n", (2, "longer than")),
    (HEADER + 'age,note,,"In\nyears.",Âge\nage,title,,,\n', (4, "unknown part")),
])
def test_unreadable_lines_are_errors_with_their_line(text: str,
                                                     expected: tuple[int, str]) -> None:
    found = [p for p in problems(text) if p.rule == "unreadable"]
    assert found and found[0].is_error
    assert found[0].line == expected[0] and expected[1] in found[0].message, found


def test_oversize_input_is_refused_whole() -> None:
    big = HEADER + ("age,label,,Age (years),Âge\n" * (MAX_BYTES // 20))
    translations = read_translations_text(big, "fr")
    assert translations.rows == {}
    assert translations.unreadable == ((0, f"file larger than {MAX_BYTES} bytes"),)


def test_a_hostile_file_stops_being_read_after_many_bad_lines() -> None:
    translations = read_translations_text(HEADER + "x,nope,,,\n" * 10_000, "fr")
    assert len(translations.unreadable) <= 201
    assert "reading stopped" in translations.unreadable[-1][1]


def test_a_bom_and_column_order_do_not_matter() -> None:
    text = "\ufefftext,english,code,part,name\nÂge,Age (years),,label,age\n"
    assert small(text).in_language("fr").fields["age"].label == "Âge"


# Template and what is left -----------------------------------------------------------------

def test_the_template_lists_every_text_with_its_english_and_no_translation() -> None:
    d = small()
    template = template_csv(d)
    reread = read_translations_text(template, "de")
    assert reread.unreadable == ()
    assert {key: row.english for key, row in reread.rows.items()} == dict(d.texts())
    assert all(row.text == "" for row in reread.rows.values())
    assert [p.rule for p in check_translations(d, reread)] == ["missing"] * len(reread.rows)


def test_the_template_keeps_existing_work_and_its_english() -> None:
    d = small(HEADER + "age,label,,Age,Âge\nsex,choice,1,Woman,Femme\nzz,label,,Zz,Zz\n")
    template = read_translations_text(template_csv(d, d.translations["fr"]), "fr")
    assert template.text("choice", "sex", "1") == "Femme"
    assert template.rows[("label", "age", "")].english == "Age"  # still seen as stale
    assert ("label", "zz", "") not in template.rows
    left = left_to_translate(d, template)
    assert (("label", "age", ""), "Age (years)", "stale") in left
    assert all(key != ("choice", "sex", "1") for key, _, _ in left)


# Exports -----------------------------------------------------------------------------------

def test_redcap_mlm_export() -> None:
    d = small(HEADER + "sex,choice,1,Woman,Femme\nage,note,,In years.,En années.\n"
                       "intake,form,,Intake,Accueil\n")
    mlm = json.loads(json.dumps(to_redcap_mlm(d, d.translations["fr"])))
    assert mlm["creator"] == "REDCap MLM" and mlm["key"] == "fr" and mlm["rtl"] is False
    assert mlm["display"] == "français"
    assert mlm["formTranslations"] == [{"id": "intake", "translation": "Accueil",
                                        "default": "Intake"}]
    fields = {f["id"]: f for f in mlm["fieldTranslations"]}
    assert fields["sex"]["form"] == "intake"
    assert fields["sex"]["enum"] == [
        {"id": "1", "translation": "Femme", "default": "Woman"},
        {"id": "2", "translation": "", "default": "Man"}]
    assert fields["age"]["note"]["translation"] == "En années."
    assert fields["age"]["header"] == {"translation": "", "default": "About you"}
    assert "enum" not in fields["pregnant"]  # REDCap's own Yes/No strings
    for kind in ("uiTranslations", "eventTranslations", "mdcTranslations"):
        assert mlm[kind] == []


def test_the_study_mlm_export_translates_every_field() -> None:
    study = default_dictionary()
    mlm = to_redcap_mlm(study, study.translations["fr"])
    assert len(mlm["fieldTranslations"]) == len(study.fields)
    assert all(f["label"]["translation"] for f in mlm["fieldTranslations"])


def test_xlsform_export_has_language_columns_and_parses_back() -> None:
    study = default_dictionary()
    sheets = xlsform_sheets(study, study.translations["fr"])
    book = load_workbook(io.BytesIO(to_xlsform(study, study.translations["fr"])))
    assert book.sheetnames == ["survey", "choices", "settings"]
    survey = [[c or "" for c in row] for row in book["survey"].iter_rows(values_only=True)]
    assert survey[0] == ["type", "name", "label::English (en)", "label::French (fr)",
                         "hint::English (en)", "hint::French (fr)", "required", "relevant",
                         "calculation"]
    assert survey == sheets["survey"]
    rows = {row[1]: row for row in survey[1:] if row[0] not in ("begin group", "end group")}
    assert rows["products"][:4] == ["select_multiple products", "products",
                                    study.fields["products"].label,
                                    "Quels produits la personne s'est-elle injectés ? "
                                    "(cochez tout ce qui s'applique)"]
    assert rows["age"][0] == "integer" and rows["visit_date"][0] == "date"
    assert rows["age_section"][0] == "note"
    assert rows["consent_date"][6:8] == ["yes", "(${consent} = '1')"]
    assert rows["any_risk_practice"][0] == "calculate"
    assert rows["any_risk_practice"][8].startswith("if(((((${share_syringe} = '1') or")
    assert ["begin group", "aerli_session", "AERLI session", "Séance AERLI", "", "", "", "",
            ""] in survey
    choices = [list(row) for row in book["choices"].iter_rows(values_only=True)]
    assert choices[0] == ["list_name", "name", "label::English (en)", "label::French (fr)"]
    assert ["gender", "1", "Woman", "Femme"] in choices
    assert [list(r) for r in book["settings"].iter_rows(values_only=True)][1][2] == \
        "English (en)"


@pytest.mark.parametrize(("redcap", "expected"), [
    ("[consent] = '1'", "(${consent} = '1')"),
    ("[products(8)] = '1'", "(if(selected(${products}, '8'), '1', '0') = '1')"),
    ("[age] >= 18 and [sex] <> ''", "((${age} >= 18) and (${sex} != ''))"),
    ("not([a] = '1') or -[b] / 2 > 1", "(not((${a} = '1')) or ((-(${b}) div 2) > 1))"),
    ("[m0_arm_1][age] > 18", ""),
    ("datediff([d], 'today', 'y') > 1", ""),
    ("[event-name] = 'm0_arm_1'", ""),
])
def test_redcap_logic_in_xpath_or_nothing(redcap: str, expected: str) -> None:
    assert xpath(parse_expression(redcap)) == expected


def test_xlsform_cells_cannot_become_formulas() -> None:
    d = small(HEADER + "sex,choice,1,Woman,=HYPERLINK(\"x\")\n")
    book = load_workbook(io.BytesIO(to_xlsform(d, d.translations["fr"])))
    cells = [row[3] for row in book["choices"].iter_rows(values_only=True)]
    assert "'=HYPERLINK(\"x\")" in cells


# The codebook in the reader's language ------------------------------------------------------

def test_the_codebook_in_french() -> None:
    study = default_dictionary()
    with use_language("fr"):
        french = study.in_language("fr")
        md = french.codebook_markdown()
        page = french.codebook_html()
        table = french.codebook_csv()
    assert md.startswith("# Livre de codes")
    assert "| Variable | Libellé | Type | Valeurs | Affiché si | Remarques |" in md
    assert "## Séance AERLI (`aerli_session`)" in md
    assert "| `age` | Âge (années) | text (integer) | de 0 à 120 |" in md
    assert "1 = Oui; 0 = Non" in md and "obligatoire" in md
    assert "colonnes : products___1" in md
    assert '<html lang="fr">' in page and "<h1>Livre de codes</h1>" in page
    assert "Rempli à : m0_arm_1." in page
    assert table.startswith("variable,form,section,field_type,kind,label,choices")
    assert "Âge (années)" in table and "[consent] = '1'" in table


def test_the_english_codebook_is_unchanged() -> None:
    study = default_dictionary()
    with use_language("en"):
        md = study.codebook_markdown()
        page = study.codebook_html()
    assert md.startswith("# Codebook") and "| Variable | Label | Type |" in md
    assert '<html lang="en">' in page and "Age (years)" in page
