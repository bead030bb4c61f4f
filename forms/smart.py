"""REDCap's smart variables: which exist, which take a parameter, and what they mean here.

The catalogue follows REDCap's own list (``Piping::getSpecialTagsInfo`` in REDCap 15.7;
the same list drives REDCap's logic lexer, so every name below is accepted in branching
logic and calculations). A smart variable is evaluated from the expression's ``Env``:

* events (``event-name``, ``previous-event-name`` …) from the event mapping, in mapping
  order within the current event's arm;
* repeating instances (``current-instance`` …) from the instance numbers the caller gives;
* record, user, form and project facts (``record-name``, ``user-dag-name`` …) from the
  ``context`` mapping the caller fills (a page knows the participant and the person signed in);
* everything REDCap computes from data this tool does not hold (surveys, aggregates over all
  records, charts, randomisation, MyCap, rewards) is blank, and ``cohort dictionary check``
  says so (``BLANK_HERE``).
"""

from __future__ import annotations

from typing import Final

#: Smart variables used as an event prefix: ``[previous-event-name][weight]``.
EVENT_PREFIXES: Final = frozenset({
    "event-name", "previous-event-name", "next-event-name", "first-event-name",
    "last-event-name",
})

#: Smart variables used as an instance suffix: ``[weight][last-instance]``.
INSTANCE_SUFFIXES: Final = frozenset({
    "current-instance", "previous-instance", "next-instance", "first-instance",
    "last-instance",
})

EVENTS: Final = frozenset({
    "event-id", "event-number", "event-name", "event-label", "previous-event-name",
    "previous-event-label", "next-event-name", "next-event-label", "first-event-name",
    "first-event-label", "last-event-name", "last-event-label", "arm-number", "arm-label",
})
INSTANCES: Final = INSTANCE_SUFFIXES | {"new-instance"}
#: Facts the caller supplies in ``Env.context`` (blank when it does not).
CONTEXT: Final = frozenset({
    "user-name", "user-fullname", "user-email", "user-dag-name", "user-dag-id",
    "user-dag-label", "user-role-id", "user-role-name", "user-role-label",
    "record-name", "record-dag-name", "record-dag-id", "record-dag-label", "is-form",
    "is-survey", "instrument-name", "instrument-label", "project-id", "redcap-base-url",
    "redcap-version", "redcap-version-url", "survey-base-url", "data-table",
    "calendar-url", "survey-queue-url", "mycap-project-code", "mycap-participant-code",
    "mycap-participant-url",
})
#: Smart variables written with a parameter after a colon: ``[survey-url:consent]``.
PARAMETRISED: Final = frozenset({
    "form-url", "form-link", "survey-url", "survey-link", "survey-access-code",
    "survey-return-code", "survey-queue-link", "survey-title", "survey-time-started",
    "survey-date-started", "survey-time-completed", "survey-date-completed",
    "survey-duration", "survey-duration-completed", "aggregate-min", "aggregate-max",
    "aggregate-mean", "aggregate-median", "aggregate-sum", "aggregate-count",
    "aggregate-stdev", "aggregate-unique", "scatter-plot", "line-chart", "bar-chart",
    "pie-chart", "donut-chart", "stats-table", "rand-number", "rand-time", "rand-utc-time",
    "mycap-participant-link", "calendar-link", "data-table", "reward-amount",
    "reward-product", "reward-product-name", "reward-status", "reward-redcap-order",
    "reward-provider-order", "reward-url", "reward-link",
})
#: Smart variables REDCap fills from surveys, other records, charts and randomisation:
#: accepted everywhere REDCap accepts them, evaluated as blank by this tool.
BLANK_HERE: Final = PARAMETRISED | {
    "survey-queue-url", "calendar-url", "mycap-project-code", "mycap-participant-code",
    "mycap-participant-url", "rand-number", "rand-time", "rand-utc-time",
}

ALL: Final = EVENTS | INSTANCES | CONTEXT | PARAMETRISED


def split(inner: str) -> tuple[str, str]:
    """``survey-url:consent`` -> (``survey-url``, ``consent``); no colon: no parameter."""
    name, _, param = inner.partition(":")
    return name, param


def is_smart(inner: str) -> bool:
    """Whether the text inside brackets names one of REDCap's smart variables."""
    name, param = split(inner)
    if param:
        return name in PARAMETRISED
    return name in ALL


def context_default(name: str) -> str:
    """What a context fact is when the caller says nothing: this tool has forms, not
    surveys, so ``is-form`` is 1 and ``is-survey`` 0; everything else is blank."""
    return {"is-form": "1", "is-survey": "0"}.get(name, "")
