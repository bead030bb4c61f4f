"""Data-protection pages: the access log (reads and exports) and the study lock.

Research officers review who opened their centres' participants; the data manager (and
national officers) every read and every export. Only the data manager locks or unlocks.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import CurrentUser, DbSession, SignedIn
from api.pages import review_views  # noqa: F401  (lock words and moments for the templates)
from api.pages.common import flash, page_router, plain_error, redirect, render
from cohort.errors import ActionNotAllowed, CohortError
from cohort.services import locks, queries
from cohort.services.access import LogFilter, list_exports, list_reads
from cohort.services.context import require_role
from forms.i18n import _

router = page_router()
PAGE_SIZE = 100


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/access-log", response_class=HTMLResponse)
def access_log_page(
    request: Request, user: CurrentUser, session: DbSession,
    log: Annotated[str, Query(pattern="^(reads|exports)$")] = "reads",
    centre: Annotated[str | None, Query(max_length=8)] = None,
    staff: Annotated[str | None, Query(max_length=12)] = None,
    participant: Annotated[str | None, Query(max_length=16)] = None,
    since: Annotated[str | None, Query(max_length=10)] = None,
    until: Annotated[str | None, Query(max_length=10)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Who read whose records (per centre, per person, per participant), or the exports."""
    require_role(user.actor, "access_log")
    found = queries.get_centre(session, actor=user.actor, code=centre) if centre else None
    person = int(staff) if staff and staff.isdigit() else None  # the form sends "" for all
    where = LogFilter(centre_id=found.id if found else None, staff_id=person,
                      participant_code=participant or None, since=_day(since),
                      until=_day(until), limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    lister = list_exports if log == "exports" else list_reads
    rows, total = lister(session, actor=user.actor, where=where)
    return render(request, "access_log.html", {
        "log": log, "rows": [r.as_dict() for r in rows], "total": total, "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "centres": queries.list_centres(session, actor=user.actor),
        "staff": queries.list_staff(session, actor=user.actor),
        "exports_visible": user.actor.centre_ids is None,
        "filters": {"centre": centre or "", "staff": person or "",
                    "participant": participant or "", "since": since or "",
                    "until": until or ""}}, user=user)


def _lock_page(request: Request, user: SignedIn, session: DbSession, error: str = "",
               status: int = 200) -> HTMLResponse:
    state = locks.lock_state(session)
    centres = queries.list_centres(session, actor=user.actor)
    return render(request, "study_lock.html", {
        "history": locks.lock_history(session, actor=user.actor),
        "study_since": state.study_since,
        "locked": {c.code: state.centres_since[c.id] for c in centres
                   if c.id in state.centres_since},
        "centres": centres, "error": error}, user=user, status=status)


@router.get("/study-lock", response_class=HTMLResponse)
def study_lock_page(request: Request, user: CurrentUser, session: DbSession) -> HTMLResponse:
    """The data manager's page: lock state, history, lock or unlock (rule scope.role)."""
    require_role(user.actor, "lock")
    return _lock_page(request, user, session)


@router.post("/study-lock", response_model=None)
def study_lock_submit(
    request: Request, user: CurrentUser, session: DbSession,
    action: Annotated[str, Form(pattern="^(lock|unlock)$")],
    reason: Annotated[str, Form(max_length=500)] = "",
    centre: Annotated[str, Form(max_length=8)] = "",
) -> HTMLResponse | RedirectResponse:
    change = locks.lock if action == "lock" else locks.unlock
    try:
        change(session, actor=user.actor, reason=reason, centre_code=centre or None)
    except CohortError as error:
        session.rollback()
        if isinstance(error, ActionNotAllowed):
            raise
        return _lock_page(request, user, session, plain_error(error), 422)
    if action == "lock":
        said = (_("Centre {code} is locked. Every write is now refused; reading and "
                  "exporting still work.").format(code=centre.upper()) if centre else
                _("The study is locked. Every write is now refused; reading and exporting "
                  "still work."))
    else:
        said = (_("Centre {code} is unlocked.").format(code=centre.upper()) if centre
                else _("The study is unlocked."))
    flash(request, said)
    return redirect("/study-lock")
