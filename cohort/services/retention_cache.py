"""The retention figures (the summary and the breakdown by group and month), counted once
per state of the data and view, and kept up to date cell by cell.

Every write adds an audit entry in its own transaction (append-only, never updated), so
the newest audit entry identifies the state of the data: while it is unchanged the figures
are unchanged, and one indexed look-up replaces the grouped queries over the whole cohort.
The key holds that entry (id and time), the database, the centres the person may see, the
date and the visit windows; a save answered by any process changes the key that all of
them look up next: a figure is never stale.

After a save the figures are not counted again from scratch: the latest figures of the
same view (same person's reach, date and windows) are kept with the audit entry they were
counted at; the audit entries written since name the records that changed, hence their
participants, and only those participants' cells (centre and month of inclusion,
``retention_recount``) are counted again, with the sessions and open deviations of their
centres. A changed inclusion date counts its centre again; anything whose centre cannot be
told (a study-wide lock, a record of another kind, a participant moved to another centre)
counts everything again.

The figures are kept in the process that counted them (by key, and the latest of each
view); the latest of each view also goes to the shared store (``cohort.shared``), after a
count from scratch and every few seconds, so that another server process starts from them
instead of from scratch. Within a process, people asking for the same key at once wait
for the one counting it rather than count it again each (after a save, the first request
pays, not all of them).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session, func

from cohort.columns import UTCDateTime
from cohort.models import (
    AerliSession,
    AuditEntry,
    Deviation,
    Participant,
    Questionnaire,
    Screening,
    StatusChange,
)
from cohort.recent import OneAtATime, Recent
from cohort.services.context import Actor, protocol_config
from cohort.services.monitoring import CentreStatus, empty_rows
from cohort.services.retention_groups import RetentionBreakdown, Row, Sums, from_sums
from cohort.services.retention_recount import (
    Cells,
    Month,
    centre_row,
    centre_sums,
    count_cells,
    extras,
    grouped_rows_of,
)
from cohort.shared import SharedStore, shared_store

TTL_SECONDS = 3600
# On PostgreSQL ids are handed out before commit, so a transaction that took an older id
# may commit after a newer one: the count of the latest ids (an index range scan, not a
# count of the whole trail) changes the state's key when that late arrival lands, and the
# ids missing from that window when figures were counted (``Mark.holes``) are looked at
# again when they are brought up to date.
LATE_COMMIT_WINDOW = 1000
# More changed records than this since the latest summary: compute it all again.
MAX_DELTA = 5000
#: How each audited table finds the centre of a record (None: the whole study).
_BY_PARTICIPANT: dict[str, Any] = {"questionnaire": Questionnaire,
                                   "aerli_session": AerliSession,
                                   "status_change": StatusChange}
_BY_CENTRE: dict[str, Any] = {"deviation": Deviation,
                              "screening": Screening}
# Tables whose changes never move a retention figure.
_NO_EFFECT = frozenset({"staff", "account", "staff_centre_access", "import_batch",
                        "external_record", "redcap_token", "api_token"})

_computing = OneAtATime()


@dataclass(frozen=True)
class State:
    """The state of the data as the audit trail tells it, and the view asked for."""

    key: str
    view: str
    newest: int
    newest_at: str | None
    recent: int


_A = AuditEntry.__table__.c  # type: ignore[attr-defined]
_NEWEST = sa_select(func.max(_A.id)).scalar_subquery()
_IN_WINDOW = _A.id > _NEWEST - LATE_COMMIT_WINDOW
# The newest entry and how many entries the window holds, in one statement: one round
# trip for every page and API read of the figures, and one snapshot.
_TRAIL = sa_select(
    _A.id, _A.at,
    sa_select(func.count()).select_from(AuditEntry.__table__).where(_IN_WINDOW)  # type: ignore[attr-defined]
    .scalar_subquery(),
).where(_A.id == _NEWEST)


def state_of(session: Session, *, actor: Actor, as_of: date) -> State:
    newest = session.execute(_TRAIL).first()
    url = session.get_bind().engine.url
    view = [url.get_backend_name(), url.host, url.port, url.database,
            sorted(actor.centre_ids) if actor.centre_ids is not None else None,
            as_of.isoformat(), repr(protocol_config())]
    newest_id, newest_at, recent = 0, None, 0
    if newest is not None:
        newest_id, newest_at, recent = int(newest[0]), newest[1].isoformat(), int(newest[2])
    at = [newest_id, newest_at] if newest_id else None
    return State(_digest([*view, at, recent]), _digest(view), newest_id, newest_at, recent)


def _digest(parts: list[Any]) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Figures:
    """The retention figures of one state of the data for one view: the visible centres
    (id, code, name, city, in code order), their cells (``retention_recount``), sessions
    and open deviations, and from those the summary's rows (``monitoring.centre_status``)
    and the breakdown's sums. Shared between requests and between states (a centre that
    did not change keeps its objects): never changed once made; ``summary`` gives
    copies."""

    centres: dict[int, tuple[int, str, str, str]]
    cells: dict[int, Cells]
    extras: dict[int, tuple[int, int, int]]
    status: dict[int, CentreStatus]
    #: Per centre, its grouped rows summed by group and by month (``retention_groups``).
    sums: dict[int, Sums]
    #: The centres' sums added up (the breakdown's totals and months).
    whole: Sums

    @classmethod
    def made(cls, centres: dict[int, tuple[int, str, str, str]], cells: dict[int, Cells],
             extras: dict[int, tuple[int, int, int]], *, previous: Figures | None = None,
             changed: set[int] | None = None) -> Figures:
        """Figures with the rows of ``changed`` centres (all, without ``previous``) summed
        from their cells; the others' rows are ``previous``'s, and the totals over the
        centres are ``previous``'s moved by the changed centres' difference."""
        status, sums = {}, {}
        for centre_id, centre in centres.items():
            mine = cells.get(centre_id, {})
            if (previous is not None and changed is not None and centre_id not in changed
                    and previous.centres.get(centre_id) == centre):
                status[centre_id] = previous.status[centre_id]
                sums[centre_id] = previous.sums[centre_id]
            else:
                totals, sums[centre_id] = centre_sums(mine)
                status[centre_id] = centre_row(centre, totals, extras.get(centre_id, (0, 0, 0)))
        if previous is not None and previous.sums.keys() == sums.keys():
            again = [c for c, mine in sums.items() if mine is not previous.sums[c]]
            whole = previous.whole.moved([previous.sums[c] for c in again],
                                         [sums[c] for c in again])
        else:
            whole = Sums.total(sums.values())
        return cls(centres, cells, extras, status, sums, whole)

    def ordered(self) -> list[CentreStatus]:
        """The summary's rows themselves, in centre code order: to read, not to change."""
        return [self.status[centre_id] for centre_id in self.centres]

    def summary(self) -> list[CentreStatus]:
        return [CentreStatus.from_dict(row.as_dict()) for row in self.ordered()]

    def rows(self) -> list[Row]:
        """The breakdown's grouped rows (``retention_groups.grouped_rows``)."""
        return [row for centre_id, centre in self.centres.items()
                for row in grouped_rows_of(centre, self.cells.get(centre_id, {}))]

    def to_json(self, mark: Mark) -> bytes:
        return json.dumps({
            "mark": mark.as_dict(), "centres": list(self.centres.values()),
            "cells": [[centre_id, y, m, group, counts]
                      for centre_id, cells in self.cells.items()
                      for (y, m), groups in cells.items() for group, counts in groups.items()],
            "extras": [[centre_id, *extra] for centre_id, extra in self.extras.items()],
        }).encode()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figures:
        centres = {int(c[0]): (int(c[0]), str(c[1]), str(c[2]), str(c[3]))
                   for c in data["centres"]}
        cells: dict[int, Cells] = {centre_id: {} for centre_id in centres}
        for centre_id, y, m, group, counts in data["cells"]:
            cells.setdefault(centre_id, {}).setdefault((y, m), {})[group] = list(counts)
        extras = {int(e[0]): (int(e[1]), int(e[2]), int(e[3])) for e in data["extras"]}
        return cls.made(centres, cells, extras)


