"""Centres, staff and training: the data manager's set-up work.

Every way of adding or changing staff (API, admin page, command line, demo) goes through
``create_staff`` and ``update_staff``, so the checks below hold whatever the interface:
an outreach worker belongs to a centre, only research officers are limited to a list of
centres, and an AERLI training date is not in the future (the two-trained-workers rule
counts it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from enum import Enum
from typing import Final

from sqlmodel import Session, col, select

from cohort.errors import CohortError, FieldError, NotFound, ValidationFailed
from cohort.messages import Message, msg
from cohort.models import Centre, CentreCreate, Staff, StaffCentreAccess, StaffCreate
from cohort.services import audit
from cohort.services.context import Actor, finish, require_role
from cohort.services.signin import end_sign_ins_of_staff
from cohort.vocab import Role
from forms.i18n import _

STAFF_DETAILS = "staff_details"


class _Unchanged(Enum):
    UNCHANGED = "unchanged"


UNCHANGED: Final = _Unchanged.UNCHANGED


def _admin(actor: Actor) -> Actor:
    """Administration is for data managers and system actors (the local command line, the
    demo generator), which are trusted like one. The actor is what the audit records."""
    if actor.system is None:
        require_role(actor, "admin")
    return actor


def create_centre(session: Session, *, actor: Actor, data: CentreCreate) -> Centre:
    actor_id = _admin(actor)
    code = data.code.strip().upper()
    if session.exec(select(Centre).where(Centre.code == code)).first() is not None:
        raise CohortError(msg("centre.exists", code=code))
    centre = Centre.model_validate(data, update={"code": code})
    session.add(centre)
    session.flush()
    audit.record_create(session, actor_id, centre)
    finish(session)
    return centre


def centre_by_code(session: Session, code: str) -> Centre:
    """The centre of a code (``c04`` is ``C04``); an unknown code is named (NotFound)."""
    centre = session.exec(select(Centre).where(Centre.code == code.strip().upper())).first()
    if centre is None or centre.id is None:
        raise NotFound(msg("centre.not_found", code=code))
    return centre


def centre_ids_for(session: Session, *, actor: Actor, codes: Iterable[str]) -> list[int]:
    """The ids of centres given by code (``C04``), for data managers; an unknown code is
    named."""
    _admin(actor)
    return [int(centre_by_code(session, code).id or 0) for code in codes]


def _refuse(field: str, label: str, message: Message, code: str = "invalid"
            ) -> ValidationFailed:
    return ValidationFailed([FieldError(field=field, label=label, message=message, code=code)],
                            STAFF_DETAILS)


def _check_centres(role: Role, centre_id: int | None, extra_ids: Sequence[int]) -> None:
    if role is Role.OUTREACH_WORKER and centre_id is None:
        raise _refuse("centre_id", _("Centre"),
                      msg("staff.centre_needed"), "required")
    if extra_ids and role is not Role.RESEARCH_OFFICER:
        raise _refuse("extra_centre_codes", _("Limited to centres"),
                      msg("staff.extra_centres_not_allowed"))


def _check_training_date(trained_on: date | None, today: date | None) -> None:
    if trained_on is not None and today is not None and trained_on > today:
        raise _refuse("aerli_trained_on", _("AERLI training date"),
                      msg("staff.training_in_future", date=trained_on, today=today),
                      "date_in_future")


def _existing_centres(session: Session, ids: Iterable[int]) -> None:
    for centre_id in ids:
        if session.get(Centre, centre_id) is None:
            raise NotFound(msg("centre.not_found_id", centre_id=centre_id))


def create_staff(
    session: Session,
    *,
    actor: Actor,
    data: StaffCreate,
    extra_centre_ids: list[int] | None = None,
    on: date | None = None,
) -> Staff:
    """Add a staff member. ``extra_centre_ids`` limits a research officer to those centres
    (with their own centre, if any); ``on`` is today, to refuse a training date after it."""
    actor_id = _admin(actor)
    extra = sorted(set(extra_centre_ids or ()) - {data.centre_id})
    _check_centres(data.role, data.centre_id, extra)
    _check_training_date(data.aerli_trained_on, on)
    _existing_centres(session, [data.centre_id] if data.centre_id is not None else [])
    _existing_centres(session, extra)
    staff = Staff.model_validate(data)
    session.add(staff)
    session.flush()
    assert staff.id is not None  # noqa: S101
    for centre_id in extra:
        session.add(StaffCentreAccess(staff_id=staff.id, centre_id=centre_id))
    audit.record_create(session, actor_id, staff)
    if extra:
        audit.record_changes(session, actor_id, "staff", staff.id,
                             {"centre_access": (None, _codes(session, extra))})
    finish(session)
    return staff


def _codes(session: Session, ids: Iterable[int]) -> str:
    wanted = list(ids)
    if not wanted:
        return ""
    rows = session.exec(select(Centre.code).where(col(Centre.id).in_(wanted))).all()
    return ", ".join(sorted(rows))


def update_staff(
    session: Session,
    *,
    actor: Actor,
    staff_id: int,
    on: date,
    trained_on: date | None | _Unchanged = UNCHANGED,
    active: bool | None = None,
    extra_centre_ids: Sequence[int] | None = None,
) -> Staff:
    """Change what a data manager keeps about a staff member, in one commit with its audit
    entries: either every requested change is made or none.

    ``trained_on`` records (a date) or clears (``None``) the AERLI training, which decides
    who counts towards the two trained workers a session needs, so a date after ``on``
    (today) is refused. ``active=False`` marks someone who left the study team: their
    sign-ins end at once. ``extra_centre_ids`` replaces the centres a research officer is
    limited to (empty: national again, or only their own centre).
    """
    actor_id = _admin(actor)
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(msg("staff.not_found", staff_id=staff_id))
    # Every check before any change, so that a refused part leaves the rest undone.
    if not isinstance(trained_on, _Unchanged):
        _check_training_date(trained_on, on)
    extra: list[int] | None = None
    if extra_centre_ids is not None:
        extra = sorted(set(extra_centre_ids) - {staff.centre_id})
        _check_centres(staff.role, staff.centre_id, extra)
        _existing_centres(session, extra)
    if active is False and staff_id == actor_id.audit_id:
        raise CohortError(msg("staff.cannot_deactivate_self"))

    changes: dict[str, tuple[object, object]] = {}
    if not isinstance(trained_on, _Unchanged):
        changes["aerli_trained_on"] = (staff.aerli_trained_on, trained_on)
        staff.aerli_trained_on = trained_on
    if extra is not None:
        _replace_centre_access(session, staff_id, extra, changes)
    if active is not None and active != staff.active:
        changes["active"] = (staff.active, active)
        staff.active = active
        if not active:
            end_sign_ins_of_staff(session, actor_id=actor_id, staff_id=staff_id)
    session.add(staff)
    audit.record_changes(session, actor_id, "staff", staff_id, changes)
    finish(session)
    return staff


def _replace_centre_access(session: Session, staff_id: int, extra: list[int],
                           changes: dict[str, tuple[object, object]]) -> None:
    current = session.exec(
        select(StaffCentreAccess).where(StaffCentreAccess.staff_id == staff_id)
    ).all()
    old_ids = sorted(row.centre_id for row in current)
    if old_ids == extra:
        return
    changes["centre_access"] = (_codes(session, old_ids), _codes(session, extra))
    for row in current:
        session.delete(row)
    session.flush()
    for centre_id in extra:
        session.add(StaffCentreAccess(staff_id=staff_id, centre_id=centre_id))


def set_training(
    session: Session, *, actor: Actor, staff_id: int, trained_on: date | None,
    on: date,
) -> Staff:
    """Record (or clear) the date a staff member completed AERLI training; ``on`` is today
    (a training date after it is refused)."""
    return update_staff(session, actor=actor, staff_id=staff_id, on=on, trained_on=trained_on)
