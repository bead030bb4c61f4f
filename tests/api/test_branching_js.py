"""The browser's evaluator (``api/static/logic.js``) agrees with the server's.

The server (``forms.evaluate``) is authoritative; pages show and hide questions, compute calc
and ``@CALCTEXT``/``@CALCDATE`` fields and pipe answers with the JavaScript evaluator on the
same syntax trees. Here both evaluate, in real headless Chromium and in Python:

* every expression of the study's dictionary and a set of edge cases (``<>``, ``!=``,
  ``>=``, and/or/not, parentheses, checkbox codes, numbers against text, blanks, missing-data
  codes, every special function, smart variables, other events, instances);
* every expression of every dictionary of the REDCap corpus (``tests/data/redcap_corpus``),
  on answers generated for the fields each one reads, and every piped label and note.

Each dictionary is one ``page.evaluate`` call (thousands of cases in one JSON round trip),
which keeps the whole file to a few seconds of CI time.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cohort.dictionary import get_dictionary
from forms import DataDictionary, parse_expression
from forms.evaluate import compile_expression
from forms.functions import Env, truthy
from forms.piping import references, render
from tests.api.browser_site import ARGS, CHROMIUM
from tests.forms import corpus

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOGIC = Path(__file__).resolve().parents[2] / "api" / "static" / "logic.js"
EDGE_CASES = [
    "[a] <> '1'", "[a] != 1", "[a] >= 2", "[a] > '10'", "[a] < 5", "[a] <= [b]",
    "[a] = '1' and [b] = '2'", "[a] = '1' or not [b] = '2'", "not ([a] = 1 or [b] = 1)",
    "([a] = 1 or [b] = 1) and [a] <> [b]", "[cb(2)] = '1'", "[cb(2)] = 1 and [cb(3)] = 0",
    "[cb(2)] <> '1' or [a] = ''", "[a] = ''", "[a] <> ''", "[a] = 'abc'", "[a] = [b]",
    "[a] = 1.0", "[a] > 'a'", "[a] === 1", "![a] = 1", "[a] = 1 <> 0",
    "# a comment line\n[a] = '1'", "// another\n  [a] > 2 and [b] < 9",
    "isblankormissingcode([a])", "ismissingcode([a]) or isblanknotmissingcode([b])",
    "hasmissingcode([a], 'UNK, NA')", "mod([a], 3)", "mod([a], [b])", "find('b', [a])",
    "mid([a], 2, 2)", "left([a], 2)", "right([a], 5)", "length([a])", "concat([a], '-', [b])",
    "concat_ws(' and ', [a], [b], 'x')", "replace_text([a], 'b', 'B')", "upper([a])",
    "lower(trim([a]))", "contains([a], 'B')", "starts_with([a], 'a')", "ends_with([a], 'c')",
    "not_contain([a], 'z')", "isnumber([a])", "isinteger([a])", "round([a] / 3, 2)",
    "roundup([a] / 7, 1)", "rounddown([a] / 7)", "sqrt([a])", "abs([a] - [b])",
    "exponential([a] / 100)", "log([a], 10)", "log([a])", "(-8)^(1/3)", "([a])^(2)",
    "sum([a], [b], 3)", "mean([a], [b])", "median([a], [b], 1)", "stdev([a], [b], 4)",
    "min([a], [b])", "max([a], [b], -1)", "if([a] > 3, 'big', 'small')",
    "datediff([d1], [d2], 'd')", "datediff([d1], [d2], 'y', true)",
    "datediff([d1], 'today', 'M')", "datediff([d1], [d2], 'h', 'ymd', true)",
    "datediff([t1], [t2], 'm')", "calcdate([d1], 30, 'd')", "calcdate([d1], -1.5, 'y')",
    "calctext(concat([a], '!'))", "year([d1]) + month([d1]) + day([d1])", "year('today')",
    "[event-name] = 'visit_1_arm_1'", "[previous-event-name][a] = [a]",
    "[first-event-name][a]", "[last-event-name] <> ''", "[event-number] = 2",
    "[base_arm_1][a] > [a]", "[a][2] = [a][previous-instance]", "[a][last-instance]",
    "[current-instance] + [next-instance]", "[record-name] = '1001'", "[user-name]",
    "[is-form] = 1", "[survey-url:consent] = ''", "[a:value] = [a]",
]
SCALARS = ["", "0", "1", "2", "10", "9", "1.0", "abc", "UNK", "-3", 7, 2.5, "Abc-b c"]
DATES = ["", "2025-01-31", "2024-02-29", "2025-06-30T08:30", "31-01-2025", "UNK", "xyz"]
BOXES: list[list[str]] = [[], ["2"], ["3"], ["2", "3"]]


@pytest.fixture(scope="module")
def browser_page() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make system-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        tab = browser.new_page()
        tab.set_content("<html><body></body></html>")
        tab.add_script_tag(content=LOGIC.read_text(encoding="utf-8"))
        try:
            yield tab
        finally:
            browser.close()


def same(server: Any, browser: Any) -> bool:
    if isinstance(server, bool) or isinstance(browser, bool):
        return server is browser
    if isinstance(server, int | float) and isinstance(browser, int | float):
        return math.isclose(server, browser, rel_tol=1e-9, abs_tol=1e-12)
    return bool(server == browser)


JS_BATCH = """batch => batch.cases.map(c => {
  const env = Object.assign({}, batch.base, c.env);
  try {
    return c.pipe ? {v: cohortLogic.pipe(c.pipe, env, batch.fields)}
                  : {v: cohortLogic.evaluate(batch.trees[c.tree], env)};
  } catch (e) { return {error: String(e)}; }
})"""


def _run(page: Any, d: DataDictionary | None, trees: list[dict[str, Any]],
         cases: list[dict[str, Any]], base: dict[str, Any]) -> list[Any]:
    fields = {} if d is None else pipe_fields_of(d)
    # One JSON string each way: Playwright's own argument serialisation is twenty times
    # slower on thousands of cases.
    payload = json.dumps({"trees": trees, "cases": cases, "base": base, "fields": fields})
    out = json.loads(page.evaluate(
        f"text => JSON.stringify(({JS_BATCH})(JSON.parse(text)))", payload))
    return [r.get("v", r.get("error")) for r in out]


def pipe_fields_of(d: DataDictionary) -> dict[str, Any]:
    """The page's ``pipeFields`` for every field (what ``form_page`` sends for a form)."""
    return {name: {"choices": [[c, label] for c, label in f.choices.items()],
                   "checkbox": f.is_checkbox, "validation": f.validation or ""}
            for name, f in d.fields.items()}