def cached_figures(session: Session, *, actor: Actor, as_of: date,
                   state: State | None = None) -> Figures:
    """The retention figures this actor sees as of this date, now: kept in this process by
    state (any write changes it), else brought up to date from the latest figures of the
    same view (this process's, or another's through the shared store) by counting again
    the cells written to since, else counted from scratch. ``state``: the ``state_of``
    the caller already read (the page reads it once for its own key)."""
    state = state or state_of(session, actor=actor, as_of=as_of)

    def bring_up_to_date() -> Figures:
        figures = _bring_up_to_date(session, state, actor=actor, as_of=as_of)
        _KEPT.put(state.key, figures)
        return figures

    return _computing.get(state.key, lambda: _KEPT.get(state.key), bring_up_to_date)


def cached_retention_breakdown(session: Session, *, actor: Actor, as_of: date,
                               state: State | None = None) -> RetentionBreakdown:
    """``retention_breakdown`` from the sums the retention cache keeps per centre with the
    summary (``retention_cache.cached_figures``: counted again only for the cells a write
    touched, and never stale). ``state``: the cache's ``state_of``, when read."""
    return breakdown(cached_figures(session, actor=actor, as_of=as_of, state=state))


def breakdown(figures: Figures) -> RetentionBreakdown:
    """The breakdown of these figures (``retention_groups.retention_breakdown``'s)."""
    return from_sums(sorted((code, city) for _, code, _, city in figures.centres.values()),
                     {code: figures.sums[centre_id]
                      for centre_id, (_, code, _, _) in figures.centres.items()},
                     figures.whole)


