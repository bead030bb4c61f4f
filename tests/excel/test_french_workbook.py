"""A French workbook round trip (issue 14): the template in French, a row with errors comes
back annotated in French, the corrected workbook imports and stores codes.

The questionnaire's French comes from a small translation written here
(``read_translations_text``, the format of ``data_dictionary.fr.csv``), so the test does not
depend on how far the study's own translation has got. Rules cited: ``date.in_future``
(hard rule: a visit dated after today is refused), ``import.unreadable_value`` (a cell
that cannot be read). What stays the same in every language is checked too: row 2 (the
variable names), the codes before ``=``, ISO dates in cells, numbers as numbers.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlmodel import select

from cohort.dictionary import get_dictionary, use_dictionary
from cohort.excel.annotate import annotate
from cohort.excel.cells import CellError, reader_for
from cohort.excel.importer import import_file
from cohort.excel.layout import LISTS_SHEET, META_SHEET, NAME_ROW, Kind, columns_for
from cohort.excel.reader import read_workbook
from cohort.excel.report import build_report
from cohort.excel.templates import build_template, template_bytes
from cohort.models import Questionnaire
from cohort.schedule import get_schedule
from cohort.vocab import Timepoint
from forms import load_dictionary_text
from forms.i18n import use_language
from forms.loader import dictionary_paths
from forms.translations import read_translations_text
from tests.api.conftest import World
from tests.api.test_api_pages import csrf, sign_in
from tests.conftest import TODAY
from tests.excel.conftest import Site
from tests.excel.helpers import as_cells, columns, entry_sheet, fill, load, row_of, save
from tests.excel.test_web import XLSX
from tests.factories import Factory, questionnaire_answers

#: (name, part, code) -> French, as in a data_dictionary.fr.csv
FRENCH = {
    ('questionnaire', 'form', ''): 'Questionnaire',
    ('visit_date', 'label', ''): 'Date de ce questionnaire',
    ('inj_freq', 'label', ''): "À quelle fréquence la personne s'est-elle injecté des produits ?",
    ('inj_freq', 'choice', '1'): "Moins d'une fois par semaine",
    ('inj_freq', 'choice', '2'): 'Une fois par semaine',
    ('inj_freq', 'choice', '3'): 'Plusieurs fois par semaine',
    ('inj_freq', 'choice', '4'): 'Une fois par jour',
    ('inj_freq', 'choice', '5'): 'Plusieurs fois par jour',
    ('products', 'label', ''):
        "Quels produits la personne s'est-elle injectés ? (cochez tout ce qui s'applique)",
    ('products', 'choice', '1'): 'Héroïne',
    ('products', 'choice', '5'): 'Cocaïne',
    ('share_syringe', 'label', ''):
        "A utilisé une seringue ou une aiguille déjà utilisée par quelqu'un d'autre",
    ('water_source', 'label', ''): "Eau utilisée d'habitude pour préparer les injections",
    ('water_source', 'choice', '1'): "Ampoule d'eau stérile",
    ('water_source', 'choice', '2'): 'Eau en bouteille',
    ('water_source', 'choice', '3'): 'Eau du robinet',
    ('water_source', 'choice', '4'): 'Autre',
}


def _csv(french: dict[tuple[str, str, str], str]) -> str:
    """The translation file: each row with the English it translates, as a translator
    works."""
    path, _ = dictionary_paths()
    english = dict(load_dictionary_text(path.read_text(encoding="utf-8")).texts())
    text = io.StringIO()
    csv.writer(text).writerows([("name", "part", "code", "english", "text"), *(
        (name, part, code, english[(part, name, code)], words)
        for (name, part, code), words in french.items())])
    return text.getvalue()


def _french_dictionary(french: dict[tuple[str, str, str], str] = FRENCH,
                       edit: tuple[str, str] = ("", "")) -> None:
    """Use the study's dictionary (its English text edited by ``edit``: old, new) with
    ``french`` as its French translation."""
    path, events = dictionary_paths()
    text = path.read_text(encoding="utf-8")
    assert edit[0] in text
    dictionary = load_dictionary_text(text.replace(*edit) if edit[0] else text,
                                      events_text=events.read_text(encoding="utf-8"))
    dictionary.translations["fr"] = read_translations_text(_csv(french), "fr")
    use_dictionary(dictionary)


@pytest.fixture
def french() -> Iterator[None]:
    """The study's dictionary with a French translation, and a French reader."""
    _french_dictionary()
    try:
        with use_language("fr"):
            yield
    finally:
        use_dictionary(None)


