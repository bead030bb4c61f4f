"""The retention figures counted from the participants' rows, in cells of one centre and
one month of inclusion: what the retention cache keeps, and counts again after a save
for the cells the save touched.

The grouped SQL of ``monitoring.centre_status`` and ``retention_groups.grouped_rows`` is
made for the whole cohort (a statement per measure, whatever its size). After a save, the
next retention page needs the figures again with one participant changed: counting their
whole centre again costs 9 ms on SQLite and 21 ms on PostgreSQL for 500 participants
(``bench/bench_api.py``'s cohort), and when outreach workers of every centre save at
once, every centre has changed by the next page. Here the figures are sums over cells
(centre, month of inclusion, group), each cell a vector of counts; a save touches the
cell of its participant, about twenty people, and that cell alone is counted again. The
summary's row of a centre and the breakdown's grouped rows are sums of its cells;
sessions and open deviations keep the summary's own statements, per centre
(``monitoring.add_sessions_and_deviations``). ``tests/cohort/test_retention_recount.py``
holds the cells' sums equal to the grouped SQL on random cohorts, window edges included.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from cohort.models import Participant, Questionnaire
from cohort.schedule import Schedule
from cohort.services.context import Actor, protocol_config
from cohort.services.monitoring import (
    FOLLOWING,
    CentreStatus,
    VisitStatus,
    add_sessions_and_deviations,
    empty_rows,
)
from cohort.services.retention_groups import Row, Sums
from cohort.vocab import Group, Status

#: (year, month) of inclusion.
Month = tuple[int, int]
#: A centre's cells: by month of inclusion, by group, the counts (``Layout``).
Cells = dict[Month, dict[str, list[int]]]

_P = Participant.__table__.c  # type: ignore[attr-defined]
_Q = Questionnaire.__table__.c  # type: ignore[attr-defined]
# Each participant, once per questionnaire (or once with none). The group, status, date and
# timepoint come as the database gives them (text, and on SQLite the date as ISO text):
# converting a thousand rows through their column types costs more than the counting.
_PEOPLE = (
    sa.select(_P.id, _P.centre_id, sa.type_coerce(_P.group, sa.String),
              sa.type_coerce(_P.status, sa.String),
              sa.type_coerce(_P.inclusion_date, sa.String),
              sa.type_coerce(_Q.timepoint, sa.String), _Q.in_window)
    .select_from(sa.outerjoin(Participant.__table__, Questionnaire.__table__,  # type: ignore[attr-defined]
                              _Q.participant_id == _P.id))
)

# One centre's participants of one month (what a save changes): its statement and the
# key SQLAlchemy looks its compiled form up by are made once.
_ONE_MONTH = _PEOPLE.where(_P.centre_id == sa.bindparam("centre"),
                           _P.inclusion_date >= sa.bindparam("first"),
                           _P.inclusion_date < sa.bindparam("after"))


@dataclass(frozen=True)
class Layout:
    """Where each count sits in a cell's vector, for a schedule: participants, withdrawn,
    deceased, lost to follow-up; per visit, done; per follow-up visit, done inside the
    window, due now, overdue, past the window (or came)."""

    visits: tuple[str, ...]
    follow_ups: tuple[str, ...]

    @classmethod
    def of(cls, schedule: Schedule) -> Layout:
        return cls(tuple(v.name for v in schedule), tuple(v.name for v in schedule.follow_ups))

    @property
    def width(self) -> int:
        return 4 + len(self.visits) + 4 * len(self.follow_ups)

    def done(self, i: int) -> int:
        return 4 + i

    def on_time(self, f: int) -> int:
        return 4 + len(self.visits) + f

    def due(self, f: int) -> int:
        return self.on_time(f) + len(self.follow_ups)

    def overdue(self, f: int) -> int:
        return self.due(f) + len(self.follow_ups)

    def eligible(self, f: int) -> int:
        return self.overdue(f) + len(self.follow_ups)


def count_cells(session: Session, *, centre_ids: list[int], as_of: date,
                months: dict[int, set[Month]] | None = None) -> dict[int, Cells]:
    """The cells of these centres (all their months, or only ``months[centre]`` where
    given), counted from their participants' rows."""
    config = protocol_config()
    schedule = config.schedule
    layout = Layout.of(schedule)
    follow = [(v.name, as_of - timedelta(days=v.opens_day), as_of - timedelta(days=v.closes_day))
              for v in schedule.follow_ups]
    visit_index = {name: i for i, name in enumerate(layout.visits)}
    statement: Any = _PEOPLE.where(_P.centre_id.in_(centre_ids))
    values: dict[str, Any] = {}
    if months is not None:
        ranges = [(centre, y, m) for centre, wanted in months.items() for y, m in sorted(wanted)]
        if len(ranges) == 1:  # after a save: one statement made once, not one per save
            centre, y, m = ranges[0]
            statement = _ONE_MONTH
            values = {"centre": centre, "first": date(y, m, 1), "after": _next_month(y, m)}
        else:
            statement = _PEOPLE.where(sa.or_(*(
                sa.and_(_P.centre_id == centre, _P.inclusion_date >= date(y, m, 1),
                        _P.inclusion_date < _next_month(y, m)) for centre, y, m in ranges)))
    people: dict[int, list[Any]] = {}
    for pid, centre, group, status, included, timepoint, in_window in session.execute(
            statement, values).all():
        person = people.get(pid)
        if person is None:
            if not isinstance(included, date):
                included = date.fromisoformat(included)
            person = people[pid] = [centre, group, status, included, {}]
        if timepoint is not None:
            person[4][timepoint] = bool(in_window)
    out: dict[int, Cells] = {centre: {} for centre in centre_ids}
    if months is not None:  # a month counted again that has nobody left is empty
        for centre, wanted in months.items():
            out[centre] = {month: {} for month in wanted}
    width = layout.width
    for centre, group, status, included, visits in people.values():
        cells = out.setdefault(centre, {}).setdefault((included.year, included.month), {})
        counts = cells.get(group)
        if counts is None:
            counts = cells[group] = [0] * width
        counts[0] += 1
        if status == Status.WITHDRAWN:
            counts[1] += 1
        elif status == Status.DECEASED:
            counts[2] += 1
        elif status == Status.LOST_TO_FOLLOW_UP:
            counts[3] += 1
        for name in visits:
            i = visit_index.get(name)
            if i is not None:
                counts[layout.done(i)] += 1
        followed = status in FOLLOWING
        for f, (name, opened_by, closed_by) in enumerate(follow):
            came = name in visits
            if came:
                if visits[name]:
                    counts[layout.on_time(f)] += 1
            elif followed:
                if included < closed_by:
                    counts[layout.overdue(f)] += 1
                elif included <= opened_by:
                    counts[layout.due(f)] += 1
            if came or included <= closed_by:
                counts[layout.eligible(f)] += 1
    return out


