"""The analysis report in French and English from the same estimates.

The estimates are computed once (``compute_report``) on the small demo cohort and rendered
in both languages: the English report says what it always said, the French one has French
headings, decimal commas and the same numbers, and no English heading is left in it.
"""

from __future__ import annotations

import html
import json
import pickle
import re
from pathlib import Path

import pandas as pd
import pytest

from analysis.data import AnalysisData
from analysis.export_tables import spreadsheet_safe
from analysis.report import (
    ReportEstimates,
    compute_report,
    render_report,
    results_text,
    save_report,
)
from analysis.wording import Note, Num, heading, word
from forms.i18n import N_, use_language

OUTCOMES = ("any_risk_practice", "any_complication", "share_syringe")

#: Headings and sentences of the English report: none may be left in the French one.
ENGLISH = (
    "Cohort analysis report", "Synthetic or study data as of", "Groups are as given at M0",
    "Random seed of the imputations", "<h2>Retention</h2>", "Participant flow",
    "Completion of", "Denominators count participants", "Retention by attendance",
    "Time to loss to follow-up", "Log-rank tests", "Cox models", "Proportional hazards",
    "Loss to follow-up per visit", "One panel per centre", "Competing risks",
    "Injection-risk outcomes", "Table 1", "Largest |standardised mean difference|",
    "Primary endpoint", "Declared before the analysis", "Secondary endpoints",
    "Missing follow-up questionnaires", "Tipping point", "Group × time effects",
    "GEE logistic", "The ITT model (unweighted) is the primary analysis",
    "Not estimable, left out", "<h3>Weights</h3>", "All contrasts", "Model specifications",
    "Kaplan–Meier curves", "Forest plot of", "Proportion over time",
    "Schoenfeld test", "not estimable:", "All centres", "intervention vs comparison",
    "group × time interaction", "clustered on centre", "stratified by centre",
    "<th>odds_ratio</th>", "<th>ci_lower</th>", "Screened", "Enrolled", "Lost to follow-up",
    "mean (SD)", "median [IQR]", "time = months from inclusion", "visits,",
    "robust SE", "bias-reduced", "random intercepts per participant",
    "weighted model: independence", "standard errors from stacked",
)


@pytest.fixture(scope="module")
def results(demo_data: AnalysisData) -> ReportEstimates:
    return compute_report(demo_data, what="all", cov_struct="ar1", outcomes=OUTCOMES)


@pytest.fixture(scope="module")
def english(results: ReportEstimates) -> str:
    return render_report(results, "en")


@pytest.fixture(scope="module")
def french(results: ReportEstimates) -> str:
    return render_report(results, "fr")


