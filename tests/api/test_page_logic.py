"""A form page in Chromium: live piping, computed fields, action tags, missing-data codes.

The page is the real template (``_fields.html``) rendered from a REDCap-style dictionary by
``api.formview.form_page``, with the real ``logic.js`` and ``branching.js``. A person types
and taps; what REDCap's data entry page would do happens: piped answers update in the
labels, calc and ``@CALCTEXT`` fields compute, branching shows and hides, ``@NONEOFTHEABOVE``
unticks the other choices, ``@HIDDEN`` fields are not shown but keep their default,
``@READONLY`` ones cannot be typed in, a missing-data code can be chosen instead of an answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.formview import form_page
from api.pages.common import TEMPLATES
from forms import load_dictionary_text
from tests.api.browser_site import ARGS, CHROMIUM, SHOTS
from tests.forms.helpers import csv_text, line

pytestmark = [pytest.mark.browser]

API = Path(__file__).resolve().parents[2] / "api"
PAGE = """{% from "_fields.html" import render_fields %}
<html><head><style>{{ css }}</style></head><body>
<form method="post" class="stack dict-form" novalidate data-env="{{ env }}">
{{ render_fields(fields) }}</form></body></html>"""


@pytest.fixture(scope="module")
def tab() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make system-deps)")
    from playwright.sync_api import sync_playwright

    d = load_dictionary_text(csv_text(
        line("name", "text", "Your name"),
        line("greet", "descriptive", "Hello [name], you chose [sex] ([sex:value])"),
        line("sex", "radio", "Sex", choices="1, Female | 2, Male | 3, Other",
             annotation="@HIDECHOICE='3'"),
        line("preg", "yesno", "Pregnant?", branching="[sex] = '1'"),
        line("w", "text", "Weight", validation="number"),
        line("h", "text", "Height", validation="number"),
        line("bmi", "calc", "BMI", choices="round([w]/(([h]/100)^(2)), 1)"),
        line("size", "text", "Size", annotation="@CALCTEXT(if([w] > 100, 'heavy', 'light'))"),
        line("cb", "checkbox", "Used", choices="1, Heroin | 2, Cocaine | 99, None",
             annotation="@NONEOFTHEABOVE='99'"),
        line("hid", "text", "Hidden", annotation="@HIDDEN @DEFAULT='kept'"),
        line("ro", "text", "Locked", annotation="@READONLY @DEFAULT='fixed'"),
        line("n", "text", "Count", validation="integer")),
        missing_text="UNK, Unknown")
    page = form_page(list(d.fields.values()), {}, dictionary=d, new=True, event="m0_arm_1")
    # The pages' own environment: the templates' words go through its gettext.
    html = TEMPLATES.env.from_string(PAGE).render(fields=page.fields, env=page.env,
                                  css=(API / "static" / "app.css").read_text())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        view = browser.new_page()
        view.set_content(html)
        for script in ("words.js", "logic.js", "branching.js"):
            view.add_script_tag(content=(API / "static" / script).read_text())
        try:
            yield view
        finally:
            browser.close()


def test_a_person_filling_the_form_sees_what_redcap_shows(tab: Any) -> None:
    piped = "#field-greet .piped"
    assert tab.locator(piped).all_inner_texts() == ["______", "______", "______"]
    tab.fill("#in-name", "Ann")
    tab.check("input[name=sex][value='2']")
    assert tab.locator(piped).all_inner_texts() == ["Ann", "Male", "2"]
    # @HIDECHOICE: choice 3 is not offered; branching hides the pregnancy question.
    assert tab.locator("input[name=sex]").count() == 2
    assert not tab.is_visible("#field-preg")
    tab.check("input[name=sex][value='1']")
    assert tab.is_visible("#field-preg")
    # The calc and the @CALCTEXT field compute as the person types.
    tab.fill("#in-w", "70")
    tab.fill("#in-h", "175")
    assert tab.inner_text("#out-bmi") == "22.9"
    assert tab.inner_text("#out-size") == "light"
    tab.fill("#in-w", "120")
    assert tab.inner_text("#out-size") == "heavy"
    # @NONEOFTHEABOVE: ticking "None" unticks the rest, and the other way round.
    tab.check("input[name=cb][value='1']")
    tab.check("input[name=cb][value='99']")
    assert not tab.is_checked("input[name=cb][value='1']")
    tab.check("input[name=cb][value='2']")
    assert not tab.is_checked("input[name=cb][value='99']")
    # @HIDDEN: not shown, its default still sent; @READONLY: shown, not editable.
    assert not tab.is_visible("#field-hid")
    assert tab.input_value("#in-hid") == "kept" and tab.is_enabled("#in-hid")
    assert tab.get_attribute("#in-ro", "readonly") is not None
    assert tab.input_value("#in-ro") == "fixed"
    # A missing-data code instead of an answer.
    tab.select_option("select[name=n__missing]", "UNK")
    assert "is-missing" in (tab.get_attribute("#field-n", "class") or "")
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / "redcap-features.png"), full_page=True)


def test_the_server_reads_a_submitted_page_as_the_tags_say() -> None:
    """What the browser sends is read back with the same rules: a computed field is never
    read (the server computes it), a locked field keeps the value it was shown with, a
    missing-data code chosen in a field's list is its answer."""
    from starlette.datastructures import FormData

    from api.formview import answers_from_form, locked_values

    d = load_dictionary_text(csv_text(
        line("w", "text", validation="number"),
        line("size", "text", annotation="@CALCTEXT(if([w] > 100, 'heavy', 'light'))"),
        line("ro", "text", annotation="@READONLY @DEFAULT='fixed'"),
        line("n", "text", validation="integer")), missing_text="UNK, Unknown")
    fields = list(d.fields.values())
    page = form_page(fields, {}, dictionary=d, new=True)
    sent = FormData([("w", "120"), ("size", "typed"), ("ro", "changed"), ("n", "4"),
                     ("n__missing", "UNK")])
    answers = answers_from_form(fields, sent, locked_values(page))
    assert answers == {"w": "120", "ro": "fixed", "n": "UNK"}
    result = d.validate("f", answers)
    assert result.ok and result.clean["size"] == "heavy" and result.clean["n"] == "UNK"
