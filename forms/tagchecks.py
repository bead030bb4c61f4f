"""What the action tags that change entry check in an answer set.

``@CHARLIMIT`` and ``@WORDLIMIT`` bound a text answer, ``@NONEOFTHEABOVE`` makes a choice
exclusive, ``@MAXCHECKED`` caps how many choices are ticked, ``@NOMISSING`` refuses the
project's missing-data codes. Pages, workbooks and imports all validate through
``forms.validation.run``, which calls ``check`` for every question shown, so each tag is
honoured the same way everywhere. Tags inside ``@IF`` are resolved from the same answers.
"""

from __future__ import annotations

from collections.abc import Callable

from forms.actiontags import Tag
from forms.evaluate import compile_expression
from forms.expressions import Node
from forms.fields import Field
from forms.functions import Env, truthy
from forms.i18n import _, ngettext


def deciding(env: Env) -> Callable[[Node], bool]:
    """An ``@IF`` condition's truth in this answer set (a failing one chooses 'false')."""
    def decide(node: Node) -> bool:
        try:
            return truthy(compile_expression(node)(env))
        except (ArithmeticError, ValueError, TypeError):
            return False
    return decide


def in_force(f: Field, env: Env) -> tuple[Tag, ...]:
    """The field's tags in force for these answers."""
    if not f.tags.conditionals:
        return f.tags.tags
    return f.tags.resolve(deciding(env))


def check(f: Field, value: object, env: Env) -> tuple[str, str] | None:
    """(problem code, what is expected) for the first tag the value breaks, or None."""
    tags = {t.name: t for t in in_force(f, env) if t.acted}
    if isinstance(value, str) and value in env.missing:
        if "@NOMISSING" in tags:
            return "missing_code_refused", _(
                "an answer: the missing-data codes ({codes}) are not accepted for this "
                "question").format(codes=", ".join(sorted(env.missing)))
        return None
    if isinstance(value, str):
        limit = tags.get("@CHARLIMIT")
        if limit is not None and limit.number is not None and len(value) > limit.number:
            return "too_long", _("at most {limit} characters (you typed {count})").format(
                limit=limit.number, count=len(value))
        words = tags.get("@WORDLIMIT")
        count = len(value.split())
        if words is not None and words.number is not None and count > words.number:
            return "too_long", _("at most {limit} words (you typed {count})").format(
                limit=words.number, count=count)
    if isinstance(value, list):
        exclusive = tags.get("@NONEOFTHEABOVE")
        if exclusive is not None and len(value) > 1:
            alone = [code for code in exclusive.codes if code in value]
            if alone:
                label = f.choices.get(alone[0], alone[0])
                return "none_of_the_above", _(
                    "either '{label}' alone or other answers, not both").format(label=label)
        most = tags.get("@MAXCHECKED")
        if most is not None and most.number is not None and len(value) > most.number:
            return "too_many_choices", ngettext(
                "at most {count} ticked answer", "at most {count} ticked answers",
                most.number).format(count=most.number)
    return None
