"""Retention per centre and the worklist of visits due."""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from typing import Annotated

from fastapi import Query, Request, Response
from pydantic import TypeAdapter

from api.access import log_download
from api.deps import CurrentUser, DbSession, Today
from api.inputs import api_router
from cohort.recent import Recent
from cohort.services import queries
from cohort.services.monitoring import CentreStatus, WorklistItem, worklist
from cohort.services.retention_cache import cached_figures, state_of
from cohort.vocab import ExportKind

router = api_router(tags=["monitoring"])

AsOf = Annotated[date | None, Query(description="Evaluate as of this date; default today.")]


@router.get("/retention", response_model=list[CentreStatus])
def retention(user: CurrentUser, session: DbSession, today: Today,
              as_of: AsOf = None) -> Response:
    """Per visible centre: enrolled by group; ``visits``, one entry per visit of the
    schedule (done, in window, due, overdue, attendance); sessions, open deviations,
    withdrawals and losses."""
    day = as_of or today
    # The answer is named by the retention cache's state (the data, the reach, the day,
    # the windows): kept as JSON, it is sent again as long as nothing was written, without
    # copying, checking and writing out twenty centres' rows for every dashboard's poll.
    state = state_of(session, actor=user.actor, as_of=day)
    body = _ANSWERS.get(state.key)
    if body is None:
        figures = cached_figures(session, actor=user.actor, as_of=day, state=state)
        body = _ROWS.dump_json(figures.ordered())
        _ANSWERS.put(state.key, body)
    return Response(body, media_type="application/json")


_ANSWERS: Recent[bytes] = Recent(64)
_ROWS = TypeAdapter(list[CentreStatus])


@router.get("/centres/{centre_code}/retention", response_model=CentreStatus)
def centre_retention(centre_code: str, user: CurrentUser, session: DbSession, today: Today,
                     as_of: AsOf = None) -> CentreStatus:
    return queries.centre_retention(session, actor=user.actor, code=centre_code,
                                    as_of=as_of or today)[1]


@router.get("/worklist", response_model=list[WorklistItem])
def visits_due(
    request: Request, user: CurrentUser, session: DbSession, today: Today,
    centre: Annotated[str | None, Query(description="Centre code, e.g. C04.")] = None,
    as_of: AsOf = None,
    horizon_days: Annotated[int, Query(ge=0, le=365)] = 30,
) -> list[WorklistItem]:
    """Follow-up visits overdue, in window now, or opening within ``horizon_days`` (kept in
    the export log: it lists participants)."""
    found = queries.get_centre(session, actor=user.actor, code=centre) if centre else None
    items = worklist(session, actor=user.actor, as_of=as_of or today,
                     centre_id=found.id if found else None, horizon_days=horizon_days)
    log_download(request, user, session, kind=ExportKind.API_PAGE, fmt="json", rows=len(items),
                 fields=[f.name for f in fields(WorklistItem)],
                 centre_codes=[found.code] if found else None)
    return items
