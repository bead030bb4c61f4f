"""The retention summary, computed once per state of the data and shared by every process.

Every write adds an audit entry in its own transaction (append-only, never updated), so
the newest audit entry identifies the state of the data: while it is unchanged the figures
are unchanged, and one indexed look-up replaces five grouped queries over the whole cohort.
The key holds that entry (id and time), the database, the centres the person may see, the
date and the visit windows; the value is kept in the shared store (``cohort.shared``), so a
summary computed by one server process serves the others, and a save answered by any
process changes the key that all of them look up next: a figure is never stale.

After a save the whole summary is not computed again: the latest summary of the same view
(same person's reach, date and windows) is kept too, with the audit entry it was computed
at; the audit entries written since name the records that changed, hence their centres,
and only those centres are computed again (one centre's queries, not twenty). Anything
whose centre cannot be told (a study-wide lock, a record of another kind) makes the whole
summary computed again.

Within a process, people asking for the same key at once wait for the one computing it
rather than compute it again each (the first request after a save pays, not all of them).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from cohort.models import (
    AerliSession,
    AuditEntry,
    Deviation,
    Participant,
    Questionnaire,
    Screening,
    StatusChange,
)
from cohort.recent import OneAtATime
from cohort.services.context import Actor, protocol_config
from cohort.services.monitoring import CentreStatus, centre_status
from cohort.shared import SharedStore, shared_store

TTL_SECONDS = 3600
# On PostgreSQL ids are handed out before commit, so a transaction that took an older id
# may commit after a newer one: the count of the latest ids catches that late arrival (an
# index range scan, not a count of the whole trail), and the entries of that window are
# all looked at again when only the changed centres are computed.
LATE_COMMIT_WINDOW = 1000
# More changed records than this since the latest summary: compute it all again.
MAX_DELTA = 5000
#: How each audited table finds the centre of a record (None: the whole study).
_BY_PARTICIPANT: dict[str, Any] = {"questionnaire": Questionnaire,
                                   "aerli_session": AerliSession,
                                   "status_change": StatusChange}
_BY_CENTRE: dict[str, Any] = {"participant": Participant, "deviation": Deviation,
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


def state_of(session: Session, *, actor: Actor, as_of: date) -> State:
    newest = session.exec(
        select(AuditEntry.id, AuditEntry.at).order_by(col(AuditEntry.id).desc()).limit(1)
    ).first()
    recent = 0
    if newest is not None and newest[0] is not None:
        recent = session.exec(select(func.count()).select_from(AuditEntry).where(
            col(AuditEntry.id) > newest[0] - LATE_COMMIT_WINDOW)).one()
    url = session.get_bind().engine.url
    view = [url.get_backend_name(), url.host, url.port, url.database,
            sorted(actor.centre_ids) if actor.centre_ids is not None else None,
            as_of.isoformat(), repr(protocol_config())]
    newest_id = int(newest[0]) if newest is not None and newest[0] is not None else 0
    newest_at = newest[1].isoformat() if newest_id and newest is not None else None
    at = [newest_id, newest_at] if newest_id else None
    return State(_digest([*view, at, recent]), _digest(view), newest_id, newest_at,
                 int(recent))


def state_key(session: Session, *, actor: Actor, as_of: date) -> str:
    """The cache key of the summary this actor would see as of this date, now."""
    return "retention:" + state_of(session, actor=actor, as_of=as_of).key


def _digest(parts: list[Any]) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def cached_centre_status(session: Session, *, actor: Actor, as_of: date) -> list[CentreStatus]:
    """``monitoring.centre_status`` for this actor and date, from the shared store when the
    data have not changed since it was computed, else brought up to date."""
    state = state_of(session, actor=actor, as_of=as_of)
    key = "retention:" + state.key
    store = shared_store(session.get_bind().engine.url.render_as_string(hide_password=False))

    def bring_up_to_date() -> list[CentreStatus]:
        rows = _bring_up_to_date(session, store, state, actor=actor, as_of=as_of)
        value = json.dumps([asdict(row) for row in rows]).encode()
        store.put(key, value, TTL_SECONDS, best_effort=True)
        keep_latest(store, "retention-latest:", state, [asdict(row) for row in rows])
        return rows

    found = _computing.get(key, lambda: _rows(store.get(key)), bring_up_to_date)
    return [replace(row) for row in found]


def _bring_up_to_date(session: Session, store: SharedStore, state: State, *, actor: Actor,
                      as_of: date) -> list[CentreStatus]:
    base, changed = changed_since_latest(session, store, "retention-latest:", state)
    if base is None or changed is None:
        return centre_status(session, actor=actor, as_of=as_of)
    rows = {row["centre_id"]: CentreStatus.from_dict(row) for row in base["rows"]}
    wanted = changed if actor.centre_ids is None else changed & actor.centre_ids
    if wanted:
        narrowed = replace(actor, centre_ids=frozenset(wanted))
        for row in centre_status(session, actor=narrowed, as_of=as_of):
            rows[row.centre_id] = row
    return sorted(rows.values(), key=lambda row: row.centre_code)


def keep_latest(store: SharedStore, prefix: str, state: State, rows: Any) -> None:
    """Keep ``rows`` as the latest of ``state``'s view (read by ``changed_since_latest``)."""
    latest = json.dumps({"newest": state.newest, "at": state.newest_at,
                         "recent": state.recent, "rows": rows}).encode()
    store.put(prefix + state.view, latest, TTL_SECONDS, best_effort=True)


