"""Research officers' pages: retention per centre, drill-down, the deviations queue."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from api.access import log_download
from api.deps import CurrentUser, DbSession, Today
from api.pages import review_views  # noqa: F401  (rule names for the templates)
from api.pages.common import TEMPLATES, flash, page_router, redirect, render
from api.pages.retention_rows import Rows
from api.pages.retention_view import csv_rows, retention_view
from cohort.errors import ActionNotAllowed, CohortError, NotFound
from cohort.recent import OneAtATime, Recent
from cohort.rules import RULES
from cohort.services import queries
from cohort.services.context import may
from cohort.services.deviations import list_deviations, review
from cohort.services.monitoring import participant_overview, worklist
from cohort.services.retention_cache import (
    Figures,
    breakdown,
    cached_figures,
    cached_retention_breakdown,
    state_of,
)
from cohort.services.review_many import review_many
from cohort.vocab import DeviationStatus, ExportKind
from forms.i18n import _, current_language, ngettext
from forms.safe_cells import neutralise_row

router = page_router()


@router.get("/retention", response_class=HTMLResponse)
def retention_page(request: Request, user: CurrentUser, session: DbSession,
                   today: Today) -> HTMLResponse:
    """Retention per centre with percentages, the intervention / comparison split, a chart
    per centre and over time, sortable columns and a CSV download (``retention_view``)."""
    needs_purpose = user.actor.centre_ids is None
    # The figures depend on the data, the person's reach, the day and the windows (all in
    # the retention cache's state, which any write changes) and on the reader's language.
    state = state_of(session, actor=user.actor, as_of=today)
    key = (state.key, current_language(), needs_purpose)

    def make() -> Markup:
        figures = cached_figures(session, actor=user.actor, as_of=today, state=state)
        # A write outside this person's centres leaves their figures the very same object
        # (``retention_cache``): their table is the one rendered from it.
        same = (id(figures), current_language(), needs_purpose, today)
        kept = _BY_FIGURES.get(same)
        if kept is not None and kept[0] is figures:
            return kept[1]
        view = retention_view(figures.ordered(), breakdown(figures))
        table = Markup(TEMPLATES.env.get_template("retention_table.html").render(  # noqa: S704 (autoescaped)
            {**view, "rows": Rows(view["timepoints"], figures), "today": today,
             "needs_purpose": needs_purpose}))
        _BY_FIGURES.put(same, (figures, table))
        return table

    def make_and_keep() -> Markup:
        table = make()
        _RENDERED.put(key, table)
        return table

    table = _RENDERING.get(key, lambda: _RENDERED.get(key), make_and_keep)
    return render(request, "retention.html", {"table": table}, user=user)


# The last rendered retention tables of this process, by key (the research officers of a
# study read the same few views; rendering one, 20 centres by every visit and both groups,
# costs far more than the look-ups that name it), each made once however many officers
# ask for a new state at the same time (after a save, every officer's next page does).
_RENDERED: Recent[Markup] = Recent(32)
_RENDERING = OneAtATime()
# The same tables by the figures they show (kept with them, so a figure is never shown
# with another's table): a save in a centre an officer does not follow, or an outreach
# worker's other centres, gives a new state of the data but not new figures for them.
_BY_FIGURES: Recent[tuple[Figures, Markup]] = Recent(32)


@router.get("/retention.csv")
def retention_csv(request: Request, user: CurrentUser, session: DbSession, today: Today,
                  purpose: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    """The retention figures as CSV (cells neutralised), logged as an export: the whole
    cohort's needs a purpose (rule ``export.no_purpose``: 422, nothing sent)."""
    header, rows = csv_rows(cached_retention_breakdown(session, actor=user.actor,
                                                       as_of=today))
    name = f"retention-{today.isoformat()}.csv"
    log_download(request, user, session, kind=ExportKind.REPORT, fmt="csv", rows=len(rows),
                 fields=header, purpose=purpose, target=name)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(neutralise_row(row) for row in rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/centres/{centre_code}", response_class=HTMLResponse)
def centre_page(centre_code: str, request: Request, user: CurrentUser, session: DbSession,
                today: Today, q: Annotated[str, Query(max_length=40)] = "") -> HTMLResponse:
    """A centre's figures and its visits due (``q`` narrows them to matching codes)."""
    centre, row = queries.centre_retention(session, actor=user.actor, code=centre_code,
                                           as_of=today)
    work = worklist(session, actor=user.actor, as_of=today, centre_id=centre.id)
    search = queries.find_codes(session, actor=user.actor, query=q, centre_id=centre.id)
    if search.active:
        found = set(search.ids.values())
        work = [w for w in work if w.code in found]
    people = participant_overview(session, actor=user.actor, as_of=today, centre_id=centre.id)
    open_devs, n_open = list_deviations(session, actor=user.actor, centre_ids=[centre.id or 0],
                                        status=DeviationStatus.OPEN, limit=20)
    return render(request, "centre.html",
                  {"centre": centre, "row": row, "work": work, "people": people,
                   "deviations": open_devs, "n_open": n_open, "today": today,
                   "search": search}, user=user)


@router.get("/deviations", response_class=HTMLResponse)
def deviations_page(
    request: Request, user: CurrentUser, session: DbSession,
    centre: Annotated[str | None, Query()] = None,
    rule: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query()] = "open",
    page: Annotated[int, Query(ge=1)] = 1,
    q: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    wanted = DeviationStatus(status) if status in {s.value for s in DeviationStatus} else None
    centre_ids = [queries.get_centre(session, actor=user.actor, code=centre).id or 0] \
        if centre else None
    size = 50
    search = queries.find_codes(session, actor=user.actor, query=q)
    rows, total = list_deviations(session, actor=user.actor, centre_ids=centre_ids,
                                  rule_id=rule or None, status=wanted, limit=size,
                                  offset=(page - 1) * size,
                                  code_query=q if search.active else None)
    codes = queries.participant_codes(session, actor=user.actor,
                                      ids=(d.participant_id for d in rows))
    return render(request, "deviations.html",
                  {"rows": rows, "total": total, "codes": codes,
                   "centres": queries.list_centres(session, actor=user.actor),
                   "rules": [r for r in RULES if r.severity.value != "hard"],
                   "filters": {"centre": centre or "", "rule": rule or "",
                               "status": status or ""}, "search": search,
                   "page": page, "pages": max(1, -(-total // size)),
                   "may_review": may(user.actor, "review")},
                  user=user)


def _back(back: str) -> str:
    return back if back.startswith("/") and not back.startswith("//") else "/deviations"


@router.post("/deviations/bulk", response_class=RedirectResponse)
def review_bulk(
    request: Request, user: CurrentUser, session: DbSession,
    action: Annotated[str, Form(max_length=16)],
    ids: Annotated[list[int] | None, Form()] = None,
    comment: Annotated[str, Form(max_length=2000)] = "",
    back: Annotated[str, Form(max_length=500)] = "/deviations",
) -> RedirectResponse:
    """The ticked deviations acknowledged (or resolved) with one comment: one audited
    review per deviation (``review_many``)."""
    status = DeviationStatus.RESOLVED if action == "resolve" else DeviationStatus.ACKNOWLEDGED
    try:
        outcome = review_many(session, actor=user.actor, deviation_ids=ids or [],
                              status=status, comment=comment or None)
    except CohortError as error:
        session.rollback()
        if isinstance(error, ActionNotAllowed):
            raise
        flash(request, error.message, "error")
        return redirect(_back(back))
    n = len(outcome.done)
    if n:
        flash(request, (ngettext("{n} deviation resolved.", "{n} deviations resolved.", n)
                        if status is DeviationStatus.RESOLVED else
                        ngettext("{n} deviation acknowledged.", "{n} deviations acknowledged.",
                                 n)).format(n=n))
    for deviation_id, reason in outcome.refused.items():
        flash(request, _("Deviation #{id} was not changed: {reason}").format(
            id=deviation_id, reason=reason), "error")
    return redirect(_back(back))


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
        flash(request, (_("Deviation #{id} resolved.") if status is DeviationStatus.RESOLVED
                        else _("Deviation #{id} acknowledged.")).format(id=deviation_id))
    except CohortError as error:
        session.rollback()
        if isinstance(error, NotFound | ActionNotAllowed):
            raise
        flash(request, _("Deviation #{id}: {reason}").format(id=deviation_id,
                                                              reason=error.message), "error")
    return redirect(_back(back))
