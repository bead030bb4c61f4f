"""Property-based tests: the expression parser never crashes.

Whatever the text, ``parse_expression`` either returns a tree (which compiles, evaluates
without raising, and exports as JSON) or raises ``ExpressionError`` located inside the text.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from forms import Env, ExpressionError, compile_expression, parse_expression

ATOMS = st.sampled_from([
    "[a]", "[b]", "[cb(2)]", "[m0_arm_1][a]", "'1'", '"x"', "0", "12.5", "''", "true",
    "[event-name]", "'today'",
])
OPS = st.sampled_from(["=", "<>", "!=", ">=", "<", "+", "-", "*", "/", "^", "and", "or"])
ARITY = {"if": (3, 3), "year": (1, 1), "sum": (1, 3), "round": (1, 2), "abs": (1, 1), "min": (1, 3),
         "max": (1, 3), "mean": (1, 3), "datediff": (3, 5)}


def _binary(parts: tuple[str, str, str]) -> str:
    left, op, right = parts
    text = f"{left} {op} {right}"
    # REDCap does not chain comparisons (a = b = c); a comparison is bracketed as a whole.
    return f"({text})" if op in ("=", "<>", "!=", ">=", "<") else text


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, OPS, children).map(_binary),
        children.map(lambda c: f"({c})"),
        children.map(lambda c: f"not {c}"),
        children.map(lambda c: f"-{c}"),
        st.sampled_from(sorted(ARITY)).flatmap(lambda name: st.lists(
            children, min_size=ARITY[name][0], max_size=ARITY[name][1]).map(
            lambda args: f"{name}({', '.join(args)})")),
    )


EXPRESSIONS = st.recursive(ATOMS, _combine, max_leaves=12)
TOKENS = st.lists(st.sampled_from([
    "[a]", "[", "]", "(", ")", "'", '"', "=", "<>", "and", "or", "not", "if", ",", "1", " ",
    "\n", "[cb(", "^", "sum(", "[m0_arm_1]", "x", "#", "é",
]), max_size=25).map("".join)

VALUES = st.fixed_dictionaries({}, optional={
    "a": st.one_of(st.text(max_size=5), st.integers(), st.floats(allow_nan=False)),
    "b": st.sampled_from(["", "1", "0", "2025-01-01", "abc"]),
    "cb": st.lists(st.sampled_from(["1", "2", "3"]), max_size=3),
})


def _check(text: str, values: dict[str, object]) -> None:
    try:
        node = parse_expression(text)
    except ExpressionError as error:
        assert error.line >= 1 and error.column >= 1
        lines = text.split("\n")
        assert error.line <= len(lines)
        assert error.column <= len(lines[error.line - 1]) + 1
        return
    json.dumps(node.to_json())
    result = compile_expression(node)(Env(values, event="m6_arm_1"))
    assert isinstance(result, str | int | float | bool)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60), VALUES)
def test_any_text_parses_or_fails_with_a_location(text: str, values: dict[str, object]) -> None:
    _check(text, values)


@settings(max_examples=400, deadline=None)
@given(TOKENS, VALUES)
def test_token_soup_parses_or_fails_with_a_location(text: str,
                                                    values: dict[str, object]) -> None:
    _check(text, values)


@settings(max_examples=300, deadline=None)
@given(EXPRESSIONS, VALUES)
def test_well_formed_expressions_always_parse_and_evaluate(text: str,
                                                           values: dict[str, object]) -> None:
    node = parse_expression(text)
    assert isinstance(node.to_json(), dict)
    compile_expression(node)(Env(values))
