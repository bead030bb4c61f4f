"""REDCap's expression semantics: comparison, truth, arithmetic and the special functions.

REDCap compares two values as numbers when both look like numbers and as text otherwise; a
blank field is the empty text ``''``; arithmetic with a blank gives a blank (the calc stays
empty until its inputs are filled); errors such as division by zero also give a blank rather
than an exception, so one odd answer never breaks a whole form. The functions follow
REDCap's own implementations (``init_functions.php`` and ``base.js``, REDCap 15.7); where the
two disagree, or where REDCap leaves a case open, the choice made here is stated in
``tests/forms/test_redcap_semantics.py``. ``static/branching.js`` implements the same rules
for the browser, and the tests hold the two to the same answers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from forms import dates
from forms.schedule import Schedule

Value = str | int | float | bool

_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")
_INTEGER = re.compile(r"^[-+]?\d+$")
COMPARISONS = frozenset({"=", "<>", "<", "<=", ">", ">="})


class Env:
    """What an expression sees: this event's answers, other events' answers, the event,
    the day, the project's missing-data codes, facts for smart variables (``context``:
    ``record-name``, ``user-name`` …), the event schedule and repeating instances
    (``instances``: event name, or ``""`` for the current one -> instance -> answers)."""

    __slots__ = ("context", "event", "instance", "instances", "missing", "now", "others",
                 "schedule", "today", "values")

    def __init__(
        self,
        values: Mapping[str, object],
        *,
        others: Mapping[str, Mapping[str, object]] | None = None,
        event: str | None = None,
        today: date | None = None,
        now: datetime | None = None,
        missing: Collection[str] = (),
        context: Mapping[str, str] | None = None,
        schedule: Schedule | None = None,
        instances: Mapping[str, Mapping[int, Mapping[str, object]]] | None = None,
        instance: int | None = None,
    ) -> None:
        self.values = values
        self.others = others or {}
        self.event = event
        self.today = today
        self.now = now
        self.missing = frozenset(missing)
        self.context = context or {}
        self.schedule = schedule or Schedule()
        self.instances = instances or {}
        self.instance = instance


def as_number(value: Value) -> float | None:
    """The number a value stands for, or None when it is blank or not a number."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if _NUMBER.match(value):
        return float(value)
    return None


def number_text(number: float) -> str:
    """A number as text the way a browser writes it (``String(x)`` in JavaScript), so the
    server and the page put the same characters into ``concat()`` and text comparisons."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number.is_integer() and abs(number) < 1e21:
        return str(int(number))
    sign = "-" if number < 0 else ""
    mantissa, _, exponent = repr(abs(number)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    point = len(whole) + int(exponent or 0) - (len(whole + fraction) - len(
        (whole + fraction).lstrip("0")))
    digits = digits.rstrip("0") or "0"
    if len(digits) <= point <= 21:
        return sign + digits + "0" * (point - len(digits))
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    shown = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    power = point - 1
    return f"{sign}{shown}e{'+' if power >= 0 else '-'}{abs(power)}"


def as_text(value: Value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return number_text(value)
    return str(value)


def truthy(value: Value) -> bool:
    if isinstance(value, bool):
        return value
    if value == "":
        return False
    number = as_number(value)
    return number != 0 if number is not None else True


def compare(op: str, left: Value, right: Value) -> bool:
    a, b = as_number(left), as_number(right)
    x: float | str
    y: float | str
    if a is not None and b is not None:
        x, y = a, b
    else:
        x, y = as_text(left), as_text(right)
        if op in ("<", "<=", ">", ">=") and (x == "" or y == "" or a is not None
                                              or b is not None):
            # A blank, or a number against text (a missing-data code such as UNK in a
            # number field): REDCap's page compares NaN, which is never true.
            return False
    if op in ("=", "=="):
        return x == y
    if op in ("<>", "!="):
        return x != y
    if op == "<":
        return x < y  # type: ignore[operator]
    if op == "<=":
        return x <= y  # type: ignore[operator]
    if op == ">":
        return x > y  # type: ignore[operator]
    return x >= y  # type: ignore[operator]


def tidy(number: float) -> Value:
    if math.isnan(number) or math.isinf(number):
        return ""
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def power(base: float, exponent: float) -> Value:
    """REDCap's ``powRC``: an odd root of a negative number is negative ((-8)^(1/3) = -2),
    an even one is blank."""
    try:
        if base < 0 and abs(exponent) < 1 and exponent != 0:
            if int(1 / exponent) % 2 == 0:
                return ""
            return tidy(-(abs(base) ** exponent))
        result = base**exponent
    except (OverflowError, ZeroDivisionError, ValueError):
        return ""
    return tidy(result) if isinstance(result, float | int) else ""


def arithmetic(op: str, left: Value, right: Value) -> Value:
    a, b = as_number(left), as_number(right)
    if a is None or b is None:
        return ""
    try:
        if op == "+":
            return tidy(a + b)
        if op == "-":
            return tidy(a - b)
        if op == "*":
            return tidy(a * b)
        if op == "/":
            return tidy(a / b) if b else ""
    except OverflowError:
        return ""
    return power(a, b)


def redcap_integer(value: Value) -> bool:
    """REDCap's ``isinteger``: digits with an optional sign and no leading zero."""
    text = as_text(value).strip()
    if not _INTEGER.match(text):
        return False
    digits = text.lstrip("+-")
    return digits == "0" or not digits.startswith("0")


