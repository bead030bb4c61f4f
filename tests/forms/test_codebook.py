"""The codebook lists every variable with labels, choices, logic and export columns."""

from __future__ import annotations

import csv
import io

from forms import default_dictionary
from tests.forms.helpers import dd, line


def small() -> object:
    return dd(line("sex", "radio", "Sex <b>at birth</b>", choices="1, Woman | 2, Man | 3, Other"),
              line("products", "checkbox", "Products", choices="1, Heroin | 2, Cocaine"),
              line("age", "text", "Age", validation="integer", min="18", max="120",
                   required="y", branching="[sex] <> ''"),
              line("any", "calc", "Any", choices="if([products(1)] = '1', 1, 0)"))


def test_codebook_rows_and_csv() -> None:
    d = small()
    rows = d.codebook_rows()  # type: ignore[attr-defined]
    assert [r["variable"] for r in rows] == ["sex", "products", "age", "any"]
    assert rows[0]["label"] == "Sex at birth"
    assert rows[0]["choices"] == "1 = Woman; 2 = Man; 3 = Other"
    assert rows[1]["export_columns"] == "products___1 products___2"
    assert rows[3]["calculation"] == "if([products(1)] = '1', 1, 0)"
    parsed = list(csv.DictReader(io.StringIO(d.codebook_csv())))  # type: ignore[attr-defined]
    assert parsed[2]["required"] == "y" and parsed[2]["min"] == "18"
    assert parsed[2]["branching"] == "[sex] <> ''"


def test_markdown_and_html_pages() -> None:
    d = small()
    md = d.codebook_markdown()  # type: ignore[attr-defined]
    assert "## F (`f`)" in md
    assert "| `age` | Age | text (integer) | 18 to 120 | [sex] <> '' | required |" in md
    assert "columns: products___1 products___2" in md
    page = d.codebook_html()  # type: ignore[attr-defined]
    assert page.startswith("<!doctype html>")
    assert "<li>1 = Woman</li>" in page
    assert "Sex at birth" in page and "<b>" not in page


def test_study_codebook_says_when_forms_are_filled() -> None:
    md = default_dictionary().codebook_markdown()
    assert "Filled at: m0_arm_1, m6_arm_1, m12_arm_1." in md
    assert "Filled at: ongoing_arm_1." in md
    assert "`hr_services`" in md