def changed_since_latest(session: Session, store: SharedStore, prefix: str, state: State
                         ) -> tuple[dict[str, Any] | None, set[int] | None]:
    """The latest value kept for ``state``'s view under ``prefix`` (``keep_latest``) and
    the centres whose records changed since; (None, None) when there is no usable base
    (compute everything), (base, None) when the changes cannot be told by centre."""
    latest = store.get(prefix + state.view)
    if latest is None:
        return None, None
    base = json.loads(latest)
    known = session.exec(select(AuditEntry.at).where(AuditEntry.id == base["newest"])).first()
    if known is None or known.isoformat() != base["at"]:
        # The base's state is not in this database's history (a restore, or a base
        # computed inside a transaction that was rolled back): start afresh.
        return None, None
    # Entries that committed late, below the base's newest id, change this count: then
    # every entry of the window is looked at again, else only those after the base.
    settled = session.exec(select(func.count()).select_from(AuditEntry).where(
        col(AuditEntry.id) > base["newest"] - LATE_COMMIT_WINDOW,
        col(AuditEntry.id) <= base["newest"])).one()
    late = int(settled) != int(base["recent"])
    since = int(base["newest"]) - (LATE_COMMIT_WINDOW if late else 0)
    return base, changed_centres(session, since=since)


def changed_centres(session: Session, *, since: int) -> set[int] | None:
    """The centres of the records audited after entry ``since``; None when that cannot be
    told (too many, or a change of the whole study)."""
    entries = session.exec(
        select(AuditEntry.table_name, AuditEntry.record_id).distinct()
        .where(col(AuditEntry.id) > since).limit(MAX_DELTA + 1)).all()
    if len(entries) > MAX_DELTA:
        return None
    ids: dict[str, set[int]] = {}
    for table, record in entries:
        if table in _NO_EFFECT:
            continue
        if table != "centre" and table not in _BY_PARTICIPANT and table not in _BY_CENTRE:
            return None  # a study lock, or a kind of record this cache does not know
        ids.setdefault(table, set()).add(int(record))
    centres: set[int] = set(ids.pop("centre", set()))
    for table, records in ids.items():
        if table in _BY_CENTRE:
            model = _BY_CENTRE[table]
            owners = list(session.execute(sa_select(model.centre_id).where(
                model.id.in_(records))).scalars())
            if any(c is None for c in owners):
                return None  # a deviation of the whole study
            centres.update(int(c) for c in owners)
        else:
            model = _BY_PARTICIPANT[table]
            centres.update(int(c) for c in session.execute(
                sa_select(Participant.centre_id).join(  # type: ignore[call-overload]
                    model, model.participant_id == Participant.id)
                .where(model.id.in_(records))).scalars())
    return centres


def _rows(value: bytes | None) -> list[CentreStatus] | None:
    if value is None:
        return None
    return [CentreStatus.from_dict(row) for row in json.loads(value)]
