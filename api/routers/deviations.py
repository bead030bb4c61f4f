"""The deviations queue: list, filter, acknowledge, resolve."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from api.deps import CurrentUser, DbSession
from api.inputs import api_router
from api.schemas import DeviationsPublic, ReviewIn
from cohort.models import Deviation, DeviationPublic
from cohort.services import queries
from cohort.services.deviations import get_deviation, list_deviations, review
from cohort.vocab import DeviationStatus

router = api_router(prefix="/deviations", tags=["deviations"])


@router.get("", response_model=DeviationsPublic)
def list_all(
    user: CurrentUser, session: DbSession,
    centre: Annotated[str | None, Query(description="Centre code, e.g. C04.")] = None,
    rule: Annotated[str | None, Query(description="Rule id, e.g. session.trained_staff.")] = None,
    status: DeviationStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DeviationsPublic:
    """Newest first, within the centres you may see."""
    centre_ids = None
    if centre:
        centre_ids = [queries.get_centre(session, actor=user.actor, code=centre).id or 0]
    rows, total = list_deviations(session, actor=user.actor, centre_ids=centre_ids,
                                  rule_id=rule, status=status, limit=limit, offset=offset)
    return DeviationsPublic(
        data=[DeviationPublic.model_validate(d, from_attributes=True) for d in rows],
        count=total,
    )


@router.get("/{deviation_id}", response_model=DeviationPublic)
def get(deviation_id: int, user: CurrentUser, session: DbSession) -> Deviation:
    return get_deviation(session, actor=user.actor, deviation_id=deviation_id)


@router.post("/{deviation_id}/acknowledge", response_model=DeviationPublic)
def acknowledge(deviation_id: int, body: ReviewIn, user: CurrentUser,
                session: DbSession) -> Deviation:
    """Research officers and data managers: seen, being followed up."""
    return review(session, actor=user.actor, deviation_id=deviation_id,
                  status=DeviationStatus.ACKNOWLEDGED, comment=body.comment)


@router.post("/{deviation_id}/resolve", response_model=DeviationPublic)
def resolve(deviation_id: int, body: ReviewIn, user: CurrentUser,
            session: DbSession) -> Deviation:
    """Close a deviation; a comment saying how is required."""
    return review(session, actor=user.actor, deviation_id=deviation_id,
                  status=DeviationStatus.RESOLVED, comment=body.comment)
