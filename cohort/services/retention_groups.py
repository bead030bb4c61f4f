"""Retention by group and over time, for the retention page's split, chart and CSV (issue 15
point 7).

The definition is the analysis report's and the retention table's ("retention by
attendance"): of the participants whose visit window has closed, or who came anyway, the
share with the questionnaire done, and done inside its window. Here it is broken down by
centre and group (intervention / comparison), and by month of inclusion (how retention
moves as the cohort ages). One grouped query whatever the cohort size: participants
counted by centre, group and month of inclusion (a few hundred rows), with who is past
each window, who came and who came on time summed in the database. Independent of
``monitoring.CentreStatus``'s fields on purpose: it reads the questionnaires, not the
summary.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import case, func
from sqlmodel import Session

from cohort.models import Centre, Participant, Questionnaire
from cohort.services.context import Actor, protocol_config
from cohort.vocab import Group, Timepoint


@dataclass
class Attendance:
    """One follow-up visit for a set of participants: how many are past its window (or
    came anyway), how many did it, how many inside the window."""

    eligible: int = 0
    done: int = 0
    on_time: int = 0

    @property
    def pct_done(self) -> float | None:
        return round(100 * self.done / self.eligible, 1) if self.eligible else None

    @property
    def pct_on_time(self) -> float | None:
        return round(100 * self.on_time / self.eligible, 1) if self.eligible else None

    def add(self, other: Attendance) -> None:
        self.eligible += other.eligible
        self.done += other.done
        self.on_time += other.on_time


@dataclass
class Cell:
    """Participants of one centre (or all) and one group (or both)."""

    enrolled: int = 0
    visits: dict[str, Attendance] = field(default_factory=dict)

    def visit(self, timepoint: str) -> Attendance:
        return self.visits.setdefault(timepoint, Attendance())


@dataclass
class RetentionBreakdown:
    """``by_centre[centre_code][group]`` and ``by_month["YYYY-MM"]`` (both groups), with
    ``timepoints`` the follow-up visits in order; ``all_centres[group]`` the totals."""

    timepoints: list[str]
    centres: list[tuple[str, str]]  # (code, city), in code order
    by_centre: dict[str, dict[str, Cell]]
    all_centres: dict[str, Cell]
    by_month: dict[str, Cell]


def follow_up_timepoints() -> list[Timepoint]:
    """The visits after inclusion, in order (what "retention" is measured on)."""
    return [Timepoint(visit.name) for visit in protocol_config().schedule.follow_ups]


def retention_breakdown(session: Session, *, actor: Actor, as_of: date) -> RetentionBreakdown:
    """Retention by attendance per centre × group and per month of inclusion."""
    config = protocol_config()
    tps = follow_up_timepoints()
    p, q, c = Participant.__table__.c, Questionnaire.__table__.c, Centre.__table__.c  # type: ignore[attr-defined]
    per_person: Any = sa.select(
        q.participant_id,
        *[func.max(case((q.timepoint == tp, 1), else_=0)).label(f"d{i}")
          for i, tp in enumerate(tps)],
        *[func.max(case((sa.and_(q.timepoint == tp, q.in_window), 1), else_=0)).label(f"w{i}")
          for i, tp in enumerate(tps)],
    ).where(q.timepoint.in_(tps)).group_by(q.participant_id).subquery()
    closed_by = {tp: as_of - timedelta(days=config.target_day(tp) + config.window_width(tp))
                 for tp in tps}
    done = [func.coalesce(per_person.c[f"d{i}"], 0) for i in range(len(tps))]
    year, month = sa.extract("year", p.inclusion_date), sa.extract("month", p.inclusion_date)
    # Counted in the database per centre, group and month of inclusion (a few hundred
    # rows, not one per inclusion date): past the window, or came anyway.
    statement: Any = (
        sa.select(
            c.code, c.city, p.group, year, month, func.count(),
            *[func.sum(case((p.inclusion_date <= closed_by[tp], 1), else_=done[i]))
              for i, tp in enumerate(tps)],
            *[func.sum(d) for d in done],
            *[func.sum(func.coalesce(per_person.c[f"w{i}"], 0)) for i in range(len(tps))],
        )
        .select_from(sa.join(Participant.__table__, Centre.__table__, p.centre_id == c.id)  # type: ignore[attr-defined]
                     .outerjoin(per_person, per_person.c.participant_id == p.id))
        .group_by(c.code, c.city, p.group, year, month)
    )
    if actor.centre_ids is not None:
        statement = statement.where(p.centre_id.in_(actor.centre_ids))
    by_centre: dict[str, dict[str, Cell]] = defaultdict(dict)
    all_centres: dict[str, Cell] = {}
    by_month: dict[str, Cell] = {}
    cities: dict[str, str] = {}
    k = len(tps)
    for code, city, group, y, m, n, *counts in session.execute(statement).all():
        cities[code] = city
        group_name = Group(group).value
        cells = (by_centre[code].setdefault(group_name, Cell()),
                 all_centres.setdefault(group_name, Cell()),
                 by_month.setdefault(f"{int(y):04d}-{int(m):02d}", Cell()))
        for cell in cells:
            cell.enrolled += int(n)
        for i, tp in enumerate(tps):
            seen = Attendance(int(counts[i] or 0), int(counts[k + i] or 0),
                              int(counts[2 * k + i] or 0))
            for cell in cells:
                cell.visit(tp.value).add(seen)
    for centre_code, city in _visible_centres(session, actor):
        cities.setdefault(centre_code, city)
        by_centre.setdefault(centre_code, {})
    return RetentionBreakdown(
        timepoints=[tp.value for tp in tps], centres=sorted(cities.items()),
        by_centre=dict(by_centre), all_centres=all_centres,
        by_month=dict(sorted(by_month.items())))


def _visible_centres(session: Session, actor: Actor) -> list[tuple[str, str]]:
    c = Centre.__table__.c  # type: ignore[attr-defined]
    statement: Any = sa.select(c.code, c.city)
    if actor.centre_ids is not None:
        statement = statement.where(c.id.in_(actor.centre_ids))
    return [(str(code), str(city)) for code, city in session.execute(statement).all()]


def both_groups(cells: dict[str, Cell], timepoints: list[str]) -> Cell:
    """The two groups of a centre (or of all centres) added together."""
    total = Cell()
    for cell in cells.values():
        total.enrolled += cell.enrolled
        for tp in timepoints:
            total.visit(tp).add(cell.visit(tp))
    return total


def cached_retention_breakdown(session: Session, *, actor: Actor, as_of: date
                               ) -> RetentionBreakdown:
    """``retention_breakdown`` remembered in the shared store under the same key as the
    retention summary (``retention_cache.state_key``: the newest audit entry, the person's
    reach, the date and the windows): unchanged data are not counted again, and any write
    changes the key."""
    from cohort.services.retention_cache import TTL_SECONDS, state_key
    from cohort.shared import shared_store

    key = "retention-groups:" + state_key(session, actor=actor, as_of=as_of)
    store = shared_store(session.get_bind().engine.url.render_as_string(hide_password=False))
    found = store.get(key)
    if found is not None:
        return _from_json(json.loads(found))
    result = retention_breakdown(session, actor=actor, as_of=as_of)
    store.put(key, json.dumps(asdict(result)).encode(), TTL_SECONDS, best_effort=True)
    return result


def _cells(data: dict[str, Any]) -> dict[str, Cell]:
    return {name: Cell(c["enrolled"], {tp: Attendance(**a) for tp, a in c["visits"].items()})
            for name, c in data.items()}


def _from_json(data: dict[str, Any]) -> RetentionBreakdown:
    return RetentionBreakdown(
        timepoints=list(data["timepoints"]),
        centres=[(str(code), str(city)) for code, city in data["centres"]],
        by_centre={code: _cells(cells) for code, cells in data["by_centre"].items()},
        all_centres=_cells(data["all_centres"]), by_month=_cells(data["by_month"]))