def _edge_env(answers: dict[str, Any]) -> dict[str, Any]:
    others = {"visit_0_arm_1": dict(answers),
              "base_arm_1": {"a": "5"}}
    return {"values": answers, "others": others,
            "instances": {"": {"1": {"a": "4"}, "2": answers, "3": {"a": "x"}}}, "instance": 2}


SCHEDULE = {"events": ["visit_0_arm_1", "visit_1_arm_1", "visit_2_arm_1", "base_arm_1"],
            "arms": {"visit_0_arm_1": "1", "visit_1_arm_1": "1", "visit_2_arm_1": "1",
                     "base_arm_1": "1"},
            "forms": {"visit_0_arm_1": ["f"], "visit_1_arm_1": ["f"], "visit_2_arm_1": ["f"],
                      "base_arm_1": ["f"]}, "fieldForms": {"a": "f"}}


def _edge_cases() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for text in EDGE_CASES:
        refs = parse_expression(text).references()
        names = sorted({r.name for r in refs})
        boxes = {r.name for r in refs if r.code}
        choices = [BOXES if n in boxes else DATES if n.startswith("d")
                   else ["", "08:30", "23:05:10", "x"] if n.startswith("t") else SCALARS
                   for n in names]
        combos = list(itertools.product(*choices))
        random.Random(text).shuffle(combos)
        out += [(text, dict(zip(names, combo, strict=True))) for combo in combos[:60]]
    for form in get_dictionary().forms.values():
        for f in form.fields:
            if f.branching_node is None:
                continue
            refs = f.branching_node.references()
            names = sorted({r.name for r in refs})
            boxes = {r.name for r in refs if r.code}
            for combo in itertools.islice(itertools.product(
                    *[BOXES if n in boxes else SCALARS[:8] for n in names]), 200):
                out.append((f.branching or "", dict(zip(names, combo, strict=True))))
    return out


