"""Whether the study, or a centre, is locked: the state every write is checked against.

The lock history (``study_lock``) is append-only; the latest row of a scope (the whole
study, or one centre) is its state. Reading it is one small query, done by the write gate
(``context.require_scope``) before every write; inside a ``batch`` (an import, the demo)
the state is read once and kept for the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

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


def keep_for_batch(session: Session) -> None:
    """Read the state once for a batch of writes (the caller drops it when the batch ends)."""
    session.info[_CACHE] = read_lock_state(session)


def forget(session: Session) -> None:
    session.info.pop(_CACHE, None)


def require_unlocked(session: Session, centre_id: int | None) -> None:
    """Hard rule ``study.locked``: refuse a write for a locked centre or a locked study."""
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
