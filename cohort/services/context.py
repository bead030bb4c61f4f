"""Who is acting, what they may see, and how a service commits.

**Who acts** is always an ``Actor``: a person (built once per request or command from a
staff row: ``actor_for``, ``load_actor``) or a *system actor* (``COMMAND_LINE``,
``CHECKS``, ``DEMO``, ``PROTOCOL_RULES``) for work no person does by hand. A system actor is
trusted like a data manager for administration, writes no study data in anyone's name
(``require_scope`` refuses it), and is recorded by name in the audit trail
(``audit_entry.actor_system``).

**The transaction** is owned by one ``UnitOfWork`` (``batch`` is its name in the services):
the outermost unit commits or rolls back everything once; a unit opened inside another is
a SAVEPOINT, undone alone when it fails (the outer one decides about the rest). Services
end with ``finish``: commit when no unit is open, else only flush.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from cohort import rules
from cohort.errors import ActionNotAllowed, NotFound
from cohort.messages import msg
from cohort.models import Participant, Staff, StaffCentreAccess
from cohort.rules import ProtocolConfig, ScopeFacts
from cohort.schedule import get_schedule
from cohort.services.lockstate import LockState, forget, keep_for_batch, require_unlocked
from cohort.settings import get_settings
from cohort.vocab import Role
from forms.i18n import N_, _

_DEPTH = "cohort_unit_depth"
#: The staff id of system actors: no staff row has it (ids start at 1), and it is never
#: written anywhere (``audit_id`` is None for them).
SYSTEM_STAFF_ID = 0


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff member with the centres they may see (None: all), or a system
    actor (``system`` names it: the command line, the checks, the demo generator)."""

    staff_id: int
    role: Role
    centre_id: int | None
    centre_ids: frozenset[int] | None
    system: str | None = None

    def can_see(self, centre_id: int) -> bool:
        return self.centre_ids is None or centre_id in self.centre_ids

    @property
    def audit_id(self) -> int | None:
        """The staff id audit entries and logs record: None for a system actor (its name
        goes in ``audit_entry.actor_system``)."""
        return None if self.system else self.staff_id


def system_actor(name: str) -> Actor:
    """A system actor: national reach, the data manager's role, no staff row."""
    return Actor(SYSTEM_STAFF_ID, Role.ADMIN, None, None, system=name)


#: The local command line (``cohort …`` run by whoever may run it on the server).
COMMAND_LINE = system_actor(N_("command line"))
#: The time-based checks (``cohort check``, the demo's last step).
CHECKS = system_actor(N_("checks"))
#: The synthetic cohort generator (``cohort demo``).
DEMO = system_actor(N_("demo generator"))
#: The soft rules, raising deviations while a person's record is saved.
PROTOCOL_RULES = system_actor(N_("protocol rules"))


def require_person(actor: Actor, what: str) -> None:
    """Study data are written in a person's name: a system actor is refused. ``what`` is
    English marked with ``N_`` (shown in the reader's language)."""
    if actor.system is not None:
        raise ActionNotAllowed(
            "scope.role",
            msg("scope.person_needed", what=_(what), system=_(actor.system)))


def actor_for(session: Session, staff: Staff) -> Actor:
    """Resolve a staff member's reach: outreach workers their centre; officers their list."""
    extra: Iterable[int] = ()
    if staff.role is Role.RESEARCH_OFFICER:
        extra = session.exec(
            select(StaffCentreAccess.centre_id).where(StaffCentreAccess.staff_id == staff.id)
        ).all()
    return actor_of(staff, extra)


def actor_of(staff: Staff, extra: Iterable[int]) -> Actor:
    """``actor_for`` with the officer's extra centres read already (signing in reads them
    in the same statement as the account: one statement per request, not two)."""
    assert staff.id is not None  # noqa: S101
    centre_ids: frozenset[int] | None
    if staff.role is Role.OUTREACH_WORKER:
        centre_ids = frozenset({staff.centre_id}) if staff.centre_id is not None else frozenset()
    elif staff.role is Role.RESEARCH_OFFICER:
        scoped = set(extra) | ({staff.centre_id} if staff.centre_id is not None else set())
        centre_ids = frozenset(scoped) if scoped else None
    else:
        centre_ids = None
    return Actor(staff.id, staff.role, staff.centre_id, centre_ids)


def load_actor(session: Session, staff_id: int) -> Actor:
    staff = session.get(Staff, staff_id)
    if staff is None or not staff.active:
        raise NotFound(msg("staff.not_active", staff_id=staff_id))
    return actor_for(session, staff)


def require_scope(actor: Actor, centre_id: int | None, action: str = "write", *,
                  session: Session, lock: LockState | None = None) -> None:
    """The gate every write of study data passes: hard rules ``scope.role`` and
    ``scope.other_centre`` (who may write for this centre), then ``study.locked`` (nothing is
    written for a locked centre or a locked study, whoever asks). ``centre_id`` None: a
    write tied to no one centre (time-based checks), refused while the study is locked.
    ``lock``: the lock state read with the caller's own statement (``lockstate.latest_of``)."""
    require_person(actor, N_("Writing study data"))
    if centre_id is None:
        require_role(actor, action)
    else:
        rules.enforce("scope", ScopeFacts(actor.role, actor.centre_ids, centre_id, action))
    require_unlocked(session, centre_id, lock)


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
        raise NotFound(msg("participant.not_found", code=code))
    return participant


def protocol_config() -> ProtocolConfig:
    s = get_settings()
    return ProtocolConfig(schedule=get_schedule(), session_deadline_days=s.session_deadline_days)


def today() -> date:
    return date.today()


class UnitOfWork:
    """The one owner of a transaction and of its nesting.

    ``with UnitOfWork(session):`` groups service calls: all are written, or none. The
    outermost unit commits on success and rolls everything back on an error; a unit inside
    another is a SAVEPOINT: on an error only its own work is undone before the error goes
    on to the outer unit (which, unless the caller catches it, rolls back the rest). The
    lock state is read once for the outermost unit (rule ``study.locked``).
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._savepoint: Any = None

    @property
    def depth(self) -> int:
        return int(self.session.info.get(_DEPTH, 0))

    def __enter__(self) -> Session:
        depth = self.depth
        if depth == 0:
            keep_for_batch(self.session)
        else:
            self._savepoint = self.session.begin_nested()
        self.session.info[_DEPTH] = depth + 1
        return self.session

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: Any) -> None:
        depth = self.depth - 1
        try:
            if self._savepoint is not None:
                if kind is None:
                    self._savepoint.commit()
                elif self._savepoint.is_active:
                    self._savepoint.rollback()
            elif kind is None:
                self.session.commit()
            else:
                self.session.rollback()
        finally:
            if depth <= 0:
                self.session.info.pop(_DEPTH, None)
                forget(self.session)
            else:
                self.session.info[_DEPTH] = depth


def batch(session: Session) -> UnitOfWork:
    """Group many service calls in one unit of work (see ``UnitOfWork``)."""
    return UnitOfWork(session)


def in_batch(session: Session) -> bool:
    """Whether a unit of work is open on this session (the services then only flush)."""
    return bool(session.info.get(_DEPTH))


def finish(session: Session) -> None:
    """Commit the service's work, or only flush it when inside a ``batch``."""
    if in_batch(session):
        session.flush()
    else:
        session.commit()
