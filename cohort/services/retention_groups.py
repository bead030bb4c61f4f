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
    return _breakdown(session, actor, _grouped(session, actor.centre_ids, as_of))


#: A grouped row: centre id, code, city, group, year and month of inclusion, participants,
#: then per follow-up visit those past its window (or who came), who came, who came on time.
Row = list[Any]


def _grouped(session: Session, centre_ids: frozenset[int] | None, as_of: date) -> list[Row]:
    """Counted in the database per centre, group and month of inclusion (a few hundred
    rows, not one per participant), for these centres (None: all)."""
    config = protocol_config()
    tps = follow_up_timepoints()
    p, q, c = Participant.__table__.c, Questionnaire.__table__.c, Centre.__table__.c  # type: ignore[attr-defined]
    per_person: Any = sa.select(
        q.participant_id,
        *[func.max(case((q.timepoint == tp, 1), else_=0)).label(f"d{i}")
          for i, tp in enumerate(tps)],
        *[func.max(case((sa.and_(q.timepoint == tp, q.in_window), 1), else_=0)).label(f"w{i}")
          for i, tp in enumerate(tps)],
    ).where(q.timepoint.in_(tps))
    if centre_ids is not None:  # only these centres' questionnaires are read
        per_person = per_person.where(q.participant_id.in_(
            sa.select(p.id).where(p.centre_id.in_(centre_ids))))
    per_person = per_person.group_by(q.participant_id).subquery()
    closed_by = {tp: as_of - timedelta(days=config.target_day(tp) + config.window_width(tp))
                 for tp in tps}
    done = [func.coalesce(per_person.c[f"d{i}"], 0) for i in range(len(tps))]
    year, month = sa.extract("year", p.inclusion_date), sa.extract("month", p.inclusion_date)
    statement: Any = (
        sa.select(
            c.id, c.code, c.city, p.group, year, month, func.count(),
            *[func.sum(case((p.inclusion_date <= closed_by[tp], 1), else_=done[i]))
              for i, tp in enumerate(tps)],
            *[func.sum(d) for d in done],
            *[func.sum(func.coalesce(per_person.c[f"w{i}"], 0)) for i in range(len(tps))],
        )
        .select_from(sa.join(Participant.__table__, Centre.__table__, p.centre_id == c.id)  # type: ignore[attr-defined]
                     .outerjoin(per_person, per_person.c.participant_id == p.id))
        .group_by(c.id, c.code, c.city, p.group, year, month)
    )
    if centre_ids is not None:
        statement = statement.where(p.centre_id.in_(centre_ids))
    return [[int(centre), str(code), str(city), Group(group).value, int(y), int(m),
             *(int(n or 0) for n in counts)]
            for centre, code, city, group, y, m, *counts in session.execute(statement).all()]


def _breakdown(session: Session, actor: Actor, rows: list[Row]) -> RetentionBreakdown:
    tps = follow_up_timepoints()
    by_centre: dict[str, dict[str, Cell]] = defaultdict(dict)
    all_centres: dict[str, Cell] = {}
    by_month: dict[str, Cell] = {}
    cities: dict[str, str] = {}
    k = len(tps)
    for _, code, city, group_name, y, m, n, *counts in rows:
        cities[code] = city
        cells = (by_centre[code].setdefault(group_name, Cell()),
                 all_centres.setdefault(group_name, Cell()),
                 by_month.setdefault(f"{y:04d}-{m:02d}", Cell()))
        for cell in cells:
            cell.enrolled += n
        for i, tp in enumerate(tps):
            seen = Attendance(counts[i], counts[k + i], counts[2 * k + i])
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
    changes the key. After a write only the centres it touched are counted again, from
    the grouped rows kept with the latest breakdown of the same view."""
    from cohort.services.retention_cache import (
        TTL_SECONDS,
        changed_since_latest,
        keep_latest,
        state_of,
    )
    from cohort.shared import shared_store

    state = state_of(session, actor=actor, as_of=as_of)
    key = "retention-groups:" + state.key
    store = shared_store(session.get_bind().engine.url.render_as_string(hide_password=False))
    found = store.get(key)
    if found is not None:
        return _from_json(json.loads(found))
    base, changed = changed_since_latest(session, store, LATEST, state)
    if base is None or changed is None:
        rows = _grouped(session, actor.centre_ids, as_of)
    else:
        wanted = changed if actor.centre_ids is None else changed & actor.centre_ids
        rows = [row for row in base["rows"] if row[0] not in wanted]
        if wanted:
            rows += _grouped(session, frozenset(wanted), as_of)
    result = _breakdown(session, actor, rows)
    store.put(key, json.dumps(asdict(result)).encode(), TTL_SECONDS, best_effort=True)
    keep_latest(store, LATEST, state, rows)
    return result


LATEST = "retention-groups-latest:"


def _cells(data: dict[str, Any]) -> dict[str, Cell]:
    return {name: Cell(c["enrolled"], {tp: Attendance(**a) for tp, a in c["visits"].items()})
            for name, c in data.items()}


def _from_json(data: dict[str, Any]) -> RetentionBreakdown:
    return RetentionBreakdown(
        timepoints=list(data["timepoints"]),
        centres=[(str(code), str(city)) for code, city in data["centres"]],
        by_centre={code: _cells(cells) for code, cells in data["by_centre"].items()},
        all_centres=_cells(data["all_centres"]), by_month=_cells(data["by_month"]))