def _template(factory: Factory, site: Site) -> bytes:
    data, _ = build_template(factory.session, actor=site.worker, kind=Kind.QUESTIONNAIRE,
                             centre_code="C04", timepoint=Timepoint("M6"), as_of=factory.today)
    return data


def _import(factory: Factory, site: Site, data: bytes):  # type: ignore[no-untyped-def]
    return import_file(factory.session, actor=site.worker, data=data, filename="m6-fr.xlsx",
                       on=factory.today)


def _lists(book: Workbook) -> dict[str, list[str]]:
    """Variable name -> the entries of its drop-down list (kept in ``_lists``)."""
    found: dict[str, list[str]] = {}
    for cells in book[LISTS_SHEET].iter_cols(values_only=True):
        values = list(cells)
        end = values.index(None) if None in values else len(values)
        name = next((v for v in values[end:] if v is not None), None)
        if name is not None:
            found[str(name)] = [str(v) for v in values[:end]]
    return found


def _through_libreoffice(data: bytes, tmp_path: Path, name: str) -> bytes:
    source = tmp_path / "in" / f"{name}.xlsx"
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(data)
    out = tmp_path / "out"
    subprocess.run(  # noqa: S603
        ["soffice", f"-env:UserInstallation=file://{tmp_path / 'profile'}",  # noqa: S607
         "--headless", "--convert-to", "xlsx", "--outdir", str(out), str(source)],
        check=True, capture_output=True, timeout=180)
    return (out / f"{name}.xlsx").read_bytes()


def test_the_french_template_speaks_french_and_keeps_names_and_codes(
        factory: Factory, site: Site, french: None) -> None:
    book = load(_template(factory, site))
    assert book.sheetnames == ["Instructions", "Questionnaire M6", LISTS_SHEET, META_SHEET]
    intro = [str(c.value) for c in book["Instructions"]["A"] if c.value]
    assert intro[0].startswith("Classeur du centre C04 : le questionnaire M6")
    assert any("choisissez 1 = Oui" in line for line in intro)
    assert any("« Résumé »" in line for line in intro)
    assert not any("Fill in" in line or "Import the file" in line for line in intro)

    ws = entry_sheet(book)
    names = columns(ws)  # row 2: the variable names, untranslated
    assert {"participant_code", "visit_date", "inj_freq", "share_syringe",
            "products___1"} <= set(names)
    label = {name: ws.cell(NAME_ROW - 1, col).value for name, col in names.items()}
    assert label["participant_code"] == "Code participant·e"
    assert label["inj_freq"].startswith("À quelle fréquence")
    assert label["products___1"].endswith(" : Héroïne")
    assert label["share_cooker"] == "Used a spoon or cooker already used by someone else"

    lists = _lists(book)
    assert lists["inj_freq"][:2] == ["1 = Moins d'une fois par semaine",
                                     "2 = Une fois par semaine"]
    assert lists["share_syringe"] == ["1 = Oui", "0 = Non"]  # yes/no: « Oui » / « Non »
    assert lists["products___1"] == ["1 = Oui", "0 = Non"]
    errors = {dv.errorTitle for dv in ws.data_validations.dataValidation if dv.errorTitle}
    assert {"Pas dans la liste", "Pas une date"} <= errors
    for dv in ws.data_validations.dataValidation:  # Excel's limits on a cell's help
        assert len(dv.promptTitle or "") <= 32 and len(dv.prompt or "") <= 255
        assert len(dv.errorTitle or "") <= 32 and len(dv.error or "") <= 255
    meta = {r[0].value: r[1].value for r in book[META_SHEET].iter_rows()}
    assert meta["language"] == "fr" and meta["kind"] == "questionnaire"


