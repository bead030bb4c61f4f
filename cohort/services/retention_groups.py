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

import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import case, func
from sqlmodel import Session

from cohort.models import Centre, Participant, Questionnaire
from cohort.recent import Recent
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
    return _breakdown(session, actor, grouped_rows(session, actor.centre_ids, as_of))


#: A grouped row: centre id, code, city, group, year and month of inclusion, participants,
#: then per follow-up visit those past its window (or who came), who came, who came on time.
Row = list[Any]


def grouped_rows(session: Session, centre_ids: frozenset[int] | None, as_of: date) -> list[Row]:
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
    return breakdown_of(rows, _visible_centres(session, actor))


def breakdown_of(rows: list[Row], centres: list[tuple[str, str]]) -> RetentionBreakdown:
    """The grouped rows summed per centre × group, per group and per month of inclusion
    (``centres``: (code, city) of every visible centre, those with nobody included)."""
    per_centre: dict[str, list[Row]] = {code: [] for code, _ in centres}
    cities = dict(centres)
    for row in rows:
        per_centre.setdefault(row[1], []).append(row)
        cities.setdefault(row[1], row[2])
    return from_sums(sorted(cities.items()),
                      {code: Sums.of(mine) for code, mine in per_centre.items()})


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


def from_sums(centres: list[tuple[str, str]], sums: dict[str, Sums],
              whole: Sums | None = None) -> RetentionBreakdown:
    """The breakdown from each centre's sums, and from ``whole``, their sum over the
    centres, when the caller keeps it (``Sums.total``, ``Sums.moved``)."""
    tps = [tp.value for tp in follow_up_timepoints()]
    if whole is None:
        whole = Sums.total(sums.values())
    return RetentionBreakdown(
        timepoints=tps, centres=centres,
        by_centre={code: _cells_of(mine, tps) for code, mine in sums.items()},
        all_centres={group: _cell(counts, tps) for group, counts in whole.by_group.items()},
        by_month={f"{y:04d}-{m:02d}": _cell(counts, tps)
                  for (y, m), counts in sorted(whole.by_month.items())})


@dataclass(frozen=True)
class Sums:
    """One centre's grouped rows summed by group and by month of inclusion (the counts of
    a grouped row: participants, then per follow-up visit past the window or came, came,
    came on time): what the retention page adds up over centres after every save."""

    by_group: dict[str, list[int]]
    by_month: dict[tuple[int, int], list[int]]

    @classmethod
    def of(cls, rows: list[Row]) -> Sums:
        by_group: dict[str, list[int]] = {}
        by_month: dict[tuple[int, int], list[int]] = {}
        for _, _, _, group_name, y, m, *counts in rows:
            _add(by_group, group_name, counts)
            _add(by_month, (y, m), counts)
        return cls(by_group, by_month)

    @classmethod
    def total(cls, parts: Iterable[Sums]) -> Sums:
        """The sums of several centres added together."""
        by_group: dict[str, list[int]] = {}
        by_month: dict[tuple[int, int], list[int]] = {}
        for mine in parts:
            _add_all(by_group, mine.by_group)
            _add_all(by_month, mine.by_month)
        return cls(by_group, by_month)

    def moved(self, gone: Iterable[Sums], come: Iterable[Sums]) -> Sums:
        """These sums (of several centres) with some centres' old sums taken away and their
        new sums added: the whole cohort's after a save, from the centre it touched rather
        than from every centre again. The counts are whole numbers, so this is exactly the
        ``total`` of the new sums: a group or month left with nobody (nobody is ever
        counted in a month without being one of its participants) is dropped, as ``total``
        would never have had it."""
        by_group = {key: list(counts) for key, counts in self.by_group.items()}
        by_month = {key: list(counts) for key, counts in self.by_month.items()}
        for mine in gone:
            _take_all(by_group, mine.by_group)
            _take_all(by_month, mine.by_month)
        for mine in come:
            _add_all(by_group, mine.by_group)
            _add_all(by_month, mine.by_month)
        return Sums({key: counts for key, counts in by_group.items() if counts[0]},
                    {key: counts for key, counts in by_month.items() if counts[0]})


# A centre's cells by group, kept with the sums they were made from and given again only
# for the very same sums: a centre the last save did not touch keeps its ``Sums`` object
# (``retention_cache.Figures``), so its cells (and the page's line made from them) are not
# made again. Read only, like the sums.
_CELLS: Recent[tuple[Sums, dict[str, Cell]]] = Recent(1024)


def _cells_of(mine: Sums, tps: list[str]) -> dict[str, Cell]:
    key = (id(mine), tuple(tps))
    found = _CELLS.get(key)
    if found is not None and found[0] is mine:
        return found[1]
    cells = {group: _cell(counts, tps) for group, counts in mine.by_group.items()}
    _CELLS.put(key, (mine, cells))
    return cells


def _add(sums: dict[Any, list[int]], key: Any, counts: list[int]) -> None:
    mine = sums.get(key)
    if mine is None:
        sums[key] = list(counts)
    else:
        mine[:] = map(operator.add, mine, counts)


def _add_all(sums: dict[Any, list[int]], more: dict[Any, list[int]]) -> None:
    for key, counts in more.items():
        _add(sums, key, counts)


def _take_all(sums: dict[Any, list[int]], less: dict[Any, list[int]]) -> None:
    for key, counts in less.items():
        mine = sums[key]  # a centre's sums are in the sums of the centres it is one of
        mine[:] = map(operator.sub, mine, counts)


def _cell(counts: list[int], tps: list[str]) -> Cell:
    k = len(tps)
    return Cell(counts[0], {tp: Attendance(counts[1 + i], counts[1 + k + i], counts[1 + 2 * k + i])
                            for i, tp in enumerate(tps)})
