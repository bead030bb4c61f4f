"""Centres and staff."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from api.deps import CurrentUser, DbSession, Today
from api.inputs import api_router
from api.schemas import StaffIn, StaffOut, StaffPatch
from cohort.models import Centre, CentreCreate, CentrePublic, Staff
from cohort.services import queries, setup

router = api_router(tags=["centres and staff"])


def staff_out(staff: Staff, *, deidentified: bool) -> StaffOut:
    return StaffOut(id=staff.id or 0, display_name=None if deidentified else staff.display_name,
                    role=staff.role, centre_id=staff.centre_id,
                    aerli_trained_on=staff.aerli_trained_on, active=staff.active)


@router.get("/centres", response_model=list[CentrePublic])
def list_centres(user: CurrentUser, session: DbSession) -> list[Centre]:
    """The centres you may see."""
    return queries.list_centres(session, actor=user.actor)


@router.post("/centres", response_model=CentrePublic, status_code=201)
def create_centre(body: CentreCreate, user: CurrentUser, session: DbSession) -> Centre:
    """Add a partner centre (data managers)."""
    return setup.create_centre(session, actor=user.actor, data=body)


@router.get("/centres/{centre_code}", response_model=CentrePublic)
def get_centre(centre_code: str, user: CurrentUser, session: DbSession) -> Centre:
    return queries.get_centre(session, actor=user.actor, code=centre_code)


@router.get("/staff", response_model=list[StaffOut])
def list_staff(
    user: CurrentUser, session: DbSession,
    centre: Annotated[str | None, Query(description="Centre code, e.g. C04.")] = None,
) -> list[StaffOut]:
    """Staff of the centres you may see; statisticians get no names."""
    centre_id = queries.get_centre(session, actor=user.actor, code=centre).id if centre else None
    return [staff_out(s, deidentified=user.deidentified)
            for s in queries.list_staff(session, actor=user.actor, centre_id=centre_id)]


@router.post("/staff", response_model=StaffOut, status_code=201)
def create_staff(body: StaffIn, user: CurrentUser, session: DbSession,
                 today: Today) -> StaffOut:
    """Add a staff member (data managers). Outreach workers need a centre; only research
    officers may be limited to centres; an AERLI training date may not be in the future."""
    extra = setup.centre_ids_for(session, actor=user.actor, codes=body.extra_centre_codes)
    staff = setup.create_staff(session, actor=user.actor,
                               data=StaffIn.model_validate(body.model_dump()),
                               extra_centre_ids=extra, on=today)
    return staff_out(staff, deidentified=False)


@router.patch("/staff/{staff_id}", response_model=StaffOut)
def update_staff(staff_id: int, body: StaffPatch, user: CurrentUser, session: DbSession,
                 today: Today) -> StaffOut:
    """Data managers: record or clear (``null``) the AERLI training date, mark someone
    active or not (no longer active ends their sign-ins), or replace the centres a research
    officer is limited to (``[]``: national again). Only the fields sent are changed, all
    of them or none."""
    sent = body.model_fields_set
    extra = None
    if body.extra_centre_codes is not None:
        extra = setup.centre_ids_for(session, actor=user.actor, codes=body.extra_centre_codes)
    staff = setup.update_staff(
        session, actor=user.actor, staff_id=staff_id, on=today,
        trained_on=body.aerli_trained_on if "aerli_trained_on" in sent else setup.UNCHANGED,
        active=body.active, extra_centre_ids=extra,
    )
    return staff_out(staff, deidentified=False)
