"""REDCap's logic language, construct by construct, with the behaviour REDCap documents.

Sources cited below:

* [SF] REDCap's "Special Functions" help (``Design::renderSpecialFunctionInstructions``,
  REDCap 15.7) and its implementations (``Config/init_functions.php``, ``Resources/js/base.js``);
* [LP] REDCap's logic lexer and parser (``LogicLexer.php``, ``LogicParser.php``,
  ``LogicTester::formatLogicToPHP``): comments, operators, ``[event][field(code)][instance]``;
* [SV] REDCap's smart-variable list (``Piping::getSpecialTagsInfo``);
* [MD] REDCap's Missing Data Codes (Project Setup → Additional customizations) and the
  missing-code functions of [SF].

Where REDCap is ambiguous (its PHP and JavaScript evaluators disagree), the test says which
reading is followed and why.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from forms import Env, ExpressionError, compile_expression, parse_expression
from forms.schedule import Schedule

SCHEDULE = Schedule(
    ("screen_arm_1", "m0_arm_1", "m6_arm_1", "m12_arm_1", "other_arm_2"),
    {"screen_arm_1": "1", "m0_arm_1": "1", "m6_arm_1": "1", "m12_arm_1": "1",
     "other_arm_2": "2"},
    {"screen_arm_1": frozenset({"screening"}), "m0_arm_1": frozenset({"visit"}),
     "m6_arm_1": frozenset({"visit"}), "m12_arm_1": frozenset({"visit"}),
     "other_arm_2": frozenset({"visit"})},
    {"weight": "visit", "consent": "screening"})


def run(text: str, event: str | None = "m6_arm_1", **values: Any) -> Any:
    others: dict[str, dict[str, Any]] = {"m0_arm_1": {"weight": 70},
                                         "screen_arm_1": {"consent": "1"},
                                         "m12_arm_1": {"weight": 66}}
    return compile_expression(parse_expression(text))(Env(
        values, others=others, event=event, today=date(2025, 6, 30),
        now=datetime(2025, 6, 30, 10, 15, 0), missing=("UNK", "NA"),
        context={"record-name": "C04-0001-K", "user-name": "w.c04"}, schedule=SCHEDULE,
        instances={"": {1: {"weight": 80}, 2: values, 3: {"weight": 78}}}, instance=2))


@pytest.mark.parametrize(("text", "values", "expected"), [
    # [SF] if(CONDITION, value if true, value if false)
    ("if([a] > 10, 44, 11)", {"a": 12}, 44),
    # [SF] datediff: y = 365.2425 days, M = 30.44 days, signed only when asked; a
    # difference in days between two dates is whole days (round($sec/86400))
    ("datediff('2025-01-01', '2025-03-01', 'd')", {}, 59),
    ("datediff('2025-03-01', '2025-01-01', 'd', true)", {}, -59),
    ("datediff('2025-03-01', '2025-01-01', 'd', 'ymd', true)", {}, -59),
    ("round(datediff('2000-06-30', 'today', 'y'), 2)", {}, 25),
    ("round(datediff('2025-01-01', '2025-03-01', 'M'), 3)", {}, 1.938),
    ("datediff('2025-01-01 08:00', '2025-01-01 09:30', 'm')", {}, 90),
    ("datediff([t1], [t2], 'h')", {"t1": "08:00", "t2": "14:30"}, 6.5),
    ("datediff('2025-06-30 08:15', 'now', 'h')", {}, 2),
    # [SF] round(number, places): places default to 0; PHP rounds halves away from zero
    ("round(2.5)", {}, 3), ("round(-2.5)", {}, -3), ("round(14.384, 1)", {}, 14.4),
    ("roundup(14.384, 1)", {}, 14.4), ("rounddown(14.384, 1)", {}, 14.3),
    ("round(1234, -2)", {}, 1200), ("round(2.5, 'x')", {}, ""),
    # [SF] (number)^(exponent); REDCap's powRC gives odd roots of negatives
    ("(4)^(3)", {}, 64), ("(-8)^(1/3)", {}, -2), ("(-16)^(1/2)", {}, ""),
    ("sqrt(9)", {}, 3), ("abs(-7.1)", {}, 7.1),
    ("round(exponential(1), 4)", {}, 2.7183), ("log(100, 10)", {}, 2),
    ("round(log(10), 4)", {}, 2.3026),
    # [SF] min, max, mean, median, sum, stdev ignore blanks ("blank values are ignored")
    ("sum([a], [b], 3)", {"a": 1, "b": ""}, 4), ("mean([a], [b])", {"a": 1}, 1),
    ("median(1, 5, 2, 10)", {}, 3.5), ("round(stdev(2, 4, 4, 4, 5, 5, 7, 9), 4)", {}, 2.1381),
    ("stdev(3)", {}, ""), ("min([a], 3)", {"a": ""}, 3), ("max(-1, -5)", {}, -1),
    # [SF] sum() vs +: with +, any blank makes the result blank
    ("[a] + [b] + 3", {"a": 1, "b": ""}, ""),
    # [SF] mod(dividend, divisor): remainder of whole numbers, sign of the dividend
    ("mod(10, 4)", {}, 2), ("mod(-10, 4)", {}, -2), ("mod(10, 0)", {}, ""),
    ("mod(10.5, 4)", {}, ""),
    # [SF] isnumber, isinteger (REDCap's: no leading zero, optional sign)
    ("isnumber('3.5')", {}, True), ("isnumber('007')", {}, False),
    ("isnumber('abc')", {}, False), ("isinteger('-12')", {}, True),
    ("isinteger('1.0')", {}, False), ("isinteger('012')", {}, False),
    # [SF] year(), month(), day() of a date; 'today' and 'now' may be used
    ("year([d]) * 10000 + month([d]) * 100 + day([d])", {"d": "2026-03-04"}, 20260304),
    ("year('today')", {}, 2025), ("month([d])", {"d": "31-12-2025"}, ""),
    # [SF] text functions: contains etc. are case-insensitive; find is 1-based, 0 if absent
    ("contains([n], 'TAY')", {"n": "Taylor"}, True),
    ("not_contain([n], 'smith')", {"n": "Taylor"}, True),
    ("starts_with([n], 'tay')", {"n": "Taylor"}, True),
    ("ends_with([n], 'LOR')", {"n": "Taylor"}, True),
    ("find('y', [n])", {"n": "Taylor"}, 3), ("find('z', [n])", {"n": "Taylor"}, 0),
    ("left([n], 3)", {"n": "Taylor"}, "Tay"), ("right([n], 4)", {"n": "Taylor"}, "ylor"),
    ("mid([n], 2, 3)", {"n": "Taylor"}, "ayl"), ("length([n])", {"n": "Taylor"}, 6),
    # REDCap's right() gives a blank when more characters are asked than there are
    ("right([n], 10)", {"n": "Taylor"}, ""),
    ("concat([a], ' ', [b])", {"a": "Rob", "b": "Taylor"}, "Rob Taylor"),
    ("concat_ws(' and ', [a], [b], 'Tomatoes')", {"a": "Peas", "b": ""}, "Peas and Tomatoes"),
    ("replace_text([a], 'Taylor', 'Harris')", {"a": "Rob Taylor"}, "Rob Harris"),
    ("upper('John Doe')", {}, "JOHN DOE"), ("lower(trim('  Ab '))", {}, "ab"),
    # [SF] examples given in REDCap's help
    ("mid([r], find('-', [r])+1, length([r])-find('-', [r])+1)", {"r": "4890-2318"}, "2318"),
    ("right(concat('00', [i]), 3)", {"i": 7}, "007"),
    ("round(([weight]*10000)/(([height])^(2)), 1)", {"weight": 70, "height": 175}, 22.9),
    # [SF] calcdate (@CALCDATE): a date moved by an offset; calctext (@CALCTEXT): the text
    ("calcdate('2025-01-31', 30, 'd')", {}, "2025-03-02"),
    ("calcdate('2025-01-31 10:00', -2, 'h')", {}, "2025-01-31 08:00"),
    ("calctext(if([a] = 1, 'yes', 'no'))", {"a": "1"}, "yes"),
])
def test_special_functions_follow_redcap(text: str, values: dict[str, Any],
                                         expected: Any) -> None:
    assert run(text, **values) == expected


@pytest.mark.parametrize(("text", "values", "expected"), [
    # [MD][SF] isblankormissingcode: blank or any missing code; isblanknotmissingcode:
    # blank only; ismissingcode: a code; hasmissingcode(value, 'codes'): one of those codes
    ("isblankormissingcode([a])", {"a": "UNK"}, True),
    ("isblankormissingcode([a])", {"a": ""}, True),
    ("isblankormissingcode([a])", {"a": "3"}, False),
    ("isblanknotmissingcode([a])", {"a": "UNK"}, False),
    ("ismissingcode([a])", {"a": "NA"}, True), ("ismissingcode([a])", {"a": "XX"}, False),
    ("hasmissingcode([a], 'NASK, UNK')", {"a": "UNK"}, True),
    ("hasmissingcode([a], 'NASK')", {"a": "UNK"}, False),
    # A code in a number field is not a number: arithmetic gives a blank, and a
    # comparison with a number is false, as on REDCap's data entry page (NaN).
    ("[a] + 1", {"a": "UNK"}, ""), ("[a] > 18", {"a": "UNK"}, False),
    ("[a] < 18", {"a": "UNK"}, False), ("[a] = 'UNK'", {"a": "UNK"}, True),
    ("datediff([d], 'today', 'd')", {"d": "UNK"}, ""),
])
def test_missing_data_codes_in_logic(text: str, values: dict[str, Any], expected: Any) -> None:
    assert run(text, **values) == expected


@pytest.mark.parametrize(("text", "values", "expected"), [
    # [LP] comment lines: removeCommentsAndSanitize drops lines starting with // or #
    ("# EARS, NOSE, or MOUTH conditions (yes)\n[a] = '1'", {"a": "1"}, True),
    ("// why\n  // and why not\n[a] = '1' or\n# in between\n[b] = '1'", {"b": "1"}, True),
    # [LP] <> and != are the same; = == === are the same; ! and not are the same
    ("[a] <> '1'", {"a": "2"}, True), ("[a] != '1'", {"a": "2"}, True),
    ("[a] === 1", {"a": "1"}, True), ("[a] == 1", {"a": "1"}, True),
    ("!([a] = 1)", {"a": "2"}, True), ("[a] = 1 && [b] = 2 || [c] = 3", {"c": 3}, True),
    ("[a] = 1 AND [b] = 2", {"a": 1, "b": 2}, True),
    # = compares numbers as numbers and text as text: '1.0' is 1, 'abc' is 'abc'
    ("[a] = 1", {"a": "1.0"}, True), ("[a] = 'abc'", {"a": "abc"}, True),
    ("[a] = ''", {}, True), ("[a] <> ''", {"a": "0"}, True), ("[a] > 3", {}, False),
    # Two texts compare as text, as in the browser: 'b' > 'a'
    ("[a] > 'a'", {"a": "b"}, True),
    # [LP] [field(code)] is a checkbox choice, 1 when ticked and 0 when not
    ("[cb(2)] = '1' and [cb(3)] = '0'", {"cb": ["1", "2"]}, True),
    ("[cb(2)] = 1", {"cb___2": "1"}, True),
    # [LP] [field:value] is the field itself in logic (":value]" becomes "]")
    ("[a:value] = '2'", {"a": "2"}, True),
])
def test_operators_and_references_follow_redcap(text: str, values: dict[str, Any],
                                                expected: Any) -> None:
    assert run(text, **values) is expected


def test_not_binds_to_the_comparison_where_redcap_is_ambiguous() -> None:
    """REDCap turns ``not`` into ``!``, which in PHP and JavaScript binds tighter than ``=``:
    ``not [a] = '1'`` becomes ``(!a) == '1'``, which PHP and JavaScript then evaluate
    differently ('0' is false in PHP, true in JavaScript). Since REDCap itself has no single
    answer, ``not`` negates the comparison that follows, as it reads."""
    assert run("not [a] = '1'", a="0") is True
    assert run("not [a] = '1'", a="1") is False


def test_chained_comparisons_read_left_to_right_as_redcaps_page_does() -> None:
    """``[hr] = 60 <> 100`` (a real dictionary of the corpus) is read as REDCap's data entry
    page reads it: ``([hr] = 60) <> 100``, true whatever the rate; the loader warns."""
    from forms import load_dictionary_text
    from tests.forms.helpers import csv_text, line

    assert run("[hr] = 60 <> 100", hr=72) is True
    d = load_dictionary_text(csv_text(line("hr", "text", validation="integer"),
                                      line("x", "text", branching="[hr] = 60 <> 100")))
    assert [w.code for w in d.warnings] == ["chained_comparison"]


@pytest.mark.parametrize(("text", "event", "expected"), [
    # [LP] [event][field] reads that event; [SV] [previous-event-name][field] the closest
    # earlier event of the arm where the field's form is filled, and so on
    ("[m0_arm_1][weight]", "m6_arm_1", 70),
    ("[previous-event-name][weight]", "m6_arm_1", 70),
    ("[next-event-name][weight]", "m6_arm_1", 66),
    ("[first-event-name][weight]", "m12_arm_1", 70),
    ("[last-event-name][weight]", "m0_arm_1", 66),
    ("[previous-event-name][consent]", "m6_arm_1", "1"),
    ("[previous-event-name][weight]", "m0_arm_1", ""),
    # [SV] the event smart variables on their own, within the current arm
    ("[event-name]", "m6_arm_1", "m6_arm_1"), ("[previous-event-name]", "m6_arm_1", "m0_arm_1"),
    ("[first-event-name]", "m6_arm_1", "screen_arm_1"),
    ("[last-event-name]", "m6_arm_1", "m12_arm_1"), ("[event-number]", "m6_arm_1", "3"),
    ("[arm-number]", "other_arm_2", "2"), ("[next-event-name]", "m12_arm_1", ""),
])
def test_event_references_and_smart_variables(text: str, event: str, expected: Any) -> None:
    assert run(text, event=event) == expected


@pytest.mark.parametrize(("text", "expected"), [
    # [LP] [field][n] and [field][x-instance] read one instance of a repeating form
    ("[weight][1]", 80), ("[weight][3]", 78), ("[weight][first-instance]", 80),
    ("[weight][last-instance]", 78), ("[weight][previous-instance]", 80),
    ("[weight][next-instance]", 78), ("[weight][current-instance]", 75),
    ("[weight][9]", ""),
    # [SV] instance numbers
    ("[current-instance]", 2), ("[previous-instance]", 1), ("[last-instance]", 3),
    ("[new-instance]", 4),
    # [SV] record, user, form and project facts come from the page's context; survey,
    # chart and randomisation variables are blank here
    ("[record-name]", "C04-0001-K"), ("[user-name]", "w.c04"), ("[is-form]", "1"),
    ("[is-survey]", "0"), ("[survey-url:consent]", ""), ("[aggregate-max:weight]", ""),
    ("[project-id]", ""),
])
def test_instances_and_context_smart_variables(text: str, expected: Any) -> None:
    assert run(text, weight=75) == expected


@pytest.mark.parametrize(("text", "line", "column", "construct", "redcap"), [
    # Everything refused says where, what, and what REDCap does with it.
    ("[a] = 1 // a note", 1, 9, "a comment", "REDCap refuses it too"),
    ("[a] = 1 # a note", 1, 9, "a comment", "REDCap refuses it too"),
    ("foo([a])", 1, 1, "foo()", "REDCap refuses it too"),
    ("[a] = 1 and [survey-urls:x] = ''", 1, 13, "a smart variable", "REDCap refuses it too"),
    ("[sex:label] = 'Male'", 1, 1, "a piped [field]", "REDCap refuses it too"),
    ("if([a] = 1, 2)", 1, 1, "if()", "REDCap accepts it when saved but cannot evaluate it"),
    ("[a] = 'x", 1, 7, "quoted text", "REDCap refuses it too"),
    ("[a][b][c] = 1", 1, 7, "an instance", "REDCap refuses it too"),
])
def test_refusals_name_line_column_construct_and_redcaps_verdict(
        text: str, line: int, column: int, construct: str, redcap: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression(text)
    error = caught.value
    assert (error.line, error.column, error.construct, error.redcap) == (
        line, column, construct, redcap)
    assert f"at line {line}, column {column} ({redcap})" in error.describe()


def test_a_refused_expression_in_a_dictionary_says_all_of_it() -> None:
    from forms import DictionaryError, load_dictionary_text
    from tests.forms.helpers import csv_text, line

    with pytest.raises(DictionaryError) as caught:
        load_dictionary_text(csv_text(line("a", "text"),
                                      line("b", "text", branching="[a] = 1\n  // ok\n[a] # x")))
    message = str(caught.value)
    assert "line 3, column 'Branching Logic (Show field only if...)'" in message
    assert "at line 3, column 5 of the cell (a comment; REDCap refuses it too)" in message
