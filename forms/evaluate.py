"""Compiling a parsed expression into closures evaluated against an ``Env``.

Each node becomes a small function, so an expression parsed once at load time costs only
calls afterwards. References resolve as REDCap resolves them: ``[event][field]`` reads that
event's answers (an event smart variable first finds the event, in the field's arm, where the
field's form is filled), ``[field][n]`` reads instance ``n`` of a repeating form, a checkbox
choice ``[field(code)]`` is ``'1'`` or ``'0'``, and smart variables come from the ``Env``
(``forms.smart`` lists them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from forms import smart
from forms.functions import (
    COMPARISONS,
    FUNCTIONS,
    Env,
    Value,
    arithmetic,
    as_text,
    compare,
    truthy,
)

if TYPE_CHECKING:
    from forms.expressions import Node

Compiled = Callable[[Env], Value]
_ARITHMETIC = frozenset({"+", "-", "*", "/", "^"})


def compile_expression(node: Node) -> Compiled:
    """Turn a tree into nested closures evaluated against an ``Env``."""
    op = node.op
    if op == "literal":
        constant: Value = node.value if node.value is not None else ""
        return lambda env: constant
    if op == "var":
        return _compile_var(node)
    if op == "smart":
        return _compile_smart(node)
    args = [compile_expression(a) for a in node.args]
    if op == "and":
        left, right = args
        return lambda env: truthy(left(env)) and truthy(right(env))
    if op == "or":
        left, right = args
        return lambda env: truthy(left(env)) or truthy(right(env))
    if op == "not":
        (inner,) = args
        return lambda env: not truthy(inner(env))
    if op == "neg":
        (inner,) = args
        return lambda env: arithmetic("*", -1, inner(env))
    if op in COMPARISONS or op in ("==", "!="):
        left, right = args
        return lambda env: compare(op, left(env), right(env))
    if op in _ARITHMETIC:
        left, right = args
        return lambda env: arithmetic(op, left(env), right(env))
    if op == "call":
        if node.name == "if":
            cond, then, other = args
            return lambda env: then(env) if truthy(cond(env)) else other(env)
        impl = FUNCTIONS[node.name].impl
        return lambda env: impl(env, [a(env) for a in args])
    raise ValueError(f"cannot compile node {op!r}")  # pragma: no cover - parser never makes it


def resolve_event(env: Env, event: str, field_name: str = "") -> str | None:
    """The event an ``[event][…]`` prefix names in this context (None: no such event)."""
    if event == "event-name":
        return env.event
    if event in smart.EVENT_PREFIXES:
        return env.schedule.relative(event.split("-")[0], env.event, field_name)
    return event


def _answers(env: Env, event: str | None) -> Mapping[str, Any]:
    if event is None:
        return {}
    if event == env.event or (env.event is None and event == ""):
        return env.values
    return env.others.get(event) or {}


def _instance_answers(env: Env, event: str | None, which: str) -> Mapping[str, Any]:
    """The answers of one instance of a repeating form: a number, or a relative one."""
    key = "" if event is None or event == env.event else event
    instances = env.instances.get(key) or {}
    current = env.instance or 1
    if which.isdigit():
        number: int | None = int(which)
    elif which == "current-instance":
        number = current
    elif which == "previous-instance":
        number = max((n for n in instances if n < current), default=None)
    elif which == "next-instance":
        number = min((n for n in instances if n > current), default=None)
    elif which == "first-instance":
        number = min(instances, default=None)
    else:
        number = max(instances, default=None)
    if number is None:
        return {}
    if number == current and key == "" and number not in instances:
        return env.values
    return instances.get(number) or {}


def answers_for(env: Env, name: str, event: str = "", instance: str = "") -> Mapping[str, Any]:
    """The answers a reference to ``name`` reads: this event's, another event's (a name
    or an event smart variable), or one instance's of a repeating form."""
    where = env.event if not event else resolve_event(env, event, name)
    if instance:
        return _instance_answers(env, where, instance)
    if not event:
        return env.values
    return _answers(env, where)


def _compile_var(node: Node) -> Compiled:
    name, code, event, instance = node.name, node.code, node.event, node.instance

    def source(env: Env) -> Mapping[str, Any]:
        return answers_for(env, name, event, instance)

    if code:
        def checked(env: Env) -> Value:
            answers = source(env)
            value = answers.get(name)
            if isinstance(value, list | tuple | set | frozenset):
                return "1" if code in value else "0"
            flag = answers.get(f"{name}___{code}")
            return "1" if str(flag) in ("1", "True") else "0"
        return checked

    if not event and not instance:
        def plain(env: Env) -> Value:
            return scalar(env.values.get(name))
        return plain

    def prefixed(env: Env) -> Value:
        return scalar(source(env).get(name))
    return prefixed


def _compile_smart(node: Node) -> Compiled:
    name, event = node.name, node.event

    def value(env: Env) -> Value:
        return smart_value(env, name, event)
    return value


def smart_value(env: Env, name: str, event: str = "") -> Value:
    """A smart variable's value in this context (blank when this tool cannot know it)."""
    current = resolve_event(env, event) if event else env.event
    if name in smart.BLANK_HERE:
        return env.context.get(name, "")
    if name == "event-name":
        return current or ""
    if name.endswith("-event-name") or name.endswith("-event-label"):
        found = env.schedule.relative(name.split("-")[0], current)
        return found or ""
    if name == "event-label":
        return current or ""
    if name in ("event-number", "event-id"):
        return env.schedule.number(current)
    if name in ("arm-number", "arm-label"):
        arm = env.schedule.arms.get(current or "", "")
        return arm if name == "arm-number" or not arm else f"Arm {arm}"
    if name in smart.INSTANCES:
        return _instance_number(env, name)
    return env.context.get(name, smart.context_default(name))


def _instance_number(env: Env, name: str) -> Value:
    numbers = sorted((env.instances.get("") or {}).keys())
    current = env.instance or 1
    if name == "current-instance":
        return current
    if name == "previous-instance":
        return current - 1 if current > 1 else ""
    if name == "next-instance":
        return current + 1
    if name == "first-instance":
        return numbers[0] if numbers else current
    if name == "last-instance":
        return numbers[-1] if numbers else current
    return (numbers[-1] if numbers else current) + 1


def scalar(value: object) -> Value:
    """An answer as the expression sees it: blank for None, a checkbox list joined."""
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return value
    if isinstance(value, list | tuple):
        return ",".join(as_text(v) if isinstance(v, str | int | float) else str(v)
                        for v in value)
    iso = getattr(value, "isoformat", None)
    if iso is not None:
        return str(iso())
    return str(value)
