"""REDCap's date functions: ``datediff``, ``calcdate`` (``@CALCDATE``), ``year``/``month``/``day``.

Values are read as REDCap stores them (``Y-M-D``, ``Y-M-D H:M`` or ``Y-M-D H:M:S``), or in
the order a ``datediff`` names (``dmy``/``mdy``); ``'today'`` and ``'now'`` come from the
``Env`` so that the server and the browser agree on a given day. Following REDCap
(``datediff`` in ``init_functions.php``): a year is 365.2425 days, a month 30.44 days
(2,630,016 s), a difference in days between two dates is rounded to whole days, the result
is unsigned unless asked, a blank, unreadable or missing-code date gives a blank, and two
times of day (``14:30``) may be compared with each other.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import Protocol


class Env(Protocol):
    """What date functions read of an expression's environment (``forms.functions.Env``,
    which builds on this module)."""

    @property
    def today(self) -> date | None: ...

    @property
    def now(self) -> datetime | None: ...

    @property
    def missing(self) -> Collection[str]: ...


UNITS = {"y": 31556952.0, "M": 2630016.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
ORDERS = {"ymd": (0, 1, 2), "mdy": (2, 0, 1), "dmy": (2, 1, 0)}
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_OTHER = re.compile(r"(\d{1,2})-(\d{1,2})-(\d{4})")
_CLOCK = re.compile(r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


def today_of(env: Env) -> date:
    return env.today or date.today()


def now_of(env: Env) -> datetime:
    return env.now or datetime.now().replace(microsecond=0)


def parse_moment(text: str, fmt: str, env: Env) -> tuple[datetime, bool] | None:
    """The moment a value stands for and whether it had a time of day; None if unreadable."""
    text = text.strip().replace("/", "-")
    low = text.lower()
    if low == "today":
        day = today_of(env)
        return datetime(day.year, day.month, day.day), False
    if low == "now":
        return now_of(env), True
    for name in ("ymd", fmt) if fmt != "ymd" else ("ymd",):
        pattern = _YMD if name == "ymd" else _OTHER
        match = re.fullmatch(pattern.pattern + _CLOCK.pattern, text)
        if match is None:
            continue
        parts = [int(match.group(i + 1)) for i in range(3)]
        year, month, day_ = (parts[i] for i in ORDERS.get(name, ORDERS["ymd"]))
        hour, minute, second = (int(match.group(i) or 0) for i in (4, 5, 6))
        try:
            return (datetime(year, month, day_, hour, minute, second),
                    match.group(4) is not None)
        except ValueError:
            return None
    return None


def _seconds_of_day(text: str) -> int | None:
    match = _TIME.fullmatch(text.strip())
    if match is None:
        return None
    hour, minute, second = (int(match.group(i) or 0) for i in (1, 2, 3))
    return hour * 3600 + minute * 60 + second


def datediff(env: Env, first: str, second: str, unit: str, fmt: str, signed: bool
             ) -> float | None:
    """REDCap's ``datediff``, in ``unit``; None when it gives a blank."""
    if unit not in UNITS:
        return None
    if first.strip() in env.missing:
        first = ""
    if second.strip() in env.missing:
        second = ""
    one, two = _seconds_of_day(first), _seconds_of_day(second)
    if one is not None and two is not None:
        seconds = float(two - one)
        return (seconds if signed else abs(seconds)) / UNITS[unit]
    a, b = parse_moment(first, fmt, env), parse_moment(second, fmt, env)
    if a is None or b is None:
        return None
    seconds = (b[0] - a[0]).total_seconds()
    if not signed:
        seconds = abs(seconds)
    if unit == "d" and not a[1] and not b[1]:
        return float(round(seconds / 86400))
    return seconds / UNITS[unit]


def calcdate(env: Env, start: str, offset: float, unit: str, with_time: bool | None = None
             ) -> str | None:
    """REDCap's ``calcdate`` (``@CALCDATE``): ``start`` moved by ``offset`` ``unit``s, as
    ``Y-M-D`` (or ``Y-M-D H:M`` when the start has a time of day); None for a blank."""
    if unit not in UNITS or start.strip() in env.missing:
        return None
    moment = parse_moment(start, "ymd", env)
    if moment is None:
        return None
    when, has_time = moment
    seconds = offset * UNITS[unit]
    try:
        # PHP's round(): halves away from zero (Python's round() would round them to even).
        moved = when + timedelta(seconds=math.copysign(math.floor(abs(seconds) + 0.5), seconds))
    except OverflowError:
        return None
    day = f"{moved.year:04d}-{moved.month:02d}-{moved.day:02d}"
    if with_time if with_time is not None else has_time:
        return f"{day} {moved.hour:02d}:{moved.minute:02d}"
    return day


def date_part(env: Env, value: str, part: str) -> int | None:
    """``year()``, ``month()``, ``day()`` of a Y-M-D value (or ``'today'``/``'now'``)."""
    moment = parse_moment(value, "ymd", env)
    if moment is None:
        return None
    return int(getattr(moment[0], part))