def cached_centre_status(session: Session, *, actor: Actor, as_of: date) -> list[CentreStatus]:
    """``monitoring.centre_status`` for this actor and date (``cached_figures``)."""
    return cached_figures(session, actor=actor, as_of=as_of).summary()


# The figures of this process by state key, and the latest of each view with its state
# (the base the next figures of that view are brought up to date from).
_KEPT: Recent[Figures] = Recent(64)
_LATEST: Recent[tuple[Mark, Figures]] = Recent(64)
# Another process finds the latest figures of a view in the shared store: put there after
# a count from scratch, and at most this often after a few cells were counted again (a
# base a few seconds old only has a few more cells to count again).
SHARE_EVERY_SECONDS = 2.0
_shared_at: dict[str, float] = {}
_LATEST_PREFIX = "retention-figures-latest:"
# Centres counted from scratch in one statement (bounded memory for a national cohort).
CENTRES_AT_ONCE = 10


def _bring_up_to_date(session: Session, state: State, *, actor: Actor, as_of: date
                      ) -> Figures:
    engine = session.get_bind().engine
    store = shared_store(engine.url.render_as_string(hide_password=False))
    # Read before the figures: they hold at least what the mark says they hold.
    mark = _mark_from_state(state) if engine.dialect.name == "sqlite" else mark_of(session)
    base, changes = _base(session, store, state.view, mark)
    if base is None or changes is None:
        figures = _from_scratch(session, actor=actor, as_of=as_of)
        share = True
    else:
        figures = _with_changes(session, base, changes, actor=actor, as_of=as_of)
        share = time.monotonic() - _shared_at.get(state.view, 0.0) >= SHARE_EVERY_SECONDS
    _LATEST.put(state.view, (mark, figures))
    if share:
        _shared_at[state.view] = time.monotonic()
        store.put(_LATEST_PREFIX + state.view, figures.to_json(mark), TTL_SECONDS,
                  best_effort=True)
    return figures


