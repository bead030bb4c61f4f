"""Real REDCap projects load and work: the corpus of public dictionaries.

Each dictionary of ``tests/data/redcap_corpus`` (sources and commits in its README) and the
two of ``tests/data/realworld/redcap`` loads with warnings only, every expression in it
parses, evaluates without error on generated answers, and every piped text pipes; an
unedited file writes back byte for byte. The browser's agreement on the same answers is
``tests/api/test_branching_js.py``.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from forms import DictionaryError, parse_expression
from forms.constants import BRANCHING, CHOICES, COLUMNS
from forms.evaluate import compile_expression
from forms.piping import pipe
from forms.reader import read_file
from tests.forms.corpus import (
    CORPUS,
    answer_sets,
    corpus_files,
    environment,
    expressions,
    load,
    piped_texts,
    python_env,
)

#: Warnings a real dictionary may raise: REDCap features read but not rendered, renames
#: REDCap makes itself, tags kept without being acted on, slips REDCap accepts.
EXPECTED_WARNINGS = frozenset({
    "not_rendered", "action_tags", "odd_choice_code", "missing_label", "ignored_choices",
    "ignored_validation", "unknown_validation", "unknown_event", "renamed_variable",
    "renamed_column", "missing_annotation_column", "missing_columns", "converted_bound",
    "chained_comparison", "field_not_in_event", "smart_variable_blank",
})


def test_the_corpus_has_at_least_twenty_dictionaries_from_different_repositories() -> None:
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    rows = [line.split("|") for line in readme.splitlines() if line.startswith("| ")
            and not line.startswith("| file")]
    repos = {row[2].strip() for row in rows}
    files = {row[1].strip() for row in rows}
    assert len(repos) >= 20
    assert files == {p.name for p in CORPUS.glob("*.csv")}
    assert all(len(row[4].strip()) == 40 for row in rows)  # a commit for every file


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_each_dictionary_loads_with_warnings_only(path: Path) -> None:
    try:
        d = load(path)
    except DictionaryError as error:  # pragma: no cover - the message is the point
        pytest.fail(str(error))
    assert d.fields
    unexpected = {w.code for w in d.warnings} - EXPECTED_WARNINGS
    assert not unexpected, [str(w) for w in d.warnings if w.code in unexpected]


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_every_expression_parses_and_evaluates(path: Path) -> None:
    d = load(path)
    cells = read_file(path.read_text(encoding="utf-8-sig")).rows
    for row in cells:
        for column in (BRANCHING,) + ((CHOICES,) if row.cells[COLUMNS[3]].strip().lower()
                                      == "calc" else ()):
            if row.cells[column].strip():
                parse_expression(row.cells[column])
    rng = random.Random(path.name)
    base = environment(d)
    for where, node in expressions(d):
        compiled = compile_expression(node)
        for case in answer_sets(d, node, rng, 3):
            value = compiled(python_env(base, case, d))
            assert isinstance(value, str | int | float | bool), where
    for where, text in piped_texts(d):
        case = answer_sets(d, parse_expression("1"), rng, 1)[0]
        assert isinstance(pipe(text, d.fields, python_env(base, case, d)), str), where


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_an_unedited_dictionary_writes_back_the_same_cells(path: Path) -> None:
    d = load(path)
    if any(w.code in ("renamed_variable", "missing_columns", "missing_annotation_column")
           for w in d.warnings):
        pytest.skip("renamed or padded on load, as REDCap does: not the same cells")
    assert d.to_csv() == path.read_bytes().decode("utf-8-sig")


def test_the_corpus_exercises_what_the_issue_names() -> None:
    """Comment lines, smart variables, instance suffixes and chained comparisons all occur
    in the corpus and load."""
    seen: set[str] = set()
    for path in corpus_files():
        d = load(path)
        for f in d.fields.values():
            if f.branching and f.branching.lstrip().startswith("#"):
                seen.add("comment line")
        for _, node in expressions(d):
            if node.smart_variables() or any("-" in r.event for r in node.references()):
                seen.add("smart variable")
            if any(r.instance for r in node.references()):
                seen.add("instance")
        if any(w.code == "chained_comparison" for w in d.warnings):
            seen.add("chained comparison")
        if d.action_tags().acted:
            seen.add("action tags acted on")
    assert seen == {"comment line", "smart variable", "instance", "chained comparison",
                    "action tags acted on"}