def _next_month(year: int, month: int) -> date:
    return date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)


def extras(session: Session, *, actor: Actor) -> dict[int, tuple[int, int, int]]:
    """Sessions, participants with a session that counts, and open deviations of the
    centres in ``actor``'s reach (the summary's own statements)."""
    rows = empty_rows(session, actor=actor)
    add_sessions_and_deviations(session, actor=actor, rows=rows)
    return {centre: (row.sessions, row.with_valid_session, row.open_deviations)
            for centre, row in rows.items()}


def centre_row(centre: tuple[int, str, str, str], totals: dict[str, list[int]],
               extra: tuple[int, int, int]) -> CentreStatus:
    """A centre's summary row (``monitoring.centre_status``'s) from its counts summed over
    its months, per group (``centre_sums``)."""
    schedule = protocol_config().schedule
    layout = Layout.of(schedule)
    centre_id, code, name, city = centre
    row = CentreStatus(centre_id, code, name, city,
                       visits=[VisitStatus(v) for v in layout.visits])
    follow = [layout.visits.index(name) for name in layout.follow_ups]
    for group, counts in totals.items():
        row.enrolled += counts[0]
        if group == Group.INTERVENTION:
            row.intervention += counts[0]
        row.withdrawn += counts[1]
        row.deceased += counts[2]
        row.lost_to_follow_up += counts[3]
        for i, visit in enumerate(row.visits):
            visit.done += counts[layout.done(i)]
        for f, i in enumerate(follow):
            visit = row.visits[i]
            visit.in_window += counts[layout.on_time(f)]
            visit.due += counts[layout.due(f)]
            visit.overdue += counts[layout.overdue(f)]
            visit.eligible += counts[layout.eligible(f)]
    row.comparison = row.enrolled - row.intervention
    row.sessions, row.with_valid_session, row.open_deviations = extra
    row.finish()
    return row


def centre_sums(cells: Cells) -> tuple[dict[str, list[int]], Sums]:
    """In one pass over a centre's cells: its counts per group over all its months (what
    its summary row is made of, ``centre_row``) and its grouped rows' sums by group and by
    month (``retention_groups.Sums``: what the breakdown adds up). The same sums as
    ``Sums.of(grouped_rows_of(...))``, without making the rows first: after a save this
    runs for the centre it touched, on every page that follows."""
    pick = _grouped_counts(Layout.of(protocol_config().schedule))
    totals: dict[str, list[int]] = {}
    by_month: dict[Month, list[int]] = {}
    for month, groups in cells.items():
        in_month: list[int] | None = None
        for group, counts in groups.items():
            total = totals.get(group)
            if total is None:
                totals[group] = list(counts)
            else:
                total[:] = map(operator.add, total, counts)
            grouped = [counts[i] for i in pick]
            if in_month is None:
                in_month = grouped
            else:
                in_month[:] = map(operator.add, in_month, grouped)
        if in_month is not None:
            by_month[month] = in_month
    by_group = {group: [counts[i] for i in pick] for group, counts in totals.items()}
    return totals, Sums(by_group, by_month)


def _grouped_counts(layout: Layout) -> list[int]:
    """Where a grouped row's counts sit in a cell's vector: participants, then per
    follow-up visit past the window (or came), came, came on time."""
    follow = [layout.visits.index(name) for name in layout.follow_ups]
    return [0, *(layout.eligible(f) for f in range(len(follow))),
            *(layout.done(i) for i in follow),
            *(layout.on_time(f) for f in range(len(follow)))]


def grouped_rows_of(centre: tuple[int, str, str, str], cells: Cells) -> list[Row]:
    """A centre's grouped rows (``retention_groups.grouped_rows``'s) from its cells."""
    pick = _grouped_counts(Layout.of(protocol_config().schedule))
    centre_id, code, _, city = centre
    return [[centre_id, code, city, group, year, month, *(counts[i] for i in pick)]
            for (year, month), groups in cells.items() for group, counts in groups.items()]