@dataclass(frozen=True)
class Mark:
    """Where the audit trail stood when some figures were counted: its newest entry (id
    and time), how many entries the last ``LATE_COMMIT_WINDOW`` ids hold (``State``'s
    count), and the ids of that window missing then (``holes``: taken by transactions
    not committed yet, or rolled back).

    On PostgreSQL ids are handed out before commit, so an entry may arrive later below the
    newest id: it fills one of the holes. The entries after the newest and those filling
    a hole are exactly what was written since; before, a late arrival made every entry of
    the window be looked at again, and while outreach workers save at once that happened
    after nearly every save."""

    newest: int
    at: str | None
    recent: int
    holes: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"newest": self.newest, "at": self.at, "recent": self.recent,
                "holes": list(self.holes)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mark:
        return cls(int(data["newest"]), data["at"], int(data["recent"]),
                   tuple(int(i) for i in data["holes"]))


# PostgreSQL's mark in one row: the newest entry, the window's count and its holes found
# by the database (an index probe per id) rather than a thousand ids sent to be compared.
# The time is read through the column's own type: as the other readers of the trail
# read it, in UTC whatever the connection's time zone (a mark compared with another is
# compared as text).
_MARK_PG = sa.text(
    "SELECT a.id AS id, a.at AS at,"
    " (SELECT count(*) FROM audit_entry w WHERE w.id > a.id - :window) AS recent,"
    " ARRAY(SELECT generate_series(GREATEST(1, a.id - :window + 1), a.id - 1)"
    "       EXCEPT SELECT h.id FROM audit_entry h WHERE h.id > a.id - :window ORDER BY 1)"
    " AS holes"
    " FROM audit_entry a WHERE a.id = (SELECT max(id) FROM audit_entry)",
).bindparams(window=LATE_COMMIT_WINDOW).columns(
    sa.column("id", sa.Integer), sa.column("at", UTCDateTime()),
    sa.column("recent", sa.Integer), sa.column("holes", ARRAY(sa.Integer)))


def mark_of(session: Session) -> Mark:
    """The audit trail's mark now, read in one statement (one snapshot)."""
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(_MARK_PG).first()
        if row is None:
            return Mark(0, None, 0, ())
        return Mark(int(row[0]), row[1].isoformat(), int(row[2]), tuple(int(i) for i in row[3]))
    return _mark_read_here(session)


def _mark_read_here(session: Session) -> Mark:
    """``mark_of`` by reading the window's ids (any database)."""
    rows = session.execute(
        sa_select(_A.id, sa.case((_A.id == _NEWEST, _A.at))).where(_IN_WINDOW)
        .order_by(_A.id.desc())).all()
    if not rows:
        return Mark(0, None, 0, ())
    newest, at = int(rows[0][0]), rows[0][1].isoformat()
    present = {int(row[0]) for row in rows}
    holes = [i for i in range(max(1, newest - LATE_COMMIT_WINDOW + 1), newest)
             if i not in present]
    return Mark(newest, at, len(rows), tuple(holes))


def _mark_from_state(state: State) -> Mark:
    """The mark on SQLite, from the state already read: its writers take turns on the
    database's write lock and an entry's id is handed out inside its writer's turn, so
    entries commit in id order and none can arrive later below the newest (an id rolled
    back is handed out again, above it). No holes to look for: one statement and a
    thousand rows fewer on every page read after a save."""
    return Mark(state.newest, state.newest_at, state.recent, ())


def _visible(session: Session, actor: Actor) -> dict[int, tuple[int, str, str, str]]:
    return {centre_id: (centre_id, row.centre_code, row.centre_name, row.city)
            for centre_id, row in empty_rows(session, actor=actor).items()}


def _from_scratch(session: Session, *, actor: Actor, as_of: date) -> Figures:
    centres = _visible(session, actor)
    ids = list(centres)
    cells: dict[int, Cells] = {}
    for start in range(0, len(ids), CENTRES_AT_ONCE):
        cells.update(count_cells(session, centre_ids=ids[start:start + CENTRES_AT_ONCE],
                                 as_of=as_of))
    return Figures.made(centres, cells, extras(session, actor=actor))