def redcap_number(value: Value) -> bool:
    """REDCap's ``isnumber``: a number, without a leading zero before the point."""
    if isinstance(value, bool):
        return False
    text = as_text(value).strip()
    if not _NUMBER.match(text):
        return False
    digits = text.lstrip("+-")
    if len(digits) > 1 and digits.startswith("0") and "." not in digits:
        return False
    return not digits.startswith("00")


def _numbers(args: list[Value]) -> list[float]:
    return [n for n in (as_number(a) for a in args) if n is not None]


def _sum(numbers: list[float]) -> float:
    total = 0.0
    for number in numbers:
        total += number
    return total


def _median(numbers: list[float]) -> float:
    ordered = sorted(numbers)
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half] + ordered[half - 1]) / 2


def _stdev(numbers: list[float]) -> float:
    if len(numbers) < 2:
        raise ValueError("needs two numbers")
    mean = _sum(numbers) / len(numbers)
    return math.sqrt(_sum([(n - mean) * (n - mean) for n in numbers]) / (len(numbers) - 1))


def _aggregate(fn: Callable[[list[float]], float]) -> Impl:
    """Blanks and text are left out (REDCap's ``sum``, ``mean`` … skip non-numbers)."""
    def impl(env: Env, args: list[Value]) -> Value:
        numbers = _numbers(args)
        if not numbers:
            return ""
        try:
            return tidy(fn(numbers))
        except (ValueError, OverflowError):
            return ""
    return impl


def _unary(fn: Callable[[float], float]) -> Impl:
    def impl(env: Env, args: list[Value]) -> Value:
        number = as_number(args[0])
        if number is None:
            return ""
        try:
            return tidy(fn(number))
        except (ValueError, OverflowError):
            return ""
    return impl


def _rounder(mode: str) -> Impl:
    """``round`` rounds halves away from zero (PHP's ``round``); the places default to 0
    and must be a whole number."""
    def impl(env: Env, args: list[Value]) -> Value:
        number = as_number(args[0])
        places_value = args[1] if len(args) > 1 else 0
        if number is None or not redcap_integer(places_value):
            return ""
        places = int(as_text(places_value))
        if not -15 <= places <= 15:
            return ""
        factor = 10.0**places
        try:
            if mode == "round":
                scaled = math.floor(abs(number) * factor + 0.5) * math.copysign(1, number)
            elif mode == "up":
                scaled = math.ceil(number * factor)
            else:
                scaled = math.floor(number * factor)
        except (OverflowError, ValueError):
            return ""
        return tidy(scaled / factor)
    return impl


def _log(env: Env, args: list[Value]) -> Value:
    number = as_number(args[0])
    base = as_number(args[1]) if len(args) > 1 else None
    if number is None or number <= 0:
        return ""
    try:
        return tidy(math.log(number) / math.log(base) if base is not None else math.log(number))
    except (ValueError, ZeroDivisionError):
        return ""


def _mod(env: Env, args: list[Value]) -> Value:
    """Remainder of two whole numbers, with the dividend's sign (PHP's and JS's ``%``)."""
    if not redcap_integer(args[0]) or not redcap_integer(args[1]):
        return ""
    dividend, divisor = int(as_text(args[0])), int(as_text(args[1]))
    if divisor == 0:
        return ""
    return int(math.fmod(dividend, divisor))


def _text(fn: Callable[..., Value]) -> Impl:
    def impl(env: Env, args: list[Value]) -> Value:
        return fn(*[as_text(a) for a in args])
    return impl


def _count(value: Value) -> int | None:
    return int(as_text(value)) if redcap_integer(value) else None


def _left(env: Env, args: list[Value]) -> Value:
    text, count = as_text(args[0]), _count(args[1])
    return text[:count] if count is not None and count >= 1 else ""


def _right(env: Env, args: list[Value]) -> Value:
    """REDCap gives a blank when more characters are asked for than the text has."""
    text, count = as_text(args[0]), _count(args[1])
    if count is None or count < 1 or count > len(text):
        return ""
    return text[-count:]


def _mid(env: Env, args: list[Value]) -> Value:
    text, start, count = as_text(args[0]), _count(args[1]), _count(args[2])
    if start is None or start < 1 or count is None or count < 1:
        return ""
    return text[start - 1:start - 1 + count]


def _find(env: Env, args: list[Value]) -> Value:
    return as_text(args[1]).lower().find(as_text(args[0]).lower()) + 1


def _replace(env: Env, args: list[Value]) -> Value:
    text, search, replacement = (as_text(a) for a in args)
    return text.replace(search, replacement) if search else text


