"""Keeping the catalogues: extract the English words from the sources, update each
language's ``.po`` files, list what is left to translate, and compile to ``.mo``.

Babel does the work (its extractors for Python and, through jinja2, for templates); this
module only says which sources feed which domain, so that ``cohort i18n update`` and the
test that fails on an untranslated message read the same map.
"""

from __future__ import annotations

import ast
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from forms.i18n import DOMAINS, LOCALES, gettext, ngettext, pgettext
from forms.i18n.mo import compile_tree

#: The repository (or installed site-packages) root holding the four packages.
ROOT = Path(__file__).resolve().parents[2]

# Templates are extracted as ``speaking`` makes them run (newstyle, trimmed): a "%" in a
# {% trans %} block without variables is then looked up as written ("5%"), not doubled.
_JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trimmed": "true", "newstyle_gettext": "true"}


def speaking(env: jinja2.Environment) -> jinja2.Environment:
    """``env`` with its words through the reader's catalogue: ``{% trans %}`` and ``_()``,
    newstyle (``_("Saved %(n)s", n=3)`` formats after translating, and escapes), trimmed;
    the pages and the report both, as the extraction above reads them."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]  # added by ext.i18n
        gettext, ngettext, newstyle=True, pgettext=pgettext)
    env.policies["ext.i18n.trimmed"] = True
    return env

#: domain -> (pattern, method) pairs, relative to ROOT; the first matching pattern wins,
#: so a file feeds exactly one domain. ``ignore`` skips a file.
SOURCES: dict[str, list[tuple[str, str]]] = {
    "messages": [("cohort/messages/en.py", "forms.i18n.catalogues:extract_message_catalogue"),
                 ("cohort/cli/**.py", "ignore"), ("cohort/excel/**.py", "ignore"),
                 ("cohort/migrations/**.py", "ignore"), ("cohort/**.py", "python")],
    "pages": [("api/templates/**.html", "jinja2"), ("api/**.py", "python")],
    "forms": [("forms/i18n/**.py", "ignore"), ("forms/**.py", "python")],
    "excel": [("cohort/excel/**.py", "python")],
    "report": [("analysis/templates/**.html", "jinja2"), ("analysis/**.py", "python")],
    "cli": [("cohort/cli/**.py", "python")],
}

_TOP = {"messages": "cohort", "pages": "api", "forms": "forms", "excel": "cohort/excel",
        "report": "analysis", "cli": "cohort/cli"}


def extract_message_catalogue(fileobj: Any, keywords: Any, comment_tags: Any,
                              options: Any) -> Iterator[tuple[int, str, Any, list[str]]]:
    """Babel extractor for ``cohort/messages/en.py``: each template is a msgid, its id the
    context (``pgettext(id, english)``), so translators see the English and the id."""
    tree = ast.parse(fileobj.read())
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict):
            continue
        for key, value in zip(node.keys, node.values, strict=True):
            if (isinstance(key, ast.Constant) and isinstance(key.value, str)
                    and isinstance(value, ast.Constant) and isinstance(value.value, str)):
                yield (key.lineno, "pgettext", (key.value, value.value), [])
            elif (isinstance(key, ast.Constant) and isinstance(key.value, str)
                  and isinstance(value, ast.JoinedStr)):
                raise ValueError(f"catalogue entry {key.value!r} is an f-string")


def _method_map(domain: str) -> list[tuple[str, str]]:
    top = _TOP[domain]
    return [(pattern[len(top) + 1:] if pattern.startswith(top + "/") else pattern, method)
            for pattern, method in SOURCES[domain]]


def extract(domain: str) -> Catalog:
    """The English words of ``domain`` as found in the sources now."""
    catalog = Catalog(domain=domain, project="outsider-cohort", charset="utf-8",
                      fuzzy=False)
    options = {pattern: _JINJA_OPTIONS for pattern, method in _method_map(domain)
               if method == "jinja2"}
    for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / _TOP[domain], method_map=_method_map(domain), options_map=options,
            strip_comment_tags=True):
        catalog.add(message, None, [(f"{_TOP[domain]}/{filename}", lineno)],
                    auto_comments=comments, context=context)
    return catalog


def po_path(lang: str, domain: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{domain}.po"


def read(lang: str, domain: str) -> Catalog:
    path = po_path(lang, domain)
    if not path.exists():
        return Catalog(locale=lang, domain=domain, fuzzy=False)
    with path.open("rb") as handle:
        return read_po(handle, locale=lang, domain=domain)


def update(lang: str, domains: Iterable[str] = DOMAINS) -> dict[str, int]:
    """Bring ``lang``'s ``.po`` files in line with the sources (new words added empty,
    changed words marked fuzzy, gone words dropped); returns how many are left per domain."""
    left: dict[str, int] = {}
    for domain in domains:
        template = extract(domain)
        catalog = read(lang, domain)
        if po_path(lang, domain).exists():  # no date churn: only the messages differ
            template.creation_date = catalog.creation_date
        catalog.update(template, no_fuzzy_matching=False)
        catalog.obsolete.clear()
        path = po_path(lang, domain)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        write_po(buffer, catalog, width=100, sort_output=False, omit_header=False,
                 include_previous=False)
        path.write_bytes(buffer.getvalue())
        left[domain] = len(missing(lang, domain))
    return left


@dataclass(frozen=True)
class Gap:
    """A message the sources use that a language's catalogue does not translate."""

    domain: str
    context: str | None
    msgid: str
    why: str  # "missing", "untranslated", "fuzzy", "placeholders"
    where: str

    def __str__(self) -> str:
        ctx = f" [{self.context}]" if self.context else ""
        return f"{self.domain}: {self.why}{ctx} {self.msgid!r} ({self.where})"


def _placeholders(text: str) -> set[str]:
    import re

    return set(re.findall(r"\{[a-zA-Z_][a-zA-Z0-9_]*[^{}]*\}|%\([a-z_]+\)s", text))


def missing(lang: str, domain: str) -> list[Gap]:
    """What ``lang`` leaves untranslated in ``domain``: absent, empty, fuzzy, or with
    placeholders that differ from the English (which would break at render time)."""
    catalog = read(lang, domain)
    gaps: list[Gap] = []
    for message in extract(domain):
        if not message.id:
            continue
        where = ", ".join(f"{f}:{n}" for f, n in message.locations[:2])
        found = catalog.get(message.id, context=message.context)
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        if found is None:
            gaps.append(Gap(domain, message.context, msgid, "missing", where))
            continue
        strings = found.string if isinstance(found.string, tuple) else (found.string,)
        if not all(strings):
            gaps.append(Gap(domain, message.context, msgid, "untranslated", where))
        elif found.fuzzy:
            gaps.append(Gap(domain, message.context, msgid, "fuzzy", where))
        elif _placeholders(msgid) != _placeholders(str(strings[0])):
            gaps.append(Gap(domain, message.context, msgid, "placeholders", where))
    return gaps


def compile_all(target: Path | None = None) -> list[Path]:
    """Compile every ``.po`` to ``.mo`` beside it, or under ``target`` (a build directory
    with the same ``forms/i18n/locales`` layout)."""
    return compile_tree(LOCALES, ROOT, target)
