"""Workbook pages: download an entry template, upload a filled one, download the report.

A thin layer over ``cohort.excel``: the upload is imported in the signed-in person's name
(all rows or none); when something needs correcting the annotated copy is kept for a short
while, for that person only, in the store every server process shares (``api.downloads``),
and offered as a download. A large file is imported as a background job instead
(``api.jobs_web``): the page then follows its progress.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.access import log_download
from api.deps import CurrentUser, DbSession, SignedIn, Today
from api.downloads import keep_download, kept_download
from api.jobs_web import queue_import
from api.pages.common import page_router, redirect, render, render_error
from api.pages.gates import entry_refusal
from api.problems import describe
from cohort.errors import CohortError
from cohort.excel.annotate import annotate
from cohort.excel.importer import ImportBusy, ImportReport, import_file, is_csv
from cohort.excel.layout import CODE, Kind
from cohort.excel.report import REPORT_FIELDS, counted_report, may_report
from cohort.excel.templates import build_template
from cohort.schedule import get_schedule
from cohort.services import queries
from cohort.services.access import PURPOSES
from cohort.vocab import ExportKind, Timepoint
from forms.i18n import N_, _

router = page_router()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(data: bytes, filename: str) -> Response:
    return Response(data, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _page(request: Request, user: CurrentUser, session: DbSession, **extra: object
          ) -> HTMLResponse:
    context = {"centres": queries.list_centres(session, actor=user.actor),
               "timepoints": get_schedule().names,
               "may_report": may_report(user.actor), "purposes": PURPOSES,
               "report_needs_purpose": user.actor.centre_ids is None, **extra}
    return render(request, "workbooks.html", context, user=user)


@router.get("/workbooks", response_class=HTMLResponse)
def workbooks_page(request: Request, user: CurrentUser, session: DbSession) -> HTMLResponse:
    refused = entry_refusal(request, user, N_("Workbooks for data entry"))
    if refused is not None:
        return refused
    return _page(request, user, session)


@router.get("/workbooks/template")
def template_download(
    request: Request, user: CurrentUser, session: DbSession, today: Today,
    centre: Annotated[str, Query()],
    kind: Annotated[str, Query()] = "questionnaire",
    timepoint: Annotated[str | None, Query()] = None,
    purpose: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """An entry workbook (it lists the codes of the participants due: in the export log)."""
    try:
        chosen = Kind(kind)
        tp = (Timepoint(get_schedule().parse(timepoint))
              if chosen is Kind.QUESTIONNAIRE and timepoint else None)
    except ValueError:
        return render_error(request, status=422, title=_("Unknown workbook"),
                            detail=_("Please pick a kind of workbook and a timepoint."))
    data, rows = build_template(session, actor=user.actor, kind=chosen, centre_code=centre,
                                timepoint=tp, as_of=today)
    name = f"{centre.upper()}-{tp.value if tp else chosen.value}-{today.isoformat()}.xlsx"
    log_download(request, user, session, kind=ExportKind.TEMPLATE, fmt="xlsx", rows=rows,
                 fields=[CODE] if rows else [], centre_codes=[centre.strip().upper()],
                 purpose=purpose, target=name)
    return _download(data, name)


@router.post("/workbooks/import", response_model=None)
async def import_upload(
    request: Request, user: CurrentUser, session: DbSession, today: Today,
    file: Annotated[UploadFile, File()],
    dry_run: Annotated[bool, Form()] = False,
) -> HTMLResponse | RedirectResponse:
    limit = request.app.state.settings.max_upload_bytes
    data = await file.read(limit + 1)
    filename = file.filename or "workbook.xlsx"
    if not data or len(data) > limit:
        empty = _page(request, user, session,
                      error=_("Please choose a workbook (.xlsx) or REDCap export (.csv) of "
                              "at most {size} MB.").format(size=limit // (1024 * 1024)))
        empty.status_code = 413 if data else 422
        return empty
    if len(data) > request.app.state.settings.job_import_bytes:
        # A large file: imported as a background job, followed on its own page.
        job = await run_in_threadpool(queue_import, request, user, session, data=data,
                                      filename=filename, dry_run=dry_run, today=today)
        return redirect(f"/jobs/{job.id}")
    try:
        # In a worker thread: a 10,000-row import must not hold up every other request.
        report, copy = await run_in_threadpool(
            _import_and_annotate, session, user, data, filename, dry_run, today)
    except ImportBusy as error:
        busy = _page(request, user, session, error=error.message)
        busy.status_code = 503
        busy.headers["Retry-After"] = "60"
        return busy
    except CohortError as error:  # unreadable, over a limit, or not allowed: nothing saved
        refused = _page(request, user, session, error=error.message)
        refused.status_code = describe(error)[0]
        return refused
    token = None
    if copy is not None:
        stem = filename.rsplit(".", 1)[0]
        assert user.account.id is not None  # noqa: S101
        token = keep_download(request.app.state.store, user.account.id,
                              f"{stem}-to-correct.xlsx", copy)
    return _page(request, user, session, report=report, token=token)


def _import_and_annotate(session: Session, user: SignedIn, data: bytes, filename: str,
                         dry_run: bool, today: date) -> tuple[ImportReport, bytes | None]:
    """The import, and the marked copy of the file when something is to correct or flag."""
    report = import_file(session, actor=user.actor, data=data, filename=filename,
                         dry_run=dry_run, on=today)
    marked = report.problems + report.deviations
    if not marked or report.already_imported is not None:
        return report, None
    csv_name = filename if is_csv(filename, data) else None
    return report, annotate(data, marked, csv_name=csv_name)


@router.get("/workbooks/annotated/{token}")
def annotated_download(token: str, request: Request, user: CurrentUser) -> Response:
    kept = kept_download(request.app.state.store, token, user.account.id)
    if kept is None:
        return render_error(request, status=404, title=_("No longer available"),
                            detail=_("This annotated copy has expired; import the file "
                                     "again to get a new one."))
    return _download(kept[1], kept[0])


@router.get("/workbooks/report.xlsx")
def report_download(request: Request, user: CurrentUser, session: DbSession, today: Today,
                    purpose: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    """Research officers and data managers (``counted_report`` refuses others: 403). The
    whole cohort's report needs a purpose (rule ``export.no_purpose``: 422, nothing sent)."""
    data, rows = counted_report(session, actor=user.actor, as_of=today)
    name = f"cohort-report-{today.isoformat()}.xlsx"
    log_download(request, user, session, kind=ExportKind.REPORT, fmt="xlsx", rows=rows,
                 fields=REPORT_FIELDS, purpose=purpose, target=name)
    return _download(data, name)