def test_edge_cases_and_the_study_dictionary_agree(browser_page: Any) -> None:
    from forms.schedule import Schedule

    schedule = Schedule(tuple(SCHEDULE["events"]), dict(SCHEDULE["arms"]),  # type: ignore[arg-type]
                        {e: frozenset(f) for e, f in SCHEDULE["forms"].items()},  # type: ignore[union-attr]
                        {"a": "f"})
    cases = _edge_cases()
    texts = sorted({t for t, _ in cases})
    trees = {t: parse_expression(t) for t in texts}
    index = {t: i for i, t in enumerate(texts)}
    base = {"event": "visit_1_arm_1", "today": corpus.TODAY.isoformat(),
            "now": corpus.NOW.strftime("%Y-%m-%dT%H:%M:%S"), "missing": list(corpus.MISSING),
            "context": corpus.CONTEXT, "schedule": SCHEDULE}
    payload = [{"tree": index[t], "env": _edge_env(a)} for t, a in cases]
    browser = _run(browser_page, None, [trees[t].to_json() for t in texts], payload, base)
    disagree = []
    for (text, answers), case, js in zip(cases, payload, browser, strict=True):
        env = Env(answers, others=case["env"]["others"], event="visit_1_arm_1",
                  today=corpus.TODAY, now=corpus.NOW, missing=corpus.MISSING,
                  context=corpus.CONTEXT, schedule=schedule,
                  instances={"": {1: {"a": "4"}, 2: answers, 3: {"a": "x"}}}, instance=2)
        py = compile_expression(trees[text])(env)
        if not same(py, js):
            disagree.append(f"{text!r} with {json.dumps(answers)}: browser {js!r}, "
                            f"server {py!r}")
    assert len(cases) > 1500
    assert not disagree, f"{len(disagree)} of {len(cases)} disagree:\n" + "\n".join(
        disagree[:40])
    # The study's own branching, as before: shown or hidden alike.
    assert all(isinstance(truthy(v), bool) for v in browser if not isinstance(v, list))


@pytest.mark.parametrize("path", corpus.corpus_files(), ids=lambda p: p.name)
def test_every_corpus_expression_and_piped_text_agrees(browser_page: Any, path: Path) -> None:
    d = corpus.load(path)
    rng = random.Random(path.name)
    base = corpus.environment(d)
    exprs = corpus.expressions(d)
    trees = [node.to_json() for _, node in exprs]
    cases: list[dict[str, Any]] = []
    where: list[tuple[str, Any]] = []
    for i, (label, node) in enumerate(exprs):
        for case in corpus.answer_sets(d, node, rng, 6):
            cases.append({"tree": i, "env": case})
            where.append((label, (node, case)))
    for label, text in corpus.piped_texts(d):
        refs = [ref for _, _, ref in references(text, d.fields)]
        node = parse_expression(" + ".join(f"[{r.name}]" for r in refs if not r.smart) or "1")
        for case in corpus.answer_sets(d, node, rng, 3):
            for ref in refs:
                cases.append({"pipe": ref.to_json(), "env": case})
                where.append((f"{label} {ref.source}", (ref, case)))
    if not cases:
        pytest.skip("no logic and no piping in this dictionary")
    browser = _run(browser_page, d, trees, cases, base)
    disagree = []
    for (label, (subject, case)), js in zip(where, browser, strict=True):
        env = corpus.python_env(base, case, d)
        if hasattr(subject, "op"):
            py: Any = compile_expression(subject)(env)
        else:
            py = render(subject, d.fields, env)
        if not same(py, js):
            disagree.append(f"{label}: browser {js!r}, server {py!r} with "
                            f"{json.dumps(case['values'])[:300]}")
    assert not disagree, f"{len(disagree)} of {len(cases)} disagree:\n" + "\n".join(
        disagree[:30])
