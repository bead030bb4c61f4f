"""REDCap's expression semantics: comparison, truth, arithmetic and the functions.

REDCap compares two values as numbers when both look like numbers and as text otherwise; a
blank field is the empty text ``''``; arithmetic with a blank gives a blank (the calc stays
empty until its inputs are filled). Errors such as division by zero also give a blank rather
than an exception, so one odd answer never breaks a whole form.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

Value = str | int | float | bool

_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


class Env:
    """What an expression sees: this event's answers, other events' answers, the event."""

    __slots__ = ("event", "others", "today", "values")

    def __init__(
        self,
        values: Mapping[str, object],
        *,
        others: Mapping[str, Mapping[str, object]] | None = None,
        event: str | None = None,
        today: date | None = None,
    ) -> None:
        self.values = values
        self.others = others or {}
        self.event = event
        self.today = today


def as_number(value: Value) -> float | None:
    """The number a value stands for, or None when it is blank or not a number."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if _NUMBER.match(value):
        return float(value)
    return None


def as_text(value: Value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
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
        if op in ("<", "<=", ">", ">=") and (x == "" or y == ""):
            return False
    if op in ("=", "=="):
        return x == y
    if op in ("<>", "!="):
        return x != y
    if isinstance(x, str) != isinstance(y, str):  # pragma: no cover - same branch above
        return False
    if op == "<":
        return x < y  # type: ignore[operator]
    if op == "<=":
        return x <= y  # type: ignore[operator]
    if op == ">":
        return x > y  # type: ignore[operator]
    return x >= y  # type: ignore[operator]


def _tidy(number: float) -> Value:
    if math.isnan(number) or math.isinf(number):
        return ""
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def arithmetic(op: str, left: Value, right: Value) -> Value:
    a, b = as_number(left), as_number(right)
    if a is None or b is None:
        return ""
    try:
        if op == "+":
            return _tidy(a + b)
        if op == "-":
            return _tidy(a - b)
        if op == "*":
            return _tidy(a * b)
        if op == "/":
            return _tidy(a / b) if b else ""
        result = a**b
        return _tidy(result) if isinstance(result, float | int) else ""
    except (OverflowError, ZeroDivisionError, ValueError):
        return ""


def _numbers(args: list[Value]) -> list[float]:
    return [n for n in (as_number(a) for a in args) if n is not None]


def _aggregate(fn: Callable[[list[float]], float]) -> Callable[[Env, list[Value]], Value]:
    def impl(env: Env, args: list[Value]) -> Value:
        numbers = _numbers(args)
        if not numbers:
            return ""
        try:
            return _tidy(fn(numbers))
        except (ValueError, OverflowError, statistics.StatisticsError):
            return ""
    return impl


def _unary(fn: Callable[[float], float]) -> Callable[[Env, list[Value]], Value]:
    def impl(env: Env, args: list[Value]) -> Value:
        number = as_number(args[0])
        if number is None:
            return ""
        try:
            return _tidy(fn(number))
        except (ValueError, OverflowError):
            return ""
    return impl


def _rounder(mode: str) -> Callable[[Env, list[Value]], Value]:
    def impl(env: Env, args: list[Value]) -> Value:
        number = as_number(args[0])
        places = as_number(args[1]) if len(args) > 1 else 0.0
        if number is None or places is None or not -15 <= places <= 15:
            return ""
        factor = 10 ** int(places)
        try:
            if mode == "round":
                scaled = math.floor(abs(number) * factor + 0.5) * math.copysign(1, number)
            elif mode == "up":
                scaled = math.ceil(number * factor)
            else:
                scaled = math.floor(number * factor)
        except (OverflowError, ValueError):
            return ""
        return _tidy(scaled / factor)
    return impl


_DATE_FORMATS = {
    "ymd": (r"(\d{4})-(\d{1,2})-(\d{1,2})", (0, 1, 2)),
    "mdy": (r"(\d{1,2})-(\d{1,2})-(\d{4})", (2, 0, 1)),
    "dmy": (r"(\d{1,2})-(\d{1,2})-(\d{4})", (2, 1, 0)),
}
_UNITS = {"y": 365.2425 * 86400, "M": 30.436875 * 86400, "d": 86400.0, "h": 3600.0,
          "m": 60.0, "s": 1.0}


def parse_moment(value: Value, fmt: str, env: Env) -> datetime | None:
    """A date or date-time written as REDCap stores it (ISO), or in ``fmt``; 'today'/'now'."""
    text = as_text(value).strip().replace("/", "-")
    if text.lower() == "today":
        today = env.today or date.today()
        return datetime(today.year, today.month, today.day)
    if text.lower() == "now":
        return datetime.now()
    candidates = ["ymd", fmt] if fmt != "ymd" else ["ymd"]
    for name in candidates:
        pattern, order = _DATE_FORMATS.get(name, _DATE_FORMATS["ymd"])
        match = re.fullmatch(pattern + r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?", text)
        if match is None:
            continue
        parts = [int(match.group(i + 1)) for i in range(3)]
        year, month, day = (parts[i] for i in order)
        hour, minute, second = (int(match.group(i) or 0) for i in (4, 5, 6))
        try:
            return datetime(year, month, day, hour, minute, second)
        except ValueError:
            return None
    return None


def _datediff(env: Env, args: list[Value]) -> Value:
    unit = as_text(args[2]) if len(args) > 2 else "d"
    fmt = "ymd"
    signed = False
    for extra in args[3:]:
        if isinstance(extra, bool):
            signed = extra
        elif as_text(extra).lower() in _DATE_FORMATS:
            fmt = as_text(extra).lower()
        elif as_text(extra).lower() == "true":
            signed = True
    first, second = parse_moment(args[0], fmt, env), parse_moment(args[1], fmt, env)
    if first is None or second is None or unit not in _UNITS:
        return ""
    seconds = (second - first).total_seconds() / _UNITS[unit]
    return _tidy(seconds if signed else abs(seconds))


def _text_fn(fn: Callable[..., Value]) -> Callable[[Env, list[Value]], Value]:
    def impl(env: Env, args: list[Value]) -> Value:
        return fn(*[as_text(a) for a in args])
    return impl


def _left_right(side: str) -> Callable[[Env, list[Value]], Value]:
    def impl(env: Env, args: list[Value]) -> Value:
        count = as_number(args[1])
        text = as_text(args[0])
        if count is None or count < 0:
            return ""
        n = int(count)
        return text[:n] if side == "left" else (text[-n:] if n else "")
    return impl


@dataclass(frozen=True)
class Function:
    arity: tuple[int, int | None]
    impl: Callable[[Env, list[Value]], Value]


def _if(env: Env, args: list[Value]) -> Value:  # pragma: no cover - compiled lazily instead
    return args[1] if truthy(args[0]) else args[2]


def _date_part(part: str) -> Callable[[Env, list[Value]], Value]:
    """REDCap's ``year()``, ``month()``, ``day()``: blank for a blank or unreadable date."""
    def impl(env: Env, args: list[Value]) -> Value:
        moment = parse_moment(args[0], "ymd", env)
        return "" if moment is None else int(getattr(moment, part))
    return impl


FUNCTIONS: dict[str, Function] = {
    # REDCap refuses if() without its "else" value; so do we, rather than guess one.
    "if": Function((3, 3), _if),
    "sum": Function((1, None), _aggregate(math.fsum)),
    "min": Function((1, None), _aggregate(min)),
    "max": Function((1, None), _aggregate(max)),
    "mean": Function((1, None), _aggregate(statistics.fmean)),
    "median": Function((1, None), _aggregate(statistics.median)),
    "stdev": Function((1, None), _aggregate(statistics.stdev)),
    "round": Function((1, 2), _rounder("round")),
    "roundup": Function((1, 2), _rounder("up")),
    "rounddown": Function((1, 2), _rounder("down")),
    "abs": Function((1, 1), _unary(abs)),
    "sqrt": Function((1, 1), _unary(math.sqrt)),
    "exp": Function((1, 1), _unary(math.exp)),
    "log": Function((1, 2), lambda env, a: _log(a)),
    "datediff": Function((3, 5), _datediff),
    "year": Function((1, 1), _date_part("year")),
    "month": Function((1, 1), _date_part("month")),
    "day": Function((1, 1), _date_part("day")),
    "isnumber": Function((1, 1), lambda env, a: as_number(a[0]) is not None),
    "isinteger": Function((1, 1), lambda env, a: bool(re.fullmatch(r"-?\d+", as_text(a[0])))),
    "contains": Function((2, 2), _text_fn(lambda a, b: b.lower() in a.lower())),
    "not_contain": Function((2, 2), _text_fn(lambda a, b: b.lower() not in a.lower())),
    "starts_with": Function((2, 2), _text_fn(lambda a, b: a.lower().startswith(b.lower()))),
    "ends_with": Function((2, 2), _text_fn(lambda a, b: a.lower().endswith(b.lower()))),
    "length": Function((1, 1), _text_fn(len)),
    "concat": Function((1, None), _text_fn(lambda *parts: "".join(parts))),
    "upper": Function((1, 1), _text_fn(str.upper)),
    "lower": Function((1, 1), _text_fn(str.lower)),
    "trim": Function((1, 1), _text_fn(str.strip)),
    "left": Function((2, 2), _left_right("left")),
    "right": Function((2, 2), _left_right("right")),
}


def _log(args: list[Value]) -> Value:
    number = as_number(args[0])
    base = as_number(args[1]) if len(args) > 1 else math.e
    if number is None or base is None or number <= 0 or base <= 0 or base == 1:
        return ""
    return _tidy(math.log(number, base))
