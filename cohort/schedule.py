"""The study's schedule of visits, built in one place from the event mapping and settings.

A visit is a REDCap event at which a questionnaire is filled: ``event_mapping.csv`` says
which events there are, in order (the first is inclusion), and which forms each holds.
Events whose forms are all repeating record forms (the AERLI session log, follow-up status)
are not visits. Settings give each visit its target day and window; a visit named
``M<months>`` (``M6``, ``M24``) has a default target day of that many months
(``floor(months × 365.25 / 12)``: 182, 365, 730), and every visit the common half-width
``COHORT_WINDOW_DAYS``.

Every rule, status, worklist, template, page, demo and analysis iterates over
:func:`get_schedule`; nothing else names a visit. Tests swap the schedule with
:func:`use_schedule`, or change the dictionary or settings it is built from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from cohort.dictionary import get_dictionary
from cohort.errors import CohortError
from cohort.settings import Settings, get_settings
from forms.events import EventMapping
from forms.i18n import _

DAYS_PER_MONTH = 365.25 / 12
# Forms filled between visits, as often as needed: an event holding only these is no visit.
BETWEEN_VISITS_FORMS = frozenset({"aerli_session", "follow_up_status"})
_ARM = re.compile(r"_arm_\d+$")
_MONTHS = re.compile(r"^M(\d+)$")


class ScheduleInvalid(CohortError):
    """The event mapping and the visit settings do not make a schedule (a setting problem)."""


@dataclass(frozen=True)
class Visit:
    """One visit: its name (``M6``), REDCap event, target day after inclusion and window.

    The window is ``[target_day - before, target_day + after]`` days after inclusion,
    inclusive. ``month`` is the visit's protocol month (the analysis time axis)."""

    name: str
    event: str
    target_day: int
    before: int
    after: int
    label: str
    month: int

    @property
    def opens_day(self) -> int:
        return self.target_day - self.before

    @property
    def closes_day(self) -> int:
        return self.target_day + self.after

    @property
    def key(self) -> str:
        """The visit's name as a column suffix or model term (``m6``)."""
        return self.name.lower()


@dataclass(frozen=True)
class Schedule:
    """The visits in protocol order: the first is inclusion (baseline)."""

    visits: tuple[Visit, ...]

    def __post_init__(self) -> None:
        if not self.visits:
            raise ScheduleInvalid(_("The schedule has no visit: the event mapping names no "
                                    "event with a questionnaire."))

    def __iter__(self) -> Iterator[Visit]:
        return iter(self.visits)

    def __len__(self) -> int:
        return len(self.visits)

    def __contains__(self, name: object) -> bool:
        return any(v.name == name for v in self.visits)

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.visits]

    @property
    def baseline(self) -> Visit:
        return self.visits[0]

    @property
    def follow_ups(self) -> tuple[Visit, ...]:
        return self.visits[1:]

    @property
    def last(self) -> Visit:
        return self.visits[-1]

    def get(self, name: str) -> Visit:
        for visit in self.visits:
            if visit.name == name:
                return visit
        raise KeyError(f"unknown visit {name!r} (visits: {', '.join(self.names)})")

    def event(self, name: str) -> str:
        return self.get(name).event

    def by_event(self, event: str) -> Visit | None:
        return next((v for v in self.visits if v.event == event), None)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def previous(self, name: str) -> Visit | None:
        at = self.index(name)
        return self.visits[at - 1] if at > 0 else None

    def parse(self, text: str) -> str:
        """A visit name typed by a person (``m6`` -> ``M6``); ValueError if unknown."""
        name = text.strip().upper()
        if name not in self:
            raise ValueError(_("'{text}' is not a visit of this study; use {visits}.").format(
                text=text, visits=_either(self.names)))
        return name

    def describe(self) -> str:
        """``M0, M6 or M12`` for messages (``M0, M6 ou M12`` for a French reader)."""
        return _either(self.names)


def _either(names: Sequence[str]) -> str:
    if len(names) == 1:
        return names[0]
    return _("{first} or {last}").format(first=", ".join(names[:-1]), last=names[-1])


def visit_name(event: str) -> str:
    """The visit's name from its REDCap event: ``m24_arm_1`` -> ``M24``."""
    return _ARM.sub("", event).upper()


def build_schedule(events: EventMapping, settings: Settings) -> Schedule:
    """The schedule the mapping and settings describe; ScheduleInvalid if they do not."""
    days = {k.upper(): v for k, v in settings.visit_target_days.items()}
    widths = {k.upper(): v for k, v in settings.visit_window_days.items()}
    labels = {k.upper(): v for k, v in settings.visit_labels.items()}
    for name, day, width in (("M6", settings.m6_target_day, settings.m6_window_days),
                             ("M12", settings.m12_target_day, settings.m12_window_days)):
        # Deprecated COHORT_M6_*/COHORT_M12_* settings, kept for deployments that set them.
        if day is not None:
            days.setdefault(name, day)
        if width is not None:
            widths.setdefault(name, width)
    visits: list[Visit] = []
    for event in events.events:
        forms = events.designations[event]
        if not forms or set(forms) <= BETWEEN_VISITS_FORMS:
            continue
        name = visit_name(event)
        months = _MONTHS.match(name)
        baseline = not visits
        if baseline:
            day = days.get(name, 0)
        elif name in days:
            day = days[name]
        elif months:
            day = int(int(months.group(1)) * DAYS_PER_MONTH)
        else:
            raise ScheduleInvalid(_(
                "Visit {name} (event {event}) has no target day: set COHORT_VISIT_TARGET_DAYS, "
                "e.g. {example}.").format(name=name, event=event, example=f'{{"{name}": 90}}'))
        width = widths.get(name, settings.m0_window_days if baseline else settings.window_days)
        before, after = (0, width) if baseline else (width, width)
        month = int(months.group(1)) if months else round(day / DAYS_PER_MONTH)
        label = labels.get(name, "Inclusion" if baseline else f"Month {month}")
        visits.append(Visit(name, event, day, before, after, label, month))
    if [v.target_day for v in visits] != sorted(v.target_day for v in visits):
        listed = ", ".join(f"{v.name}: {v.target_day}" for v in visits)
        raise ScheduleInvalid(_("The visits' target days must grow in the order of the "
                                "event mapping ({listed}).").format(listed=listed))
    return Schedule(tuple(visits))


_override: list[Schedule] = []
_built: list[tuple[EventMapping, Settings, Schedule]] = []


def get_schedule() -> Schedule:
    """The study's schedule, built once per dictionary and settings (both are cached and
    replaced as a whole, so their identity says when to build again)."""
    if _override:
        return _override[-1]
    events, settings = get_dictionary().events, get_settings()
    if _built and _built[0][0] is events and _built[0][1] is settings:
        return _built[0][2]
    schedule = build_schedule(events, settings)
    _built[:] = [(events, settings, schedule)]
    return schedule


def use_schedule(schedule: Schedule | None) -> None:
    """Replace (or with None restore) the schedule the services use (tests)."""
    _override.clear()
    if schedule is not None:
        _override.append(schedule)

