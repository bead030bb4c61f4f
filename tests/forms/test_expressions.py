"""REDCap branching logic and calculations: grammar, located errors, REDCap semantics."""

from __future__ import annotations

from datetime import date

import pytest

from forms import Env, ExpressionError, compile_expression, parse_expression


def run(text: str, event: str | None = None, others: dict[str, dict[str, object]] | None = None,
        **values: object) -> object:
    return compile_expression(parse_expression(text))(
        Env(values, others=others, event=event, today=date(2025, 6, 30)))


@pytest.mark.parametrize(("text", "values", "expected"), [
    ("[a] = '1'", {"a": "1"}, True),
    ("[a] = \"1\"", {"a": "1"}, True),
    ("[a] = 1", {"a": "1.0"}, True),
    ("[a] == '2'", {"a": "1"}, False),
    ("[a] <> '1'", {"a": "2"}, True),
    ("[a] != '1'", {"a": "1"}, False),
    ("[a] >= 18", {"a": 18}, True),
    ("[a] > 18", {"a": "9"}, False),
    ("[a] < 100", {"a": "9"}, True),
    ("[a] <= 9", {"a": 9.5}, False),
    ("[a] = ''", {}, True),
    ("[a] <> ''", {"a": "x"}, True),
    ("[a] > 3", {}, False),
    ("[a] = 'abc'", {"a": "abc"}, True),
    ("[a] = '1' and [b] = '1'", {"a": "1", "b": "0"}, False),
    ("[a] = '1' or [b] = '1'", {"a": "1", "b": "0"}, True),
    ("[a] = '1' AND [b] = '1' OR [c] = '1'", {"c": "1"}, True),
    ("[a] = '1' and ([b] = '1' or [c] = '1')", {"c": "1"}, False),
    ("not [a] = '1'", {"a": "0"}, True),
    ("not([a] = '1' or [b] = '1')", {"a": "0"}, True),
    ("[cb(2)] = '1'", {"cb": ["1", "2"]}, True),
    ("[cb(3)] = '1'", {"cb": ["1", "2"]}, False),
    ("[cb(3)] = '0'", {}, True),
    ("[cb(2)] = '1'", {"cb___2": 1}, True),
])
def test_branching_follows_redcap(text: str, values: dict[str, object], expected: bool) -> None:
    assert run(text, **values) is expected


@pytest.mark.parametrize(("text", "values", "expected"), [
    ("1 + 2 * 3", {}, 7),
    ("(1 + 2) * 3", {}, 9),
    ("2 ^ 3 ^ 2", {}, 512),
    ("-2 ^ 2", {}, -4),
    ("10 / 4", {}, 2.5),
    ("10 / 0", {}, ""),
    ("[a] + 1", {}, ""),
    ("[a] * 2", {"a": "3,5"}, ""),
    ("round(([weight]*10000)/(([height])^(2)),1)", {"weight": 70, "height": 175}, 22.9),
    ("round(2.5)", {}, 3),
    ("roundup(2.01, 1)", {}, 2.1),
    ("rounddown(2.09, 1)", {}, 2),
    ("rounddown(2.19, 1)", {}, 2.1),
    ("abs(-3)", {}, 3),
    ("sum([a], [b], [c])", {"a": 1, "b": "2"}, 3),
    ("sum([a])", {}, ""),
    ("min(3, 1, 2)", {}, 1),
    ("max(3, [x], 2)", {}, 3),
    ("mean(1, 2)", {}, 1.5),
    ("median(1, 5, 2)", {}, 2),
    ("sqrt(9)", {}, 3),
    ("sqrt(-1)", {}, ""),
    ("if([a] = '1', 10, 20)", {"a": "1"}, 10),
    ("if([a] = '1', 10, 20)", {}, 20),
    ("year([d])", {"d": "2026-03-04"}, 2026),
    ("month([d]) + day([d])", {"d": "2026-03-04"}, 7),
    ("year([d])", {"d": ""}, ""),
    ("year([d])", {"d": "not a date"}, ""),
    ("if([a] = '1' or [b] = '1', 1, 0)", {"b": "1"}, 1),
    ("datediff([d1], [d2], 'd')", {"d1": "2025-01-01", "d2": "2025-01-31"}, 30),
    ("datediff([d2], [d1], 'd')", {"d1": "2025-01-01", "d2": "2025-01-31"}, 30),
    ("datediff([d2], [d1], 'd', 'ymd', true)", {"d1": "2025-01-01", "d2": "2025-01-31"}, -30),
    ("round(datediff([dob], 'today', 'y'), 0)", {"dob": "2000-06-30"}, 25),
    ("datediff([d1], [d2], 'd', 'dmy')", {"d1": "01-02-2025", "d2": "2025-02-11"}, 10),
    ("datediff([d1], [d2], 'h')", {"d1": "2025-01-01T10:00", "d2": "2025-01-01 13:30"}, 3.5),
    ("datediff([d1], [d2], 'd')", {"d1": "2025-01-01"}, ""),
    ("concat('a', [x], 'b')", {"x": 1}, "a1b"),
    ("length('abc')", {}, 3),
    ("contains([t], 'ab')", {"t": "xABy"}, True),
    ("log(100, 10)", {}, 2),
])
def test_calculations_follow_redcap(text: str, values: dict[str, object],
                                    expected: object) -> None:
    result = run(text, **values)
    assert result == expected
    if isinstance(expected, float):
        assert isinstance(result, float)


