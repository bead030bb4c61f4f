"""No words for people outside the catalogue in the page templates (issue 14).

Every template under ``api/templates`` is parsed with Jinja's own parser. Words inside
``{% trans %}`` or ``_()`` are not template data once parsed (they become calls to
gettext), so any ``TemplateData`` node that still holds words is English that a French
reader would see untranslated; so is a bare string literal written out
(``{{ "yes" if x else "no" }}``). The data of a template is joined in source order (each
other expression or tag stands as a neutral mark), HTML tags are read, and what remains
is checked:

* text between tags, and the values of attributes people read (``title``,
  ``placeholder``, ``aria-label``, ``alt``, and ``data-label`` / ``data-name``, which the
  phone layout and the "Sort by" list show);
* not the values of other attributes (``class``, ``href``, ``id``, ``name``, ``type``,
  ``value``, ``method``, ``action``, ``rel``, ``src``...), nor scripts and styles, nor
  comments and entities.

"Words" are runs of two letters or more; ``ALLOWED`` lists the few that are the same in
every language.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from jinja2 import nodes

from api.pages.common import TEMPLATES

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "api" / "templates"
#: Attributes whose value a person reads (or hears, with a screen reader).
HUMAN_ATTRIBUTES = frozenset({"title", "placeholder", "aria-label", "alt", "data-label",
                              "data-name", "label", "aria-description"})
#: Names, acronyms and codes that read the same in English and French: the study's and
#: the intervention's names, file formats, units, time zone, timepoint codes.
ALLOWED = frozenset({
    "OUTSIDER", "AERLI", "REDCap", "CSV", "UTC", "API", "KB", "MB", "M0", "M6", "M12",
    "xlsx", "csv", "PDF", "HTML", "JSON", "OK",
})
#: Stands for an expression or a tag between two pieces of template data.
MARK = "\x00"

_ATTRIBUTE = re.compile(r"""([^\s=/>]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]*))?""")
_TAG = re.compile(r"<(/?)([a-zA-Z\x00][\w:\x00-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
_WORD = re.compile(r"[^\W\d_]{2,}")


def _literals(expr: nodes.Node) -> list[str]:
    """What an output expression writes when it is a bare literal (``{{ "yes" }}``,
    ``{{ "yes" if x else "no" }}``); anything else (a name, ``_()``, a filter) is a MARK."""
    if isinstance(expr, nodes.Const) and isinstance(expr.value, str):
        return [expr.value]
    if isinstance(expr, nodes.CondExpr):
        return [*_literals(expr.expr1), MARK,
                *(_literals(expr.expr2) if expr.expr2 is not None else [])]
    return [MARK]


def _pieces(node: nodes.Node) -> list[str]:
    pieces: list[str] = []
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.TemplateData):
            pieces.append(child.data)
        elif isinstance(child, nodes.Output):
            for part in child.nodes:
                pieces.extend([part.data] if isinstance(part, nodes.TemplateData)
                              else _literals(part))
        else:
            pieces.append(MARK)
            pieces.extend(_pieces(child))
    return pieces


def _data(path: Path) -> str:
    """The template's data (and the bare literals it writes) in source order, a ``MARK``
    wherever anything else stood."""
    tree = TEMPLATES.env.parse(path.read_text(encoding="utf-8"), path.name, str(path))
    return "".join(_pieces(tree))


def _words(text: str) -> list[str]:
    text = html.unescape(re.sub(r"&[#\w]+;", " ", text))
    return [w for w in _WORD.findall(text.replace(MARK, " ")) if w not in ALLOWED]


def bare_words(source: str) -> list[str]:
    """Pieces of ``source`` (joined template data) holding words outside the catalogue."""
    source = re.sub(r"<!--.*?-->|<![^>]*>", " ", source, flags=re.S)
    source = re.sub(r"<(script|style)\b[^>]*>.*?</\1>", " ", source, flags=re.S | re.I)
    found: list[str] = []
    position = 0
    for tag in _TAG.finditer(source):
        between = source[position:tag.start()]
        if _words(between):
            found.append(between.strip())
        position = tag.end()
        for name, value in _ATTRIBUTE.findall(tag.group(3)):
            if name.lower() in HUMAN_ATTRIBUTES and _words(value.strip("\"'")):
                found.append(f"{name}={value}")
    rest = source[position:]
    if _words(rest):
        found.append(rest.strip())
    return [piece.replace(MARK, "{…}") for piece in found]


TEMPLATES_FOUND = sorted(TEMPLATE_DIR.rglob("*.html"))


def test_every_template_is_checked() -> None:
    assert len(TEMPLATES_FOUND) > 10


@pytest.mark.parametrize("path", TEMPLATES_FOUND,
                         ids=[str(p.relative_to(TEMPLATE_DIR)) for p in TEMPLATES_FOUND])
def test_template_has_no_words_outside_the_catalogue(path: Path) -> None:
    found = bare_words(_data(path))
    assert not found, (f"{path.name}: words outside {{% trans %}} / _():\n  "
                       + "\n  ".join(found[:30]))


@pytest.mark.parametrize(("source", "expected"), [
    ('<p class="muted small">Nothing here.</p>', ["Nothing here."]),
    ('<input placeholder="Study code">', ['placeholder="Study code"']),
    ('<th data-label="\x00 done">', ['data-label="{…} done"']),
    ('<a href="/deviations?centre=\x00" class="badge badge-open">\x00</a>', []),
    ('<td>\x00 · \x00</td><span>&shy;&nbsp;</span>', []),
    ("<p>AERLI · M0 · REDCap CSV</p>", []),
    ("<script>var words = 'Sort by';</script><!-- a note -->", []),
    ('<option value="long">\x00</option>', []),
    ('<\x00 class="centre" data-label="\x00">\x00</\x00>', []),
])
def test_the_check_itself(source: str, expected: list[str]) -> None:
    assert bare_words(source) == expected


@pytest.mark.parametrize(("template", "expected"), [
    ('<td>{{ "yes" if ok else "no" }}</td>', ["yes\x00no".replace("\x00", "{…}")]),
    ('<td class="{{ \'warn\' if late }}">{{ _("Late") }}</td>', []),
    ("{% trans n=3 %}{{ n }} rows{% endtrans %}<b>{{ n }}</b>", []),
    ("{% block title %}Retention{% endblock %}", ["{…}Retention"]),
])
def test_literals_written_out_count_as_words(template: str, expected: list[str]) -> None:
    tree = TEMPLATES.env.parse(template)
    assert bare_words("".join(_pieces(tree))) == expected
