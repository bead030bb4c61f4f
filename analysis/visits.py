"""The analyses' view of the visit schedule: time terms, contrasts and the model formula.

The group × time model has one indicator per follow-up visit of the schedule
(``cohort.schedule``): ``intervention * (m6 + m12)`` for OUTSIDER, ``intervention *
(m3 + m6 + m12 + m24)`` for a study with those visits. Every contrast is derived here, so
a visit added to the event mapping gets its own estimates with no change to the analyses.
"""

from __future__ import annotations

from cohort.schedule import Schedule, get_schedule


def _of(schedule: Schedule | None) -> Schedule:
    return schedule if schedule is not None else get_schedule()


def names(schedule: Schedule | None = None) -> list[str]:
    """The visits' names in protocol order (``M0``, ``M6``, ``M12``)."""
    return _of(schedule).names


def months(schedule: Schedule | None = None) -> dict[str, int]:
    """Each visit's protocol month (the analysis time axis)."""
    return {v.name: v.month for v in _of(schedule)}


def steps(schedule: Schedule | None = None) -> dict[str, int]:
    """Each visit's rank (0 for inclusion): the integer time GEE's AR(1) needs."""
    return {v.name: at for at, v in enumerate(_of(schedule))}


def follow_up_names(schedule: Schedule | None = None) -> list[str]:
    return [v.name for v in _of(schedule).follow_ups]


def time_terms(schedule: Schedule | None = None) -> list[str]:
    """One indicator column per follow-up visit: ``m6``, ``m12``."""
    return [v.key for v in _of(schedule).follow_ups]


def model_terms(schedule: Schedule | None = None) -> tuple[str, ...]:
    """The group × time coefficients: intervention, each visit, each interaction."""
    keys = time_terms(schedule)
    return ("intervention", *keys, *(f"intervention:{k}" for k in keys))


def group_by_time(schedule: Schedule | None = None) -> str:
    """The model's main part: ``intervention * (m6 + m12)``."""
    return f"intervention * ({' + '.join(time_terms(schedule))})"


def contrast_spec(schedule: Schedule | None = None) -> dict[str, dict[str, float]]:
    """Each contrast as a linear combination of log-odds coefficients: groups at every
    visit, change from inclusion within each group, and the group × time interaction at
    every follow-up visit."""
    s = _of(schedule)
    base = s.baseline.name
    ups = [(v.name, v.key) for v in s.follow_ups]
    spec: dict[str, dict[str, float]] = {f"intervention vs comparison at {base}":
                                         {"intervention": 1}}
    for name, key in ups:
        spec[f"intervention vs comparison at {name}"] = {"intervention": 1,
                                                          f"intervention:{key}": 1}
    for name, key in ups:
        spec[f"{name} vs {base}, comparison"] = {key: 1}
    for name, key in ups:
        spec[f"{name} vs {base}, intervention"] = {key: 1, f"intervention:{key}": 1}
    for name, key in ups:
        spec[f"group × time interaction, {name}"] = {f"intervention:{key}": 1}
    return spec
