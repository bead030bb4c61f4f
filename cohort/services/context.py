"""Who is acting, what they may see, and how a service commits.

``Actor`` is built once per request or command from a staff row; services receive it and
ask the scope rules. ``finish`` commits unless the caller opened a ``batch`` (imports, the
demo generator), in which case the caller commits or rolls back the whole batch once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from cohort import rules
from cohort.errors import NotFound
from cohort.models import Participant, Staff, StaffCentreAccess
from cohort.rules import ProtocolConfig, ScopeFacts
from cohort.schedule import get_schedule
from cohort.services.lockstate import forget, keep_for_batch, require_unlocked
from cohort.settings import get_settings
from cohort.vocab import Role

_BATCH = "cohort_batch"


@dataclass(frozen=True)
class Actor:
    """The signed-in staff member, with the centres they may see (None: all)."""

    staff_id: int
    role: Role
    centre_id: int | None
    centre_ids: frozenset[int] | None

    def can_see(self, centre_id: int) -> bool:
        return self.centre_ids is None or centre_id in self.centre_ids


def actor_for(session: Session, staff: Staff) -> Actor:
    """Resolve a staff member's reach: outreach workers their centre; officers their list."""
    assert staff.id is not None  # noqa: S101
    centre_ids: frozenset[int] | None
    if staff.role is Role.OUTREACH_WORKER:
        centre_ids = frozenset({staff.centre_id}) if staff.centre_id is not None else frozenset()
    elif staff.role is Role.RESEARCH_OFFICER:
        extra = session.exec(
            select(StaffCentreAccess.centre_id).where(StaffCentreAccess.staff_id == staff.id)
        ).all()
        scoped = set(extra) | ({staff.centre_id} if staff.centre_id is not None else set())
        centre_ids = frozenset(scoped) if scoped else None
    else:
        centre_ids = None
    return Actor(staff.id, staff.role, staff.centre_id, centre_ids)


def load_actor(session: Session, staff_id: int) -> Actor:
    staff = session.get(Staff, staff_id)
    if staff is None or not staff.active:
        raise NotFound(f"No active staff member with id {staff_id}.")
    return actor_for(session, staff)


def require_scope(actor: Actor, centre_id: int | None, action: str = "write", *,
                  session: Session) -> None:
    """The gate every write of study data passes: hard rules ``scope.role`` and
    ``scope.other_centre`` (who may write for this centre), then ``study.locked`` (nothing is
    written for a locked centre or a locked study, whoever asks). ``centre_id`` None: a
    write tied to no one centre (time-based checks), refused while the study is locked."""
    if centre_id is None:
        require_role(actor, action)
    else:
        rules.enforce("scope", ScopeFacts(actor.role, actor.centre_ids, centre_id, action))
    require_unlocked(session, centre_id)


def require_role(actor: Actor, action: str) -> None:
    """Role check for actions not tied to one centre (reviewing, administration)."""
    rules.enforce("scope", ScopeFacts(actor.role, None, 0, action))


def may(actor: Actor, action: str) -> bool:
    """``require_role`` as a question (rule ``scope.role``): whether a page offers it."""
    return rules.may(actor.role, action)


# Built once: every participant request starts here, and composing the SELECT cost more
# than running it.
_BY_CODE = select(Participant).where(col(Participant.code) == bindparam("code"))


def get_participant(session: Session, actor: Actor, code: str) -> Participant:
    """A participant the actor may see; another centre's code reads as unknown (404)."""
    return visible(actor, session.exec(_BY_CODE, params={"code": code}).first(), code)


def visible(actor: Actor, participant: Participant | None, code: str) -> Participant:
    """``participant`` if the actor may see it; else the same 404 as an unknown code (for
    services that load the participant together with something else)."""
    if participant is None or not actor.can_see(participant.centre_id):
        raise NotFound(f"No participant with code {code}.")
    return participant


def protocol_config() -> ProtocolConfig:
    s = get_settings()
    return ProtocolConfig(schedule=get_schedule(), session_deadline_days=s.session_deadline_days)


def today() -> date:
    return date.today()


@contextmanager
def batch(session: Session) -> Iterator[Session]:
    """Group many service calls in one transaction: all are written, or none."""
    session.info[_BATCH] = True
    keep_for_batch(session)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_BATCH, None)
        forget(session)


def in_batch(session: Session) -> bool:
    return bool(session.info.get(_BATCH))


def finish(session: Session) -> None:
    """Commit the service's work, or only flush it when inside a ``batch``."""
    if in_batch(session):
        session.flush()
    else:
        session.commit()