def _with_changes(session: Session, base: Figures, changes: Changes, *, actor: Actor,
                  as_of: date) -> Figures:
    reach = actor.centre_ids

    def seen(centre_ids: set[int]) -> set[int]:
        return centre_ids if reach is None else centre_ids & reach

    touched = seen(changes.centres)
    if not touched:
        return base
    centres = _visible(session, actor) if changes.centre_records else base.centres
    cells = {centre_id: base.cells.get(centre_id, {}) for centre_id in centres}
    whole = [centre_id for centre_id in seen(changes.whole) if centre_id in centres]
    if whole:
        cells.update(count_cells(session, centre_ids=whole, as_of=as_of))
    months = {centre_id: wanted for centre_id, wanted in changes.months.items()
              if centre_id in centres and centre_id not in changes.whole
              and (reach is None or centre_id in reach)}
    if months:
        for centre_id, counted in count_cells(session, centre_ids=list(months), as_of=as_of,
                                              months=months).items():
            mine = dict(cells[centre_id])
            for month, groups in counted.items():
                if groups:
                    mine[month] = groups
                else:
                    mine.pop(month, None)
            cells[centre_id] = mine
    new_extras = {c: e for c, e in base.extras.items() if c in centres}
    again = seen(changes.extras | changes.whole)
    if again:
        new_extras.update(extras(session, actor=replace(actor, centre_ids=frozenset(again))))
    return Figures.made(centres, cells, new_extras, previous=base, changed=touched)


def _base(session: Session, store: SharedStore, view: str, now: Mark
          ) -> tuple[Figures | None, Changes | None]:
    """The latest figures of the view (this process's, else the shared store's) and what
    changed since; (None, None) when there is no usable base (count everything), (base,
    None) when the changes cannot be told by centre and month.

    Nothing changed only when the base's mark is the mark read ``now``, the one the new
    figures are kept under (not the state the request read earlier: a save committed in
    between would be in neither the base nor the changes, and the figures kept without
    it under a mark that says they hold it)."""
    kept = _LATEST.get(view)
    if kept is not None:
        mark, figures = kept
    else:
        found = store.get(_LATEST_PREFIX + view)
        if found is None:
            return None, None
        data = json.loads(found)
        figures, mark = Figures.from_json(data), Mark.from_dict(data["mark"])
    if (mark.newest, mark.at, mark.recent) == (now.newest, now.at, now.recent):
        return figures, Changes(set(), set(), {})
    changes = changed_since(session, mark)
    if changes is False:
        return None, None
    return figures, changes


@dataclass
class Changes:
    """What was written since some figures were made: the centres touched in any way
    (``centres``), those to count again entirely (``whole``), the cells to count again
    (``months``)."""

    centres: set[int]
    whole: set[int]
    months: dict[int, set[Month]]
    #: Centres whose sessions or deviations changed (their two statements run again).
    extras: set[int] = field(default_factory=set)
    #: A centre was added or changed (the list of centres is read again).
    centre_records: bool = False


# The statements that read what changed since a mark, made once (after a save the next
# page reads them: made again each time, building them and the key SQLAlchemy finds
# their compiled form by cost more than running them).
_NEWEST_ID = sa.bindparam("newest", type_=sa.Integer)
_IDS: sa.BindParameter[list[int]] = sa.bindparam("ids", expanding=True)
_KNOWN = sa_select(_A.at).where(_A.id == _NEWEST_ID).scalar_subquery()
_KNOWN_AT = sa_select(_KNOWN)
_AUDITED = sa_select(_A.table_name, _A.record_id, _A.field, _KNOWN.label("known")).distinct()
_SINCE = _AUDITED.where(_A.id > _NEWEST_ID).limit(MAX_DELTA + 1)
_SINCE_OR_HOLES = _AUDITED.where(sa.or_(
    _A.id > _NEWEST_ID, _A.id.in_(sa.bindparam("holes", expanding=True)))).limit(MAX_DELTA + 1)