def _concat_ws(env: Env, args: list[Value]) -> Value:
    separator = as_text(args[0])
    return separator.join(as_text(a) for a in args[1:] if as_text(a) not in ("", "NaN"))


def _missing_fn(kind: str) -> Impl:
    """``isblankormissingcode`` and friends, against the project's missing-data codes."""
    def impl(env: Env, args: list[Value]) -> Value:
        text = as_text(args[0])
        if kind == "blank_or_missing":
            return text == "" or text in env.missing
        if kind == "blank_not_missing":
            return text == ""
        if kind == "missing":
            return text != "" and text in env.missing
        codes = [c for c in as_text(args[1]).replace(" ", "").split(",") if c]
        return text != "" and text in env.missing and text in codes
    return impl


def _datediff(env: Env, args: list[Value]) -> Value:
    unit = as_text(args[2]) if len(args) > 2 else ""
    fmt, signed = "ymd", False
    for extra in args[3:]:
        word = as_text(extra).strip().lower()
        if word in dates.ORDERS:
            fmt = word
        else:
            signed = extra is True or word in ("true", "1")
    result = dates.datediff(env, as_text(args[0]), as_text(args[1]), unit, fmt, signed)
    return "" if result is None else tidy(result)


def _calcdate(env: Env, args: list[Value]) -> Value:
    offset = as_number(args[1])
    if offset is None:
        return ""
    result = dates.calcdate(env, as_text(args[0]), offset, as_text(args[2]))
    return "" if result is None else result


def _date_part(part: str) -> Impl:
    def impl(env: Env, args: list[Value]) -> Value:
        result = dates.date_part(env, as_text(args[0]), part)
        return "" if result is None else result
    return impl


Impl = Callable[[Env, list[Value]], Value]


@dataclass(frozen=True)
class Function:
    arity: tuple[int, int | None]
    impl: Impl


def _if(env: Env, args: list[Value]) -> Value:  # pragma: no cover - compiled lazily instead
    return args[1] if truthy(args[0]) else args[2]


#: REDCap's special functions (the list of ``LogicParser::$allowedFunctions``, less its
#: internal helpers), with how many arguments each takes.
FUNCTIONS: dict[str, Function] = {
    # REDCap refuses if() without its "else" value; so do we, rather than guess one.
    "if": Function((3, 3), _if),
    "sum": Function((1, None), _aggregate(_sum)),
    "min": Function((1, None), _aggregate(min)),
    "max": Function((1, None), _aggregate(max)),
    "mean": Function((1, None), _aggregate(lambda n: _sum(n) / len(n))),
    "median": Function((1, None), _aggregate(_median)),
    "stdev": Function((1, None), _aggregate(_stdev)),
    "round": Function((1, 2), _rounder("round")),
    "roundup": Function((1, 2), _rounder("up")),
    "rounddown": Function((1, 2), _rounder("down")),
    "abs": Function((1, 1), _unary(abs)),
    "sqrt": Function((1, 1), _unary(math.sqrt)),
    "exponential": Function((1, 1), _unary(math.exp)),
    "log": Function((1, 2), _log),
    "mod": Function((2, 2), _mod),
    "datediff": Function((3, 5), _datediff),
    "calcdate": Function((3, 3), _calcdate),
    "calctext": Function((1, 1), lambda env, a: a[0]),
    "year": Function((1, 1), _date_part("year")),
    "month": Function((1, 1), _date_part("month")),
    "day": Function((1, 1), _date_part("day")),
    "isnumber": Function((1, 1), lambda env, a: redcap_number(a[0])),
    "isinteger": Function((1, 1), lambda env, a: redcap_integer(a[0])),
    "contains": Function((2, 2), _text(lambda a, b: b.lower() in a.lower())),
    "not_contain": Function((2, 2), _text(lambda a, b: b.lower() not in a.lower())),
    "starts_with": Function((2, 2), _text(lambda a, b: a.lower().startswith(b.lower()))),
    "ends_with": Function((2, 2), _text(lambda a, b: a.lower().endswith(b.lower()))),
    "find": Function((2, 2), _find),
    "left": Function((2, 2), _left),
    "right": Function((2, 2), _right),
    "mid": Function((3, 3), _mid),
    "length": Function((1, 1), _text(len)),
    "concat": Function((1, None), _text(lambda *parts: "".join(parts))),
    "concat_ws": Function((1, None), _concat_ws),
    "replace_text": Function((3, 3), _replace),
    "upper": Function((1, 1), _text(str.upper)),
    "lower": Function((1, 1), _text(str.lower)),
    "trim": Function((1, 1), _text(str.strip)),
    "isblankormissingcode": Function((1, 1), _missing_fn("blank_or_missing")),
    "isblanknotmissingcode": Function((1, 1), _missing_fn("blank_not_missing")),
    "ismissingcode": Function((1, 1), _missing_fn("missing")),
    "hasmissingcode": Function((2, 2), _missing_fn("has")),
}
