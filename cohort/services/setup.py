"""Centres, staff and training: the data manager's set-up work."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from cohort.errors import CohortError, NotFound
from cohort.models import Centre, CentreCreate, Staff, StaffCentreAccess, StaffCreate
from cohort.services import audit
from cohort.services.context import Actor, finish, require_role


def _admin(actor: Actor | None) -> int | None:
    """``None`` is the local command line, trusted like a data manager."""
    if actor is None:
        return None
    require_role(actor, "admin")
    return actor.staff_id


def create_centre(session: Session, *, actor: Actor | None, data: CentreCreate) -> Centre:
    actor_id = _admin(actor)
    code = data.code.strip().upper()
    if session.exec(select(Centre).where(Centre.code == code)).first() is not None:
        raise CohortError(f"A centre with code {code} already exists.")
    centre = Centre.model_validate(data, update={"code": code})
    session.add(centre)
    session.flush()
    audit.record_create(session, actor_id, centre)
    finish(session)
    return centre


def centre_by_code(session: Session, code: str) -> Centre:
    centre = session.exec(select(Centre).where(Centre.code == code.strip().upper())).first()
    if centre is None:
        raise NotFound(f"No centre with code {code}.")
    return centre


def create_staff(
    session: Session,
    *,
    actor: Actor | None,
    data: StaffCreate,
    extra_centre_ids: list[int] | None = None,
) -> Staff:
    actor_id = _admin(actor)
    if data.centre_id is not None and session.get(Centre, data.centre_id) is None:
        raise NotFound(f"No centre with id {data.centre_id}.")
    staff = Staff.model_validate(data)
    session.add(staff)
    session.flush()
    assert staff.id is not None  # noqa: S101
    for centre_id in extra_centre_ids or []:
        session.add(StaffCentreAccess(staff_id=staff.id, centre_id=centre_id))
    audit.record_create(session, actor_id, staff)
    finish(session)
    return staff


def set_training(
    session: Session, *, actor: Actor | None, staff_id: int, trained_on: date | None
) -> Staff:
    """Record (or clear) the date a staff member completed AERLI training."""
    actor_id = _admin(actor)
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(f"No staff member with id {staff_id}.")
    old = staff.aerli_trained_on
    staff.aerli_trained_on = trained_on
    session.add(staff)
    audit.record_changes(session, actor_id, "staff", staff_id,
                         {"aerli_trained_on": (old, trained_on)})
    finish(session)
    return staff
