"""Locking the study at its end, and what its retention period makes due for deletion.

The data manager locks the whole study, or one centre whose follow-up is over. From then
on every write of study data is refused by rule ``study.locked`` at the one gate all write
services pass (``context.require_scope``); reads and exports still work, and so do
accounts (closing them is part of closing a study). Unlocking is possible, with a reason:
both are kept in the append-only lock history and in the audit trail.

Retention: ``COHORT_RETENTION_YEARS`` after a centre's data became final (its own lock or
the study's, whichever came first), its participants' records are due for deletion under
the study's rules; once the whole study is locked, so are the study-wide logs. This module
only says what is due and since when. Nothing is ever deleted by the software: deleting is
a decision of the data controller, made outside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, SQLModel, col, select

from cohort.errors import CohortError
from cohort.messages import msg
from cohort.models import (
    AerliSession,
    AuditEntry,
    Centre,
    Deviation,
    ExportLog,
    ExternalRecord,
    Participant,
    Questionnaire,
    ReadLog,
    Screening,
    StatusChange,
    StudyLock,
)
from cohort.services import audit
from cohort.services.context import Actor, finish, require_role
from cohort.services.lockstate import LockState, read_lock_state
from cohort.services.setup import centre_by_code
from cohort.settings import get_settings
from cohort.vocab import LockAction
from forms.i18n import _


def _scope(session: Session, centre_code: str | None) -> Centre | None:
    return centre_by_code(session, centre_code) if centre_code else None


def _change(session: Session, *, actor: Actor, centre_code: str | None, reason: str,
            action: LockAction) -> StudyLock:
    require_role(actor, "lock")
    if not reason.strip():
        raise CohortError(msg(f"lock.reason_needed.{action.value}.centre",
                              centre=centre_code.upper())
                          if centre_code else msg(f"lock.reason_needed.{action.value}.study"))
    centre = _scope(session, centre_code)
    state = read_lock_state(session)
    where = "centre" if centre else "study"
    locked = (centre.id in state.centres_since) if centre else state.study_locked
    if action is LockAction.LOCK and locked:
        raise CohortError(msg(f"lock.already_locked.{where}", centre=centre and centre.code))
    if action is LockAction.UNLOCK and not locked:
        raise CohortError(msg(f"lock.not_locked.{where}", centre=centre and centre.code))
    entry = StudyLock(action=action, centre_id=centre.id if centre else None,
                      actor_id=actor.staff_id, reason=reason.strip()[:500])
    session.add(entry)
    session.flush()
    audit.record_create(session, actor.staff_id, entry)
    finish(session)
    return entry


def lock(session: Session, *, actor: Actor, reason: str,
         centre_code: str | None = None) -> StudyLock:
    """Lock the study (no centre) or one centre: every later write is refused."""
    return _change(session, actor=actor, centre_code=centre_code, reason=reason,
                   action=LockAction.LOCK)


def unlock(session: Session, *, actor: Actor, reason: str,
           centre_code: str | None = None) -> StudyLock:
    """Lift a lock (a centre stays locked while the whole study is)."""
    return _change(session, actor=actor, centre_code=centre_code, reason=reason,
                   action=LockAction.UNLOCK)


@dataclass(frozen=True)
class LockRow:
    at: datetime
    action: str
    scope: str
    by: str
    reason: str


def lock_history(session: Session, *, actor: Actor) -> list[LockRow]:
    """Every lock and unlock, oldest first, with the data manager's name."""
    from cohort.models import Staff

    require_role(actor, "lock")
    rows = session.exec(
        select(StudyLock, Centre.code, Staff.display_name)
        .join(Centre, col(StudyLock.centre_id) == col(Centre.id), isouter=True)
        .join(Staff, col(StudyLock.actor_id) == col(Staff.id))
        .order_by(col(StudyLock.id)))
    whole = _("whole study")
    return [LockRow(entry.at, entry.action.value, code or whole, name, entry.reason)
            for entry, code, name in rows]


def lock_state(session: Session) -> LockState:
    return read_lock_state(session)


# --------------------------------------------------------------------------- retention
def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@dataclass
class RetentionItem:
    """One locked scope: since when its data are final, when they are due for deletion."""

    scope: str
    locked_since: date
    due_on: date
    due: bool
    records: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "locked_since": self.locked_since.isoformat(),
                "due_on": self.due_on.isoformat(), "due": self.due, "records": self.records}


@dataclass
class RetentionReport:
    as_of: date
    retention_years: int
    items: list[RetentionItem] = field(default_factory=list)

    @property
    def due(self) -> list[RetentionItem]:
        return [item for item in self.items if item.due]

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "retention_years": self.retention_years,
                "deletes_nothing": True, "items": [i.as_dict() for i in self.items]}


def _count(session: Session, model: type[SQLModel], *where: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def _centre_records(session: Session, centre_id: int) -> dict[str, int]:
    people = select(Participant.id).where(Participant.centre_id == centre_id)
    mine = col(Participant.centre_id) == centre_id
    of_people: dict[str, type[SQLModel]] = {
        "questionnaires": Questionnaire, "aerli_sessions": AerliSession,
        "status_changes": StatusChange, "external_records": ExternalRecord,
        "read_log_entries": ReadLog}
    counts = {"participants": _count(session, Participant, mine)}
    for name, model in of_people.items():
        counts[name] = _count(session, model,
                              col(model.participant_id).in_(people))  # type: ignore[attr-defined]
    counts["deviations"] = _count(session, Deviation, col(Deviation.centre_id) == centre_id)
    counts["screenings"] = _count(session, Screening, col(Screening.centre_id) == centre_id)
    return counts


def retention_report(session: Session, *, as_of: date) -> RetentionReport:
    """What the retention period makes due for deletion as of a day (nothing is deleted)."""
    years = get_settings().retention_years
    state = read_lock_state(session)
    report = RetentionReport(as_of=as_of, retention_years=years)
    centres = session.exec(select(Centre).order_by(col(Centre.code))).all()
    for centre in centres:
        assert centre.id is not None  # noqa: S101
        since = state.since(centre.id)
        if since is None:
            continue
        due_on = _add_years(since.date(), years)
        report.items.append(RetentionItem(f"centre {centre.code}", since.date(), due_on,
                                          as_of >= due_on, _centre_records(session, centre.id)))
    if state.study_since is not None:
        due_on = _add_years(state.study_since.date(), years)
        logs = {"audit_entries": _count(session, AuditEntry),
                "export_log_entries": _count(session, ExportLog)}
        report.items.append(RetentionItem(_("study-wide logs"), state.study_since.date(), due_on,
                                          as_of >= due_on, logs))
    return report
