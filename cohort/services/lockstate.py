"""Whether the study, or a centre, is locked: the state every write is checked against.

The lock history (``study_lock``) is append-only; the latest row of a scope (the whole
study, or one centre) is its state. Reading it is one small query, done by the write gate
(``context.require_scope``) before every write; inside a ``batch`` (an import, the demo)
the state is read once and kept for the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from cohort import rules
from cohort.errors import ProtocolViolation
from cohort.models import StudyLock
from cohort.rules import LockFacts
from cohort.vocab import LockAction

_CACHE = "cohort_lock_state"


@dataclass(frozen=True)
class LockState:
    """Since when the whole study and each centre (by id) have been locked."""

    study_since: datetime | None = None
    centres_since: dict[int, datetime] = field(default_factory=dict)

    @property
    def study_locked(self) -> bool:
        return self.study_since is not None

    def locked(self, centre_id: int | None) -> bool:
        """Whether a write for this centre (None: not tied to a centre) is refused."""
        return self.study_locked or (centre_id is not None and centre_id in self.centres_since)

    def since(self, centre_id: int) -> datetime | None:
        """When this centre's data became final: its own lock or the study's, the earlier."""
        dates = [d for d in (self.study_since, self.centres_since.get(centre_id)) if d]
        return min(dates) if dates else None


# Read before every write: made once (building it, and the key its compiled form is found
# by, cost more than running it on a history of a few rows).
_HISTORY = select(StudyLock.action, StudyLock.centre_id, StudyLock.at).order_by(col(StudyLock.id))


def read_lock_state(session: Session) -> LockState:
    """The current lock state, folded from the lock history (oldest first)."""
    cached = session.info.get(_CACHE)
    if isinstance(cached, LockState):
        return cached
    study: datetime | None = None
    centres: dict[int, datetime] = {}
    rows = session.exec(_HISTORY)
    for action, centre_id, at in rows:
        locking = LockAction(action) is LockAction.LOCK
        if centre_id is None:
            study = at if locking else None
        elif locking:
            centres[centre_id] = at
        else:
            centres.pop(centre_id, None)
    return LockState(study, centres)


def _kept_for_batch(session: Session) -> bool:
    """Whether the state was read once for a batch (``keep_for_batch``): it is the one."""
    return isinstance(session.info.get(_CACHE), LockState)


def keep_for_batch(session: Session) -> None:
    """Read the state once for a batch of writes (the caller drops it when the batch ends)."""
    session.info[_CACHE] = read_lock_state(session)


def forget(session: Session) -> None:
    session.info.pop(_CACHE, None)


def latest_of(centre_id: Any) -> tuple[Any, Any, Any, Any]:
    """Four columns a statement can add to read, with its own rows, the state that
    matters for a write for ``centre_id`` (a column of that statement): the latest entry
    of the whole study (action, time) and of that centre. A save reads its participant and
    the lock in one round trip (``state_of_latest``)."""
    def latest(scope: Any, column: Any) -> Any:
        return (sa.select(column).where(scope).order_by(col(StudyLock.id).desc()).limit(1)
                .scalar_subquery())

    study = col(StudyLock.centre_id).is_(None)
    centre = col(StudyLock.centre_id) == centre_id
    return (latest(study, StudyLock.action), latest(study, StudyLock.at),
            latest(centre, StudyLock.action), latest(centre, StudyLock.at))


def state_of_latest(centre_id: int, study_action: Any, study_at: datetime | None,
                    centre_action: Any, centre_at: datetime | None) -> LockState:
    """The state for a write for ``centre_id`` from ``latest_of``'s columns: the latest
    entry of a scope is its state, as ``read_lock_state`` folds the history."""
    def locked(action: Any) -> bool:
        return action is not None and LockAction(action) is LockAction.LOCK

    return LockState(study_at if locked(study_action) else None,
                     {centre_id: centre_at} if locked(centre_action) and centre_at else {})


def require_unlocked(session: Session, centre_id: int | None,
                     state: LockState | None = None) -> None:
    """Hard rule ``study.locked``: refuse a write for a locked centre or a locked study
    (``state``: read with the caller's own statement, ``state_of_latest``)."""
    if state is None or _kept_for_batch(session):
        state = read_lock_state(session)
    rules.enforce("lock", LockFacts(centre_id, state.study_locked,
                                    frozenset(state.centres_since)))


def lock_refusal(session: Session, centre_id: int | None) -> str | None:
    """Why a write for this centre would be refused by ``study.locked`` (None: it would
    not): what a page shows instead of offering a form it would refuse."""
    try:
        require_unlocked(session, centre_id)
    except ProtocolViolation as refused:
        return refused.message
    return None