def test_every_french_template_keeps_within_excels_limits(french: None) -> None:
    """Cell help and warnings are longer in French: Excel refuses a workbook whose titles
    pass 32 characters or whose messages pass 255, so every kind is made and measured."""
    kinds = [(Kind.ENROLMENT, None, "Inclusion"), (Kind.SESSION, None, "Séances AERLI")] + [
        (Kind.QUESTIONNAIRE, Timepoint(name), f"Questionnaire {name}")
        for name in get_schedule().names]
    for kind, timepoint, title in kinds:
        book = load(template_bytes(kind, "C04", timepoint, [], TODAY))
        assert book.sheetnames == ["Instructions", title, LISTS_SHEET, META_SHEET]
        for dv in book[title].data_validations.dataValidation:
            assert len(dv.promptTitle or "") <= 32 and len(dv.prompt or "") <= 255, title
            assert len(dv.errorTitle or "") <= 32 and len(dv.error or "") <= 255, title


def test_a_french_round_trip_refused_annotated_in_french_corrected_and_imported(
        factory: Factory, site: Site, french: None, tmp_path: Path) -> None:
    book = load(_template(factory, site))
    ws = entry_sheet(book)
    names = columns(ws)
    first, second, _ = site.due
    visit = factory.today - timedelta(days=3)
    row = row_of(ws, first.code)
    wrong = as_cells(questionnaire_answers(factory.today + timedelta(days=2), Timepoint("M6")))
    wrong["water_source"] = "Parfois"  # not one of the answers, in any language
    fill(ws, row, wrong)
    other = row_of(ws, second.code)
    fill(ws, other, as_cells(questionnaire_answers(visit, Timepoint("M6"))))
    fill(ws, other, {"inj_freq": "Plusieurs fois par jour", "share_syringe": "Non"})

    report = _import(factory, site, save(book))
    assert report.written == 0
    found = {(p.row, p.field, p.rule) for p in report.problems}
    assert found == {(row, "water_source", "import.unreadable_value"),
                     (row, "visit_date", "date.in_future")}
    unreadable = next(p for p in report.problems if p.field == "water_source")
    assert "1 = Ampoule d'eau stérile" in unreadable.text  # the answers, in French
    for p in report.problems:  # catalogue messages, rendered in the reader's language
        assert not isinstance(p.message, str)
        assert p.text == p.message.render("fr")

    marked = load(annotate(save(book), report.problems))
    assert marked.sheetnames[0] == "Résumé"
    summary = list(marked["Résumé"].iter_rows(values_only=True))
    assert summary[0] == ("Feuille", "Ligne", "Colonne", "Champ", "Règle", "Type", "Message")
    assert {line[5] for line in summary[1:]} == {"à corriger"}
    assert {line[0] for line in summary[1:]} == {"Questionnaire M6"}
    note = marked["Questionnaire M6"].cell(row, names["water_source"]).comment.text
    assert note.startswith("Eau utilisée d'habitude pour préparer les injections "
                           "(water_source) : ")
    assert "[import.unreadable_value]" in note
    date_note = marked["Questionnaire M6"].cell(row, names["visit_date"]).comment.text
    assert date_note.startswith("Date de ce questionnaire (visit_date) : ")

    # The person corrects the marked copy, picking French entries from the drop-downs.
    ws = marked["Questionnaire M6"]
    pick = _lists(marked)
    ws.cell(row, names["visit_date"]).value = visit  # a real date cell
    ws.cell(row, names["water_source"]).value = pick["water_source"][2]  # 3 = Eau du robinet
    ws.cell(row, names["inj_freq"]).value = pick["inj_freq"][3]  # « 4 = Une fois par jour »
    ws.cell(row, names["share_syringe"]).value = pick["share_syringe"][0]  # « 1 = Oui »
    for code in ("1", "5"):
        ws.cell(row, names[f"products___{code}"]).value = pick[f"products___{code}"][0]
    ws.cell(row, names["products___2"]).value = "oui"
    corrected = save(marked)
    if shutil.which("soffice") is not None:  # saved by LibreOffice, as people do
        corrected = _through_libreoffice(corrected, tmp_path, "corrige")
        kept = _lists(load(corrected))
        assert kept["inj_freq"][3] == "4 = Une fois par jour"
        assert kept["share_syringe"] == ["1 = Oui", "0 = Non"]

    with use_language("en"):  # the French Résumé is skipped by an English reader too
        read = read_workbook(corrected)
    assert read.problems == [] and [layout.title for layout in read.layouts] == \
        ["Questionnaire M6"]
    report = _import(factory, site, corrected)
    assert report.problems == [] and report.written == 2
    saved = factory.session.exec(select(Questionnaire).where(
        Questionnaire.timepoint == Timepoint("M6"))).all()
    stored: dict[int | None, Questionnaire] = {q.participant_id: q for q in saved}
    answers = stored[first.id].answers
    assert (answers["inj_freq"], answers["share_syringe"], answers["water_source"]) == \
        ("4", "1", "3")  # codes, not words
    assert answers["products"] == ["1", "2", "5"]
    assert stored[first.id].visit_date == visit
    assert (stored[second.id].answers["inj_freq"],
            stored[second.id].answers["share_syringe"]) == ("5", "0")


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_opens_the_french_template_and_keeps_its_lists(
        factory: Factory, site: Site, french: None, tmp_path: Path) -> None:
    converted = _through_libreoffice(_template(factory, site), tmp_path, "modele")
    book = load(converted)
    assert "Questionnaire M6" in book.sheetnames and META_SHEET in book.sheetnames
    assert _lists(book)["share_syringe"] == ["1 = Oui", "0 = Non"]
    lists = [dv for dv in entry_sheet(book).data_validations.dataValidation
             if dv.type == "list"]
    assert lists and {dv.errorStyle for dv in lists} == {"warning"}
    assert "Pas dans la liste" in {dv.errorTitle for dv in lists}