def _cells(page: str) -> list[str]:
    return [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", page, flags=re.S)]


def _french_number(text: str) -> float:
    return float(text.replace("\u202f", "").replace("\u00a0", "").replace(",", "."))


def test_english_report_says_what_it_always_said(english: str) -> None:
    assert english.startswith('<!doctype html>\n<html lang="en">')
    assert "2026-11-22" in english and "ar1" in english and "Table 1" in english
    assert "regression to the mean" in english and "primary analysis" in english
    assert "the proportion treated, each visit's completion model" in english
    assert 'src="figures/km_by_group.png"' in english
    assert "<th>odds_ratio</th>" in english and "<td>All centres</td>" in english
    assert "It is tested at 5% on its own." in english


def test_french_report_has_french_words_and_lang(french: str) -> None:
    assert '<html lang="fr">' in french
    for words in ("Rapport d'analyse de la cohorte — 22/11/2026", "<h2>Rétention</h2>",
                  "Critère de jugement principal", "Tableau 1 — caractéristiques",
                  "Tous les centres", "interaction groupe × temps, M12",
                  "rapport de risques instantanés (HR)", "erreurs-types robustes regroupées "
                  "par centre", "Il est testé seul au seuil de 5\u00a0%",
                  "perdu·e de vue", "séance AERLI", "groupe comparaison",
                  "<th>OR</th>", "<th>IC 95 % inf.</th>"):
        assert words in french, words
    for word_ in ("toxicomane", "drogué", "propre", "sale"):
        assert not re.search(rf"\b{word_}", french.lower()), word_


def test_table1_labels_come_from_the_dictionarys_translation(demo_data: AnalysisData,
                                                              english: str,
                                                              french: str) -> None:
    labels, values = demo_data.labels("fr")
    for name in ("gender", "housing"):
        french_label = html.escape(labels[name], quote=False)
        if labels[name] != demo_data.variable_labels[name]:  # translated in the dictionary
            assert f"<td>{french_label}</td>" in french
            assert f"<td>{french_label}</td>" not in english
            assert f"<td>{html.escape(demo_data.variable_labels[name], quote=False)}</td>" \
                not in french
    assert "<td>Âge à l'inclusion (années)</td>" in french


def test_no_english_heading_or_sentence_is_left_in_the_french_report(french: str) -> None:
    left = [text for text in ENGLISH if text in french]
    assert not left, left


def test_both_languages_show_the_same_numbers(results: ReportEstimates, english: str,
                                              french: str) -> None:
    """Table by table the cells line up: every English number is the French one, read
    with its decimal comma; and the French tables do have decimal commas."""
    en, fr = _cells(english), _cells(french)
    assert len(en) == len(fr) > 1000
    compared = 0
    for e, f in zip(en, fr, strict=True):
        if re.fullmatch(r"-?\d+\.\d+", e):
            assert re.fullmatch(r"-?\d[\d\u202f]*,\d+", f), (e, f)
            assert _french_number(f) == pytest.approx(float(e), abs=0), (e, f)
            compared += 1
    assert compared > 500
    # The primary endpoint's odds ratio, as estimated, in both reports.
    odds = float(results.outcomes.primary["odds_ratio"].iloc[0])
    assert f"<td>{odds:.3f}</td>" in english
    assert f"<td>{odds:.3f}</td>".replace(".", ",") in french
    # Table 1's cells computed as text: "12 (34.5%)" -> "12 (34,5 %)".
    cell = next(c for c in en if re.fullmatch(r"\d+ \(\d+\.\d%\)", c))
    number, share = re.fullmatch(r"(\d+) \((\d+\.\d)%\)", cell).groups()  # type: ignore[union-attr]
    assert f"{number} ({share.replace('.', ',')}\u00a0%)" in fr


def test_rendering_is_deterministic_per_language(results: ReportEstimates, english: str,
                                                 french: str) -> None:
    assert render_report(results, "en") == english
    assert render_report(results, "fr") == french
    with use_language("fr"):
        assert render_report(results) == french  # the reader's language by default


def test_figures_are_labelled_in_the_readers_language(results: ReportEstimates,
                                                      french: str) -> None:
    from analysis.plots import _plt, km_figure, km_panels_figure, proportions_figure

    props = results.outcomes.proportions
    props = props[props["outcome"] == "any_risk_practice"]
    with use_language("fr"):
        fig = proportions_figure(props, title="t")
        ax = fig.axes[0]
        assert ax.get_ylabel() == "Proportion de participant·es"
        legend = {t.get_text() for t in ax.get_legend().get_texts()}
        assert legend == {"intervention", "comparaison"}
        _plt().close(fig)
        r = results.retention
        fig = km_panels_figure(r.km_centre, title="t")
        assert fig._supxlabel.get_text() == "Mois depuis l'inclusion"
        assert fig._supylabel.get_text() == "Toujours suivi·e (pas perdu·e de vue)"
        titles = [a.get_title() for a in fig.axes if a.get_visible() and a.get_title()]
        assert titles and all("perdu·es=" in t for t in titles)
        _plt().close(fig)
        fig = km_figure(r.km_group, title="t")
        at_risk = [t.get_text() for a in fig.axes for t in a.get_xticklabels()]
        assert any(t.startswith("À risque\ncomparaison") for t in at_risk)
        assert not any("At risk" in t for t in at_risk)
        _plt().close(fig)
    alts = re.findall(r'alt="([^"]*)"', french)
    assert alts and all("Kaplan–Meier curves" not in a for a in alts)
    assert any(a.startswith("Courbes de Kaplan–Meier") for a in alts)


def test_text_summary_in_the_language(results: ReportEstimates) -> None:
    english = results_text(results, "en")
    french = results_text(results, "fr")
    assert "== Kaplan–Meier by group" in english and "note: " in english
    assert "== Kaplan–Meier par groupe" in french and "remarque : " in french
    assert "note: " not in french


def test_files_are_the_same_estimates_in_every_language(results: ReportEstimates,
                                                        tmp_path: Path) -> None:
    """The French report's CSV and JSON are the estimates as computed (English words and
    codes, ISO dates), its page and figures French."""
    report = save_report(results, tmp_path, lang="fr")
    expected = tmp_path / "expected.csv"
    spreadsheet_safe(results.estimates).to_csv(expected, index=False)
    assert (tmp_path / "estimates.csv").read_bytes() == expected.read_bytes()
    payload = json.loads((tmp_path / "estimates.json").read_text(encoding="utf-8"))
    specs = " ".join(m["spec"] for m in payload["models"])
    assert "stacked estimating equations (every weight's model estimated)" in specs
    assert "time = months from inclusion" in specs and "perdu" not in specs
    assert payload["snapshot"]["as_of"] == "2026-11-22"
    assert '<html lang="fr">' in report.html.read_text(encoding="utf-8")
    assert {p.name for p in report.figures} >= {"km_by_group.png", "forest_interaction.png"}
    assert pd.read_csv(tmp_path / "estimates.csv").shape == results.estimates.shape


def test_notes_keep_their_english_and_render_in_french() -> None:
    note = Note(N_("not estimable: {problem}"),
                problem=Note(N_("|log-odds| above {limit} (separation: a group × time cell "
                                "with almost no or only events)"), limit=Num(10.5, "g")))
    assert note.startswith("not estimable: |log-odds| above 10.5")
    again = pickle.loads(pickle.dumps(note))  # noqa: S301  (workers send notes pickled)
    assert again == note and isinstance(again, Note)
    assert again.text("fr").startswith("non estimable : |log-cote| supérieur à 10,5")
    assert json.dumps([note]) == json.dumps([str(note)])


def test_words_of_values_and_headings() -> None:
    assert heading("odds_ratio", "en") == "odds_ratio"
    assert heading("odds_ratio", "fr") == "OR"
    assert heading("m6_done_pct", "fr") == "M6 fait (%)"
    assert heading("unknown_column", "fr") == "unknown_column"
    assert word("group × time interaction, M6", "fr") == "interaction groupe × temps, M6"
    assert word("per-protocol", "en") == "per-protocol"
    assert word("C07", "fr") == "C07" and word(0.5, "fr") == 0.5
