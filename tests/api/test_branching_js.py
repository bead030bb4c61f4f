"""The browser's branching evaluator (``api/static/branching.js``) agrees with the server's.

The server (``forms.expressions``) is authoritative; the page hides and shows questions
with the JavaScript evaluator on the same syntax tree (``Field.branching_ast``). Every
branching expression of ``data_dictionary.csv`` and a set of edge cases (``<>``, ``!=``,
``>=``, and/or/not, parentheses, checkbox codes, numbers against text, blank answers) are
evaluated on the same answer sets, in real headless Chromium and in Python, and compared.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from cohort.dictionary import get_dictionary
from forms.expressions import compile_expression, parse_expression
from forms.functions import Env, truthy
from tests.api.test_browser_flows import Live, live, page  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EDGE_CASES = [
    "[a] <> '1'", "[a] != 1", "[a] >= 2", "[a] > '10'", "[a] < 5", "[a] <= [b]",
    "[a] = '1' and [b] = '2'", "[a] = '1' or not [b] = '2'", "not ([a] = 1 or [b] = 1)",
    "([a] = 1 or [b] = 1) and [a] <> [b]", "[cb(2)] = '1'", "[cb(2)] = 1 and [cb(3)] = 0",
    "[cb(2)] <> '1' or [a] = ''", "[a] = ''", "[a] <> ''", "[a] = 'abc'", "[a] = [b]",
    "[a] = 1.0", "[a] > 'a'",
]
SCALARS = ["", "0", "1", "2", "10", "9", "1.0", "abc"]
BOXES: list[list[str]] = [[], ["2"], ["3"], ["2", "3"]]


def _answer_sets(names: list[str], checkboxes: set[str]) -> list[dict[str, Any]]:
    choices = [BOXES if n in checkboxes else SCALARS for n in names]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]


def _cases() -> list[tuple[str, dict[str, Any]]]:
    cases: list[tuple[str, dict[str, Any]]] = []
    dictionary = get_dictionary()
    for form in dictionary.forms.values():
        for f in form.fields:
            if not f.branching or f.branching_node is None:
                continue
            refs = f.branching_node.references()
            names = sorted({r.name for r in refs})
            boxes = {r.name for r in refs if r.code}
            cases += [(f.branching, a) for a in _answer_sets(names, boxes)]
    for text in EDGE_CASES:
        refs = parse_expression(text).references()
        names = sorted({r.name for r in refs})
        boxes = {r.name for r in refs if r.code}
        cases += [(text, a) for a in _answer_sets(names, boxes)]
    return cases


def test_browser_and_server_branching_agree(live: Live, page: Any) -> None:  # noqa: F811
    cases = _cases()
    page.set_content('<form class="dict-form"></form>')
    page.add_script_tag(url=f"{live.base}/static/branching.js")
    trees = {text: parse_expression(text) for text, _ in cases}
    payload = [[trees[text].to_json(), answers] for text, answers in cases]
    browser = page.evaluate(
        "cases => cases.map(c => window.cohortBranching.truthy("
        "window.cohortBranching.evaluate(c[0], c[1])))", payload)
    server = [truthy(compile_expression(trees[text])(Env(answers))) for text, answers in cases]
    disagree = [f"{text} with {json.dumps(answers)}: browser {b}, server {s}"
                for (text, answers), b, s in zip(cases, browser, server, strict=True) if b != s]
    assert len(cases) > 300
    assert not disagree, f"{len(disagree)} of {len(cases)} disagree:\n" + "\n".join(disagree)