def test_answer_words_are_read_in_every_language_and_ambiguous_words_refused(
        french: None) -> None:
    column = next(c for c in columns_for(Kind.QUESTIONNAIRE, Timepoint("M6"))
                  if c.name == "inj_freq")
    read = reader_for(column)
    assert read("Une fois par jour") == "4"
    assert read("once a day") == "4"  # English words, in a French reader's import
    assert read("4 = Once a day") == read("4 = Une fois par jour") == read("4") == "4"
    with pytest.raises(CellError):
        read("4 = Une fois par semaine")  # the words of another answer
    tick = reader_for(next(c for c in columns_for(Kind.QUESTIONNAIRE, Timepoint("M6"))
                           if c.name == "products___1"))
    assert (tick("1 = Oui"), tick("Non"), tick("yes")) == (True, False, True)

    # A translation whose words for 1 are the English words for 2: typed alone, refused.
    _french_dictionary({**FRENCH, ("inj_freq", "choice", "1"): "Once a week"})
    column = next(c for c in columns_for(Kind.QUESTIONNAIRE, Timepoint("M6"))
                  if c.name == "inj_freq")
    read = reader_for(column)
    with pytest.raises(CellError) as refused:
        read("once a week")
    assert "plus d'une réponse" in str(refused.value)
    assert "1 = Once a week" in str(refused.value) and "2 = Une fois par semaine" in str(
        refused.value)
    assert read("1") == "1" and read("2 = Once a week") == "2"


def test_the_report_in_french_has_french_words_and_numbers_as_numbers(
        factory: Factory, site: Site, french: None) -> None:
    factory.questionnaire(site.worker, site.late, Timepoint("M6"),
                          visit_date=factory.today - timedelta(days=1))
    book = load(build_report(factory.session, actor=site.worker, as_of=factory.today))
    assert book.sheetnames == ["Rétention", "Visites à faire", "Écarts au protocole ouverts",
                               "Liste des écarts", "À propos"]
    retention = list(book["Rétention"].iter_rows(values_only=True))
    assert retention[0][:3] == ("Centre", "Nom", "Inclus·es")
    assert "M6 rétention" in retention[0]
    assert retention[1][0] == "C04" and retention[1][2] == 5  # a number, not "5"
    share = retention[1][retention[0].index("M6 rétention")]
    assert isinstance(share, float)
    visits = list(book["Visites à faire"].iter_rows(values_only=True))
    assert visits[0][:4] == ("Participant·e", "Centre", "Visite", "État")
    assert {r[3] for r in visits[1:]} == {"à faire"}
    assert all(hasattr(r[4], "year") for r in visits[1:])  # real dates
    deviations = list(book["Écarts au protocole ouverts"].iter_rows(values_only=True))
    assert deviations[0] == ("Règle", "C04", "Total")
    assert ("visit.out_of_window", 1, 1) in deviations  # rule ids stay codes
    about = [c.value for c in book["À propos"]["A"]]
    assert about[0].startswith("Rapport de la cohorte au ")


