"""The retention summary, computed once per state of the data and shared by every process.

Every write adds an audit entry in its own transaction (append-only, never updated), so
the newest audit entry identifies the state of the data: while it is unchanged the figures
are unchanged, and one indexed look-up replaces five grouped queries over the whole cohort.
The key holds that entry (id and time), the database, the centres the person may see, the
date and the visit windows; the value is kept in the shared store (``cohort.shared``), so a
summary computed by one server process serves the others, and a save answered by any
process changes the key that all of them look up next: a figure is never stale.

Within a process, people asking for the same key at once wait for the one computing it
rather than compute it again each (the first request after a save pays, not all of them).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import asdict
from datetime import date

from sqlmodel import Session, col, func, select

from cohort.models import AuditEntry
from cohort.services.context import Actor, protocol_config
from cohort.services.monitoring import CentreStatus, centre_status
from cohort.shared import shared_store

TTL_SECONDS = 3600
# On PostgreSQL ids are handed out before commit, so a transaction that took an older id
# may commit after a newer one: the count of the latest ids catches that late arrival (an
# index range scan, not a count of the whole trail).
LATE_COMMIT_WINDOW = 1000

_computing: dict[str, threading.Lock] = {}
_computing_lock = threading.Lock()


def state_key(session: Session, *, actor: Actor, as_of: date) -> str:
    """The cache key of the summary this actor would see as of this date, now."""
    newest = session.exec(
        select(AuditEntry.id, AuditEntry.at).order_by(col(AuditEntry.id).desc()).limit(1)
    ).first()
    recent = 0
    if newest is not None and newest[0] is not None:
        recent = session.exec(select(func.count()).select_from(AuditEntry).where(
            col(AuditEntry.id) > newest[0] - LATE_COMMIT_WINDOW)).one()
    url = session.get_bind().engine.url
    parts = [url.get_backend_name(), url.host, url.port, url.database,
             sorted(actor.centre_ids) if actor.centre_ids is not None else None,
             as_of.isoformat(), repr(protocol_config()),
             [newest[0], newest[1].isoformat()] if newest else None, recent]
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()
    return f"retention:{digest}"


def cached_centre_status(session: Session, *, actor: Actor, as_of: date) -> list[CentreStatus]:
    """``monitoring.centre_status`` for this actor and date, from the shared store when the
    data have not changed since it was computed."""
    key = state_key(session, actor=actor, as_of=as_of)
    store = shared_store(session.get_bind().engine.url.render_as_string(hide_password=False))
    found = _load(store.get(key))
    if found is not None:
        return found
    with _computing_lock:
        lock = _computing.setdefault(key, threading.Lock())
    with lock:
        found = _load(store.get(key))
        if found is None:
            found = centre_status(session, actor=actor, as_of=as_of)
            store.put(key, json.dumps([asdict(row) for row in found]).encode(), TTL_SECONDS,
                      best_effort=True)
    with _computing_lock:
        _computing.pop(key, None)
    return found


def _load(value: bytes | None) -> list[CentreStatus] | None:
    if value is None:
        return None
    return [CentreStatus(**row) for row in json.loads(value)]
