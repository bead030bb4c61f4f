"""Background jobs on the pages: start an export or the analysis report, follow a job's
progress (the page refreshes itself until the job is finished), download what it made.
Large workbook imports land here too (``api.pages.excel``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from analysis.jobs import may_analyse, may_export_free_text
from api.deps import CurrentUser, DbSession, Today
from api.jobs_web import job_out, queue_analysis, queue_export, stream_file
from api.pages.common import Words, page_router, plain_error, redirect, render, render_error
from cohort.errors import CohortError
from cohort.jobs import store
from cohort.services.access import PURPOSES
from forms.i18n import _

router = page_router()
#: What a job is, and how it stands, as people read it (codes stay in the API).
KIND_LABELS = Words(lambda: {"import": _("Workbook import"),
                             "export": _("Analysis data export"),
                             "analysis": _("Analysis report")})
STATUS_LABELS = Words(lambda: {"queued": _("Waiting to start"), "running": _("Running"),
                               "done": _("Finished"), "failed": _("Stopped")})
FORMATS = ("csv", "xlsx", "dta", "sav", "parquet")


def _list(request: Request, user: CurrentUser, session: DbSession, *, error: str | None = None,
          status: int = 200) -> HTMLResponse:
    assert user.account.id is not None  # noqa: S101
    jobs = store.list_jobs(session, account_id=user.account.id)
    return render(request, "jobs.html", {
        "jobs": jobs, "kinds": KIND_LABELS, "statuses": STATUS_LABELS, "formats": FORMATS,
        "purposes": PURPOSES, "may_analyse": may_analyse(user.actor), "error": error,
        "free_text_allowed": may_export_free_text(user.actor)}, user=user, status=status)


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, user: CurrentUser, session: DbSession) -> HTMLResponse:
    return _list(request, user, session)


@router.post("/jobs/export", response_model=None)
def start_export(
    request: Request, user: CurrentUser, session: DbSession, today: Today,
    fmt: Annotated[str, Form(max_length=16)] = "csv",
    shape: Annotated[str, Form(max_length=8)] = "long",
    as_of: Annotated[date | None, Form()] = None,
    include_free_text: Annotated[bool, Form()] = False,
    purpose: Annotated[str, Form(max_length=500)] = "",
) -> HTMLResponse | RedirectResponse:
    try:
        job = queue_export(request, user, session, fmt=fmt, shape=shape, as_of=as_of or today,
                           include_free_text=include_free_text, purpose=purpose)
    except CohortError as error:
        return _list(request, user, session, error=plain_error(error), status=422)
    return redirect(f"/jobs/{job.id}")


@router.post("/jobs/analysis", response_model=None)
def start_analysis(
    request: Request, user: CurrentUser, session: DbSession, today: Today,
    what: Annotated[str, Form(max_length=16)] = "all",
    purpose: Annotated[str, Form(max_length=500)] = "",
) -> HTMLResponse | RedirectResponse:
    try:
        job = queue_analysis(request, user, session, what=what, as_of=today, purpose=purpose)
    except CohortError as error:
        return _list(request, user, session, error=plain_error(error), status=422)
    return redirect(f"/jobs/{job.id}")


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: str, request: Request, user: CurrentUser, session: DbSession
             ) -> HTMLResponse:
    assert user.account.id is not None  # noqa: S101
    job = store.get_job(session, account_id=user.account.id, job_id=job_id)
    return render(request, "job.html", {
        "job": job_out(session, job), "kinds": KIND_LABELS, "statuses": STATUS_LABELS,
        "refresh": job.status in ("queued", "running")}, user=user)


@router.get("/jobs/{job_id}/files/{name}")
def job_file(job_id: str, name: str, request: Request, user: CurrentUser,
             session: DbSession) -> Response:
    assert user.account.id is not None  # noqa: S101
    job = store.get_job(session, account_id=user.account.id, job_id=job_id)
    streamed = stream_file(request, session, job, name)
    if streamed is None:
        return render_error(request, status=404, title=_("No such file"),
                            detail=_("This job has no such file, or it was deleted after "
                                     "the days files are kept. Run the job again."))
    return streamed
