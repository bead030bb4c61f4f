"""Group and status changes. Nobody is deleted; status history is appended to."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from cohort import rules
from cohort.errors import CohortError
from cohort.messages import msg
from cohort.models import Participant, Questionnaire, StatusChange
from cohort.rules import DatedFacts, GroupChangeFacts
from cohort.schedule import get_schedule
from cohort.services import audit
from cohort.services.context import Actor, finish, get_participant, require_scope, today
from cohort.services.deid import redact_records
from cohort.vocab import Group, Status

# Relational harm reduction: "accountability without termination". Anyone may come
# back, except after death.
_ALLOWED = {
    Status.ACTIVE: {Status.WITHDRAWN, Status.DECEASED, Status.LOST_TO_FOLLOW_UP},
    Status.RETURNED: {Status.WITHDRAWN, Status.DECEASED, Status.LOST_TO_FOLLOW_UP},
    Status.WITHDRAWN: {Status.RETURNED, Status.DECEASED},
    Status.LOST_TO_FOLLOW_UP: {Status.RETURNED, Status.WITHDRAWN, Status.DECEASED},
    Status.DECEASED: set(),
}


def change_group(session: Session, *, actor: Actor, code: str, group: Group) -> Participant:
    """Only allowed before M0, and never from comparison to intervention."""
    participant = get_participant(session, actor, code)
    require_scope(actor, participant.centre_id, session=session)
    assert participant.id is not None  # noqa: S101
    has_m0 = (
        session.exec(
            select(Questionnaire.id).where(
                Questionnaire.participant_id == participant.id,
                Questionnaire.timepoint == get_schedule().baseline.name,
            )
        ).first()
        is not None
    )
    rules.enforce("group_change", GroupChangeFacts(participant.group, group, has_m0))
    if participant.group is group:
        return participant
    audit.record_changes(session, actor.staff_id, "participant", participant.id,
                         {"group": (participant.group, group),
                          "version": (participant.version, participant.version + 1)})
    participant.group = group
    participant.version += 1
    session.add(participant)
    finish(session)
    return participant


def allowed_statuses(current: Status) -> list[Status]:
    """The statuses a participant with status ``current`` may move to (none after death)."""
    return [s for s in Status if s in _ALLOWED[current]]


def check_status(session: Session, actor: Actor, participant: Participant, current: Status,
                 status: Status, effective_date: date, on: date | None = None) -> None:
    """Every check of a status change from ``current``: scope, dates, allowed moves.
    Shared by ``change_status`` and the bulk writer (which tracks ``current`` itself)."""
    require_scope(actor, participant.centre_id, session=session)
    assert participant.id is not None  # noqa: S101
    rules.enforce(
        "dated",
        DatedFacts(effective_date, participant.inclusion_date, on or today(),
                   what="status"),
    )
    if status not in _ALLOWED[current]:
        raise CohortError(msg("status.not_allowed", code=participant.code,
                              current=current, requested=status))


def change_status(
    session: Session,
    *,
    actor: Actor,
    code: str,
    status: Status,
    effective_date: date,
    reason: str | None = None,
    on: date | None = None,
) -> StatusChange:
    """Append a status to the history and make it current."""
    participant = get_participant(session, actor, code)
    check_status(session, actor, participant, participant.status, status, effective_date, on)
    assert participant.id is not None  # noqa: S101
    change = StatusChange(
        participant_id=participant.id,
        status=status,
        effective_date=effective_date,
        reason=reason,
        recorded_by=actor.staff_id,
    )
    session.add(change)
    session.flush()
    audit.record_create(session, actor.staff_id, change)
    audit.record_changes(session, actor.staff_id, "participant", participant.id,
                         {"status": (participant.status, status),
                          "version": (participant.version, participant.version + 1)})
    participant.status = status
    participant.version += 1
    session.add(participant)
    finish(session)
    return change


def status_history(session: Session, *, actor: Actor, code: str) -> list[StatusChange]:
    """The status history; statisticians get it without the free-text reasons."""
    participant = get_participant(session, actor, code)
    return redact_records(actor, session.exec(
        select(StatusChange)
        .where(StatusChange.participant_id == participant.id)
        .order_by(col(StatusChange.id))
    ).all())
