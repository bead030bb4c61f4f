"""Research officers' pages: retention per centre, drill-down, the deviations queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import CurrentUser, DbSession, Today
from api.pages.common import flash, page_router, redirect, render
from cohort.errors import ActionNotAllowed, CohortError, NotFound
from cohort.rules import RULES
from cohort.schedule import get_schedule
from cohort.services import queries
from cohort.services.context import may
from cohort.services.deviations import list_deviations, review
from cohort.services.monitoring import participant_overview, total_status, worklist
from cohort.vocab import DeviationStatus

router = page_router()


@router.get("/retention", response_class=HTMLResponse)
def retention_page(request: Request, user: CurrentUser, session: DbSession,
                   today: Today) -> HTMLResponse:
    rows = queries.retention_summary(session, actor=user.actor, as_of=today)
    schedule = get_schedule()
    context = {"rows": rows, "total": total_status(rows), "today": today,
               "baseline": schedule.baseline.name,
               "follow_ups": [v.name for v in schedule.follow_ups]}
    return render(request, "retention.html", context, user=user)


@router.get("/centres/{centre_code}", response_class=HTMLResponse)
def centre_page(centre_code: str, request: Request, user: CurrentUser, session: DbSession,
                today: Today) -> HTMLResponse:
    centre, row = queries.centre_retention(session, actor=user.actor, code=centre_code,
                                           as_of=today)
    work = worklist(session, actor=user.actor, as_of=today, centre_id=centre.id)
    people = participant_overview(session, actor=user.actor, as_of=today, centre_id=centre.id)
    open_devs, n_open = list_deviations(session, actor=user.actor, centre_ids=[centre.id or 0],
                                        status=DeviationStatus.OPEN, limit=20)
    return render(request, "centre.html",
                  {"centre": centre, "row": row, "work": work, "people": people,
                   "deviations": open_devs, "n_open": n_open, "today": today}, user=user)


@router.get("/deviations", response_class=HTMLResponse)
def deviations_page(
    request: Request, user: CurrentUser, session: DbSession,
    centre: Annotated[str | None, Query()] = None,
    rule: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query()] = "open",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    wanted = DeviationStatus(status) if status in {s.value for s in DeviationStatus} else None
    centre_ids = [queries.get_centre(session, actor=user.actor, code=centre).id or 0] \
        if centre else None
    size = 50
    rows, total = list_deviations(session, actor=user.actor, centre_ids=centre_ids,
                                  rule_id=rule or None, status=wanted, limit=size,
                                  offset=(page - 1) * size)
    codes = queries.participant_codes(session, actor=user.actor,
                                      ids=(d.participant_id for d in rows))
    return render(request, "deviations.html",
                  {"rows": rows, "total": total, "codes": codes,
                   "centres": queries.list_centres(session, actor=user.actor),
                   "rules": [r for r in RULES if r.severity.value != "hard"],
                   "filters": {"centre": centre or "", "rule": rule or "",
                               "status": status or ""},
                   "page": page, "pages": max(1, -(-total // size)),
                   "may_review": may(user.actor, "review")},
                  user=user)


@router.post("/deviations/{deviation_id}", response_class=RedirectResponse)
def review_submit(
    deviation_id: int, request: Request, user: CurrentUser, session: DbSession,
    action: Annotated[str, Form()],
    comment: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "/deviations",
) -> RedirectResponse:
    status = DeviationStatus.RESOLVED if action == "resolve" else DeviationStatus.ACKNOWLEDGED
    try:
        review(session, actor=user.actor, deviation_id=deviation_id, status=status,
               comment=comment or None)
        flash(request, f"Deviation #{deviation_id} {status.value}.")
    except CohortError as error:
        session.rollback()
        if isinstance(error, NotFound | ActionNotAllowed):
            raise
        flash(request, f"Deviation #{deviation_id}: {error.message}", "error")
    target = back if back.startswith("/") and not back.startswith("//") else "/deviations"
    return redirect(target)
