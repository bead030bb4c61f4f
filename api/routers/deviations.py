"""The deviations queue: list, filter, acknowledge, resolve."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from api.access import log_download
from api.deps import CurrentUser, DbSession
from api.inputs import api_router
from api.problems import CONFLICTS
from api.schemas import DeviationsPublic, ReviewIn
from cohort.models import Deviation, DeviationPublic
from cohort.services import queries
from cohort.services.deviations import get_deviation, list_deviations, review
from cohort.vocab import DeviationStatus, ExportKind

router = api_router(prefix="/deviations", tags=["deviations"])


@router.get("", response_model=DeviationsPublic)
def list_all(
    request: Request, user: CurrentUser, session: DbSession,
    centre: Annotated[str | None, Query(description="Centre code, e.g. C04.")] = None,
    rule: Annotated[str | None, Query(description="Rule id, e.g. session.trained_staff.")] = None,
    status: DeviationStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DeviationsPublic:
    """Newest first, within the centres you may see. Each page is kept in the export log."""
    found = queries.get_centre(session, actor=user.actor, code=centre) if centre else None
    rows, total = list_deviations(session, actor=user.actor,
                                  centre_ids=[found.id or 0] if found else None,
                                  rule_id=rule, status=status, limit=limit, offset=offset)
    page = DeviationsPublic(
        data=[DeviationPublic.model_validate(d, from_attributes=True) for d in rows],
        count=total,
    )
    log_download(request, user, session, kind=ExportKind.API_PAGE, fmt="json", rows=len(rows),
                 fields=list(DeviationPublic.model_fields),
                 centre_codes=[found.code] if found else None,
                 free_text=not user.deidentified)  # resolution comments
    return page


@router.get("/{deviation_id}", response_model=DeviationPublic)
def get(deviation_id: int, user: CurrentUser, session: DbSession) -> Deviation:
    return get_deviation(session, actor=user.actor, deviation_id=deviation_id)


@router.post("/{deviation_id}/acknowledge", response_model=DeviationPublic, responses=CONFLICTS)
def acknowledge(deviation_id: int, body: ReviewIn, user: CurrentUser,
                session: DbSession) -> Deviation:
    """Research officers and data managers: seen, being followed up."""
    return review(session, actor=user.actor, deviation_id=deviation_id,
                  status=DeviationStatus.ACKNOWLEDGED, comment=body.comment)


@router.post("/{deviation_id}/resolve", response_model=DeviationPublic, responses=CONFLICTS)
def resolve(deviation_id: int, body: ReviewIn, user: CurrentUser,
            session: DbSession) -> Deviation:
    """Close a deviation; a comment saying how is required."""
    return review(session, actor=user.actor, deviation_id=deviation_id,
                  status=DeviationStatus.RESOLVED, comment=body.comment)
