"""Centres and staff."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentUser, DbSession
from api.schemas import StaffIn, StaffOut
from cohort.models import Centre, CentreCreate, CentrePublic, Staff
from cohort.services import queries, setup

router = APIRouter(tags=["centres and staff"])


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
def create_staff(body: StaffIn, user: CurrentUser, session: DbSession) -> StaffOut:
    """Add a staff member (data managers); research officers may be limited to centres."""
    extra = [queries.get_centre(session, actor=user.actor, code=c).id or 0
             for c in body.extra_centre_codes]
    staff = setup.create_staff(session, actor=user.actor,
                               data=StaffIn.model_validate(body.model_dump()),
                               extra_centre_ids=extra)
    return staff_out(staff, deidentified=False)