_P = Participant.__table__.c  # type: ignore[attr-defined]
_WHO = sa_select(_P.id, _P.centre_id, _P.inclusion_date)
_WHO_BY_ID = _WHO.where(_P.id.in_(_IDS))
#: Per audited table: the participants of some of its records (their centre and month)...
_WHO_OF = {table: _WHO.join(model.__table__, model.participant_id == _P.id)
           .where(model.id.in_(_IDS)) for table, model in _BY_PARTICIPANT.items()}
#: ...or the centres of some of its records.
_CENTRES_OF = {table: sa_select(model.centre_id).where(model.id.in_(_IDS))
               for table, model in _BY_CENTRE.items()}


def changed_since(session: Session, mark: Mark) -> Changes | None | Literal[False]:
    """What changed since the ``mark`` some figures were counted at; None when that cannot
    be told by centre and month; False when the mark is not in this database's history (a
    restore, or figures counted inside a transaction that was rolled back): then count
    everything again.

    The records audited after the mark's newest entry (or as one of its ``holes``, ids
    below it that had not arrived) are read with that entry's time, in one statement: an
    entry gone, or another one under its id, and the mark is not this history."""
    if not mark.newest and mark.at is not None:
        return False
    values = {"newest": mark.newest, "holes": list(mark.holes)}
    rows = session.execute(_SINCE_OR_HOLES if mark.holes else _SINCE, values).all()
    if mark.newest:
        at = rows[0][3] if rows else session.execute(_KNOWN_AT, values).scalar()
        if at is None or at.isoformat() != mark.at:
            return False
    return _changes_of(session, [(table, record, changed) for table, record, changed, _ in rows])


def _changes_of(session: Session, entries: list[tuple[str, int, str | None]]
                ) -> Changes | None:
    """What these audited records changed; None when that cannot be told (too many, or a
    change of the whole study, or a participant moved to another centre)."""
    if len(entries) > MAX_DELTA:
        return None
    changes = Changes(set(), set(), {})
    people: set[int] = set()  # whose cell is counted again
    moved: set[int] = set()  # whose inclusion date changed: their whole centre
    records: dict[str, set[int]] = {}
    for table, record, changed_field in entries:
        if table in _NO_EFFECT:
            continue
        if table == "centre":
            changes.centres.add(int(record))
            changes.whole.add(int(record))
            changes.extras.add(int(record))
            changes.centre_records = True
        elif table == "participant":
            if changed_field == "centre_id":
                return None  # the centre it left is not known any more
            (moved if changed_field == "inclusion_date" else people).add(int(record))
        elif table in _BY_PARTICIPANT or table in _BY_CENTRE:
            records.setdefault(table, set()).add(int(record))
        else:
            return None  # a study lock, or a kind of record this cache does not know
    def cells_of(rows: Any, *, sessions: bool = False) -> None:
        for pid, centre_id, included in rows:
            changes.centres.add(int(centre_id))
            if sessions:
                changes.extras.add(int(centre_id))
            if pid in moved:
                changes.whole.add(int(centre_id))
            else:
                changes.months.setdefault(int(centre_id), set()).add(
                    (included.year, included.month))

    for table, ids in records.items():
        if table in _BY_CENTRE:
            owners = list(session.execute(_CENTRES_OF[table], {"ids": sorted(ids)}).scalars())
            if any(c is None for c in owners):
                return None  # a deviation of the whole study
            changes.centres.update(int(c) for c in owners)
            changes.extras.update(int(c) for c in owners)
        else:  # the records' participants, with their centre and inclusion, at once
            cells_of(session.execute(_WHO_OF[table], {"ids": sorted(ids)}).all(),
                     sessions=table == "aerli_session")
    if people or moved:
        cells_of(session.execute(_WHO_BY_ID, {"ids": sorted(people | moved)}).all())
    return changes
