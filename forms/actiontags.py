"""REDCap's action tags in the Field Annotation column: read, checked, and sorted into the
ones this tool acts on and the ones it keeps without acting on them.

Reading follows REDCap (``ActionTags::ANY_ACTION_TAG_REGEX`` and ``Form::getValueIn…`` in
REDCap 15.7): a tag is ``@`` and capitals (with inner hyphens) at the start of the text or
after white space; ``@TAG=value`` takes a quoted value or the word up to the next space;
``@TAG(...)`` takes what is inside balanced parentheses (quotes protect their content);
``@IF(condition, tags, tags)`` chooses between two sets of tags, whose condition is REDCap
logic. Comment lines (``#``, ``//``) are ignored, as REDCap ignores them in annotations.

A tag is never a reason to refuse a dictionary: a tag this tool does not act on, or one
whose value cannot be read, is kept in the annotation (and written back unchanged) and
reported by ``cohort dictionary check`` as "kept, not acted on", with why.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from forms.errors import ExpressionError
from forms.expressions import Node, parse_expression, strip_comments
from forms.i18n import N_, _

TAG: Final = re.compile(r"(?<!\S)@[A-Z]+(?:-[A-Z]+)*(?=\s|=|\(|$)")

#: Tags this tool acts on, and how (the README's table says the same).
ACTED: Final[dict[str, str]] = {
    "@HIDDEN": "not shown on entry pages; no column in workbooks",
    "@HIDDEN-FORM": "not shown on entry pages; no column in workbooks",
    "@READONLY": "shown but not editable on pages; a locked column in workbooks",
    "@READONLY-FORM": "shown but not editable on pages; a locked column in workbooks",
    "@DEFAULT": "pre-fills a new form on pages and the rows of a new workbook",
    "@TODAY": "pre-fills a new form on pages with today's date",
    "@NOW": "pre-fills a new form on pages with the date and time",
    "@TODAY-SERVER": "pre-fills a new form with the server's date",
    "@NOW-SERVER": "pre-fills a new form with the server's date and time",
    "@TODAY-UTC": "pre-fills a new form with the date in UTC",
    "@NOW-UTC": "pre-fills a new form with the date and time in UTC",
    "@CALCTEXT": "computed like a calc field, shown live on pages, stored on save",
    "@CALCDATE": "computed like a calc field, shown live on pages, stored on save",
    "@CHARLIMIT": "longer answers refused on pages, in workbooks and on import",
    "@WORDLIMIT": "answers with more words refused on pages, in workbooks and on import",
    "@NONEOFTHEABOVE": "that choice cannot be ticked with another one",
    "@HIDECHOICE": "those choices are not offered on pages and in workbooks (still read)",
    "@SHOWCHOICE": "only those choices are offered on pages and in workbooks (all read)",
    "@MAXCHECKED": "no more than that many choices may be ticked",
    "@NOMISSING": "the project's missing-data codes are not accepted in this field",
    "@PLACEHOLDER": "shown as the input's placeholder on pages",
    "@IF": "its condition chooses the tags acted on, from the answers at hand",
}

#: Why the other tags REDCap knows are kept without being acted on (``why_kept`` gives it in
#: the reader's language).
KEPT_BECAUSE: Final[dict[str, str]] = {
    "@HIDDEN-SURVEY": N_("this tool has no surveys"),
    "@READONLY-SURVEY": N_("this tool has no surveys"),
    "@HIDDEN-APP": N_("REDCap mobile app only"),
    "@READONLY-APP": N_("REDCap mobile app only"),
    "@HIDDEN-PDF": N_("this tool prints no PDF forms"),
    "@SYNC-APP": N_("REDCap mobile app only"),
    "@APPUSERNAME-APP": N_("REDCap mobile app only"),
    "@BARCODE-APP": N_("REDCap mobile app only"),
    "@MAXCHOICE": N_("needs the answers of every record"),
    "@MAXCHOICE-SURVEY-COMPLETE": N_("needs surveys and every record"),
    "@RANDOMORDER": N_("choices are always shown in the dictionary's order"),
    "@SETVALUE": N_("pages never overwrite a saved answer"),
    "@PREFILL": N_("pages never overwrite a saved answer"),
    "@USERNAME": N_("answers are never filled with account names"),
    "@LATITUDE": N_("no location is collected"),
    "@LONGITUDE": N_("no location is collected"),
    "@PASSWORDMASK": N_("answers are shown as typed"),
    "@HIDEBUTTON": N_("no date or now buttons"),
    "@INLINE": N_("file uploads are not stored"),
    "@INLINE-PREVIEW": N_("file uploads are not stored"),
    "@DOWNLOAD-COUNT": N_("file uploads are not stored"),
    "@RICHTEXT": N_("notes are plain text"),
    "@FORCE-MINMAX": N_("out-of-range answers are always refused here"),
    "@CONSENT-VERSION": N_("no e-Consent"),
    "@SAVE-PROMPT-EXEMPT": N_("pages do not prompt"),
    "@SAVE-PROMPT-EXEMPT-WHEN-AUTOSET": N_("pages do not prompt"),
    "@DEACTIVATED-ACTION-TAGS": N_("REDCap's own marker"),
}

CALC_TAGS: Final = ("@CALCTEXT", "@CALCDATE")
#: Tags whose value is a number.
_NUMBER_TAGS: Final = frozenset({"@CHARLIMIT", "@WORDLIMIT", "@MAXCHECKED"})
#: Tags whose value is a list of choice codes.
_CODE_TAGS: Final = frozenset({"@NONEOFTHEABOVE", "@HIDECHOICE", "@SHOWCHOICE"})


def why_kept(name: str) -> str:
    if name in KEPT_BECAUSE:
        return _(KEPT_BECAUSE[name])
    if name.startswith("@LANGUAGE-"):
        return _("translations are not managed by this tool yet")
    if name.startswith("@MC-"):
        return _("MyCap only")
    return _("not one of REDCap's action tags (an external module's?)")


@dataclass(frozen=True)
class Tag:
    """One action tag: its name (``@DEFAULT``), its value (quotes removed, or what is
    inside its parentheses) and, for ``@CALCTEXT``/``@CALCDATE``, its parsed logic."""

    name: str
    value: str = ""
    node: Node | None = None
    problem: str = ""

    @property
    def acted(self) -> bool:
        return self.name in ACTED and not self.problem

    @property
    def number(self) -> int | None:
        return int(self.value) if self.value.isdigit() else None

    @property
    def codes(self) -> list[str]:
        return [c.strip() for c in self.value.split(",") if c.strip()]


@dataclass(frozen=True)
class Conditional:
    """``@IF(condition, then, otherwise)``: two sets of tags, one chosen by the logic."""

    text: str
    node: Node | None
    then: Annotation
    otherwise: Annotation
    problem: str = ""


@dataclass(frozen=True)
class Annotation:
    """The action tags of one Field Annotation."""

    tags: tuple[Tag, ...] = ()
    conditionals: tuple[Conditional, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.tags or self.conditionals)

    def resolve(self, decide: Callable[[Node], bool] | None = None) -> tuple[Tag, ...]:
        """The tags in force: plain ones, and those each ``@IF`` chooses (``decide`` says
        whether a condition holds; without it, an ``@IF`` chooses its second set, as
        REDCap does when a condition cannot be evaluated)."""
        out = list(self.tags)
        for cond in self.conditionals:
            chosen = cond.then if (cond.node is not None and decide is not None
                                   and decide(cond.node)) else cond.otherwise
            out.extend(chosen.resolve(decide))
        return tuple(out)

    def first(self, name: str, decide: Callable[[Node], bool] | None = None) -> Tag | None:
        return next((t for t in self.resolve(decide) if t.name == name and not t.problem),
                    None)

    def has(self, name: str, decide: Callable[[Node], bool] | None = None) -> bool:
        return self.first(name, decide) is not None

    def every(self) -> Iterator[Tag]:
        """Every tag written, in both branches of every ``@IF`` too."""
        yield from self.tags
        for cond in self.conditionals:
            yield Tag("@IF", cond.text, cond.node, cond.problem)
            yield from cond.then.every()
            yield from cond.otherwise.every()

    def expressions(self) -> Iterator[tuple[str, Node]]:
        """(what, tree) of every piece of logic in the annotation, for load-time checks."""
        for tag in self.every():
            if tag.node is not None:
                yield tag.name, tag.node


EMPTY: Final = Annotation()


def _quoted_end(text: str, start: int) -> int:
    """The index just past the quote closing the one at ``start`` (or the end)."""
    end = text.find(text[start], start + 1)
    return len(text) if end < 0 else end + 1


def _scan(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """(index, character, parenthesis depth after it) of each character outside quotes."""
    depth, pos = 0, start
    while pos < len(text):
        char = text[pos]
        if char in "'\"":
            pos = _quoted_end(text, pos)
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        yield pos, char, depth
        pos += 1


def _parenthesised(text: str, start: int) -> tuple[str, int] | None:
    """What is inside the parentheses opening at ``start``, and the index after them."""
    for pos, char, depth in _scan(text, start):
        if char == ")" and depth == 0:
            return text[start + 1:pos].strip(), pos + 1
    return None


def _split_top(text: str) -> list[str]:
    """Split on commas outside quotes and parentheses."""
    parts, begin = [], 0
    for pos, char, depth in _scan(text):
        if char == "," and depth == 0:
            parts.append(text[begin:pos].strip())
            begin = pos + 1
    parts.append(text[begin:].strip())
    return parts


def _value(text: str, pos: int) -> tuple[str, int]:
    """``=value`` after a tag: a quoted value, or the word up to the next space."""
    match = re.compile(r"\s*=\s*").match(text, pos)
    if match is None:
        return "", pos
    pos = match.end()
    if pos < len(text) and text[pos] in "'\"":
        end = _quoted_end(text, pos)
        return text[pos + 1:end - 1], end
    word = re.compile(r"\S*").match(text, pos)
    assert word is not None  # noqa: S101 - \S* always matches
    return word.group().strip("'\""), word.end()


def _logic(text: str) -> tuple[Node | None, str]:
    try:
        return parse_expression(text), ""
    except ExpressionError as error:
        return None, _("its logic does not parse: {error}").format(error=error.describe())


def _checked(name: str, value: str) -> Tag:
    if name in _NUMBER_TAGS and not value.isdigit():
        return Tag(name, value, problem=_("{tag} needs a whole number, not '{value}'").format(
            tag=name, value=value))
    if name in _CODE_TAGS and not value.strip():
        return Tag(name, value, problem=_("{tag} needs choice codes, e.g. {example}").format(
            tag=name, example=f"{name}='99'"))
    if name == "@CALCTEXT":
        node, problem = _logic(value) if value else (
            None, _("{tag} needs its logic").format(tag="@CALCTEXT"))
        return Tag(name, value, node, problem)
    if name == "@CALCDATE":
        node, problem = _logic(f"calcdate({value})") if value else (
            None, _("{tag} needs {arguments}").format(tag="@CALCDATE",
                                                     arguments=_("(date, offset, unit)")))
        return Tag(name, value, node, problem)
    return Tag(name, value)


def parse_annotation(text: str) -> Annotation:
    """Read every action tag of a Field Annotation (anything else in it is ignored)."""
    text = strip_comments(text)
    tags: list[Tag] = []
    conditionals: list[Conditional] = []
    pos = 0
    while (match := TAG.search(text, pos)) is not None:
        name, pos = match.group(), match.end()
        opening = re.compile(r"\s*\(").match(text, pos)
        if opening is not None:
            inside = _parenthesised(text, opening.end() - 1)
            if inside is None:
                tags.append(Tag(name, problem=_("{tag}( is never closed with ')'").format(
                    tag=name)))
                continue
            value, pos = inside
            if name == "@IF":
                conditionals.append(_conditional(value))
                continue
            tags.append(_checked(name, value))
            continue
        value, pos = _value(text, pos)
        tags.append(_checked(name, value))
    return Annotation(tuple(tags), tuple(conditionals))


def _conditional(inside: str) -> Conditional:
    parts = _split_top(inside)
    if len(parts) != 3:
        return Conditional(inside, None, EMPTY, EMPTY,
                           problem=_("{tag} needs {arguments}").format(
                               tag="@IF",
                               arguments=_("(condition, tags if true, tags if false)")))
    node, problem = _logic(parts[0])
    return Conditional(parts[0], node, parse_annotation(parts[1].strip("'\"")),
                       parse_annotation(parts[2].strip("'\"")), problem)


@dataclass
class TagReport:
    """Which tags a dictionary uses, acted on or kept (with why), and the fields using them."""

    acted: dict[str, list[str]] = field(default_factory=dict)
    kept: dict[str, list[str]] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def add(self, field_name: str, tag: Tag) -> None:
        if tag.acted:
            self.acted.setdefault(tag.name, []).append(field_name)
            return
        self.kept.setdefault(tag.name, []).append(field_name)
        self.reasons.setdefault(tag.name, tag.problem or why_kept(tag.name))