def test_event_prefixed_references_read_the_other_event() -> None:
    others: dict[str, dict[str, object]] = {"m0_arm_1": {"a": "1"}}
    assert run("[m0_arm_1][a] = '1'", event="m6_arm_1", others=others) is True
    assert run("[m0_arm_1][a] = ''", event="m6_arm_1") is True
    assert run("[m0_arm_1][a] = '2'", event="m0_arm_1", a="2") is True


def test_event_name_smart_variable_is_the_current_event() -> None:
    assert run("[event-name] = 'm6_arm_1'", event="m6_arm_1") is True
    assert run("[event-name] = 'm6_arm_1'") is False


def test_tree_exports_as_json_for_the_browser() -> None:
    node = parse_expression("[cb(2)] = '1' and not [m0_arm_1][a] >= 3")
    assert node.to_json() == {"op": "and", "args": [
        {"op": "=", "args": [{"op": "var", "name": "cb", "code": "2"},
                             {"op": "literal", "value": "1"}]},
        {"op": "not", "args": [{"op": ">=", "args": [
            {"op": "var", "name": "a", "event": "m0_arm_1"}, {"op": "literal", "value": 3}]}]},
    ]}
    call = parse_expression("sum([a], 2)").to_json()
    assert call == {"op": "call", "name": "sum", "args": [{"op": "var", "name": "a"},
                                                          {"op": "literal", "value": 2}]}


@pytest.mark.parametrize(("text", "line", "column", "words"), [
    ("", 1, 1, "empty"),
    ("[a] = ", 1, 7, "expected a value"),
    ("[a] = '1", 1, 7, "never closed"),
    ("([a] = '1'", 1, 11, "expected ')'"),
    ("[a] = '1' [b]", 1, 11, "operator missing"),
    ("[a] = '1' and\n  [b] # 2", 2, 7, "unexpected character"),
    ("foo([a])", 1, 1, "unknown function"),
    ("if([a])", 1, 1, "takes 3 arguments"),
    ("if([a] = '1', 1)", 1, 1, "takes 3 arguments, not 2"),
    ("year()", 1, 1, "takes 1 argument, not 0"),
    ("[a] = b", 1, 7, "unknown word"),
    ("[a b] = 1", 1, 1, "not a field name"),
    ("[a", 1, 1, "never closed"),
    ("and [a]", 1, 1, "needs something"),
    ("(" * 100 + "1" + ")" * 100, 1, 61, "nested"),
])
def test_syntax_errors_are_located(text: str, line: int, column: int, words: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression(text)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert words in caught.value.reason
    assert f"line {line}, column {column}" in str(caught.value)


def test_references_lists_the_fields_named() -> None:
    node = parse_expression("[a] = '1' or [cb(2)] = '1' or [m0_arm_1][c] > 1")
    assert [(r.name, r.code, r.event) for r in node.references()] == [
        ("a", "", ""), ("cb", "2", ""), ("c", "", "m0_arm_1")]