def test_an_english_template_is_unchanged_by_the_translation(
        factory: Factory, site: Site) -> None:
    _french_dictionary()
    try:
        with use_language("en"):
            book = load(_template(factory, site))
    finally:
        use_dictionary(None)
    assert book.sheetnames[:2] == ["Instructions", "M6 questionnaire"]
    assert _lists(book)["share_syringe"] == ["1 = Yes", "0 = No"]
    assert _lists(book)["inj_freq"][0] == "1 = Less than once a week"
    assert "fr" not in get_dictionary().translations or get_dictionary().lang == "en"


def test_the_pages_give_a_french_reader_french_workbooks(
        client: TestClient, world: World) -> None:
    """The workbook pages run in the reader's language (here from ``Accept-Language``):
    the template and the marked copy are French, the data they carry is not."""
    client.headers["Accept-Language"] = "fr-FR,fr;q=0.9,en;q=0.5"
    sign_in(client, "worker.a")
    got = client.get("/workbooks/template", params={"centre": "C01", "kind": "questionnaire",
                                                     "timepoint": "M12"})
    book = load(got.content)
    assert book.sheetnames[:2] == ["Instructions", "Questionnaire M12"]
    ws = entry_sheet(book)
    assert ws.cell(1, columns(ws)["participant_code"]).value == "Code participant·e"
    assert _lists(book)["share_syringe"] == ["1 = Oui", "0 = Non"]
    assert world.pa is not None
    fill(ws, row_of(ws, world.pa.code), as_cells(questionnaire_answers(
        TODAY - timedelta(days=1), Timepoint("M12"), inj_freq="9")))
    token = csrf(client.get("/workbooks").text)
    refused = client.post("/workbooks/import", data={"csrf_token": token},
                          files={"file": ("m12.xlsx", save(book), XLSX)})
    link = refused.text.split('href="/workbooks/annotated/')[1].split('"')[0]
    marked = load(client.get(f"/workbooks/annotated/{link}").content)
    assert marked.sheetnames[0] == "Résumé"
    summary = list(marked["Résumé"].iter_rows(values_only=True))
    assert summary[0][0] == "Feuille" and summary[1][4] == "import.unreadable_value"


def test_a_french_template_of_another_dictionary_version_is_compared_in_french(
        factory: Factory, site: Site, french: None) -> None:
    """Rule ``import.dictionary_changed``: a French workbook's lists hold French words,
    compared with the French of today's dictionary, not refused for not being English."""
    def made(french_words: dict[tuple[str, str, str], str], edit: tuple[str, str],
             code: str) -> bytes:
        _french_dictionary(french_words, edit)
        book = load(_template(factory, site))
        _french_dictionary()  # today's dictionary
        ws = entry_sheet(book)
        fill(ws, row_of(ws, code), as_cells(questionnaire_answers(
            factory.today - timedelta(days=3), Timepoint("M6"), inj_freq="2 = "
            + french_words[("inj_freq", "choice", "2")])))
        return save(book)

    reworded = made(FRENCH, ("How often did the participant inject?",
                             "How often did the person inject?"), site.due[0].code)
    assert _import(factory, site, reworded).problems == []

    fortnight = {**FRENCH, ("inj_freq", "choice", "2"): "Une fois tous les quinze jours"}
    changed = made(fortnight, ("2, Once a week", "2, Once a fortnight"), site.due[1].code)
    [problem] = _import(factory, site, changed).problems
    assert (problem.field, problem.rule) == ("inj_freq", "import.dictionary_changed")
    assert "2: 'Une fois tous les quinze jours' → 'Une fois par semaine'" in problem.text
