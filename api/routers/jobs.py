"""Background jobs: queue an export (``POST /exports``), the analysis report
(``/analyses``) or an import (``/imports``), poll the job (``/jobs/{id}``), download what
it made. Every job belongs to the person who queued it (others read 404)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.deps import CurrentUser, DbSession, Today
from api.inputs import api_router
from api.jobs_web import JobOut, job_out, queue_analysis, queue_export, queue_import, stream_file
from cohort.errors import CohortError, NotFound
from cohort.jobs import store
from forms.i18n import _

router = api_router(prefix="/jobs", tags=["jobs"])
#: Where jobs are queued: each answers 202 with the job and its ``Location`` to poll.
exports = api_router(tags=["jobs"])


class ExportIn(BaseModel):
    fmt: Literal["csv", "xlsx", "dta", "sav", "parquet"] = Field(
        description="File format of the data file.")
    shape: Literal["long", "wide"] = "long"
    as_of: date | None = Field(default=None, description="Records up to this date; "
                                                         "default today.")
    include_free_text: bool = Field(default=False, description="Data managers only.")
    purpose: str | None = Field(default=None, max_length=500,
                                description="What the export is for (required: it covers "
                                            "every centre).")


class AnalysisIn(BaseModel):
    what: Literal["retention", "outcomes", "all"] = "all"
    as_of: date | None = None
    purpose: str | None = Field(default=None, max_length=500)


def _accepted(request: Request, out: JobOut) -> JSONResponse:
    return JSONResponse(out.model_dump(mode="json"), status_code=202,
                        headers={"Location": f"/api/v1/jobs/{out.id}"})


@router.get("", response_model=list[JobOut])
def my_jobs(user: CurrentUser, session: DbSession,
            limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[JobOut]:
    """Your jobs, newest first."""
    assert user.account.id is not None  # noqa: S101
    return [job_out(session, job) for job in
            store.list_jobs(session, account_id=user.account.id, limit=limit)]


@router.get("/{job_id}", response_model=JobOut)
def one_job(job_id: str, user: CurrentUser, session: DbSession) -> JobOut:
    """Status and progress; once done, the result and the files to download."""
    assert user.account.id is not None  # noqa: S101
    return job_out(session, store.get_job(session, account_id=user.account.id, job_id=job_id))


@router.get("/{job_id}/files/{name}", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}})
def job_file(job_id: str, name: str, request: Request, user: CurrentUser,
             session: DbSession) -> Response:
    """A file the job made (export, codebook, report, marked copy), streamed."""
    assert user.account.id is not None  # noqa: S101
    job = store.get_job(session, account_id=user.account.id, job_id=job_id)
    streamed = stream_file(request, session, job, name)
    if streamed is None:
        raise NotFound(_("Job {job} has no file {name}.").format(job=job_id, name=name))
    return streamed


@exports.post("/exports", status_code=202, response_model=JobOut)
def new_export(body: ExportIn, request: Request, user: CurrentUser, session: DbSession,
               today: Today) -> JSONResponse:
    """Analysis-ready data of every centre, with its codebook and labels (national data
    managers, statisticians and research officers; kept in the export log)."""
    job = queue_export(request, user, session, fmt=body.fmt, shape=body.shape,
                       as_of=body.as_of or today, include_free_text=body.include_free_text,
                       purpose=body.purpose or request.headers.get("X-Purpose"))
    return _accepted(request, job_out(session, job))


@exports.post("/analyses", status_code=202, response_model=JobOut)
def new_analysis(body: AnalysisIn, request: Request, user: CurrentUser, session: DbSession,
                 today: Today) -> JSONResponse:
    """The analysis report (HTML, figures, estimates as CSV/JSON), as a zip file."""
    job = queue_analysis(request, user, session, what=body.what, as_of=body.as_of or today,
                         purpose=body.purpose)
    return _accepted(request, job_out(session, job))


@exports.post("/imports", status_code=202, response_model=JobOut, openapi_extra={
    "requestBody": {"content": {"multipart/form-data": {"schema": {
        "additionalProperties": False}}}}})
async def new_import(request: Request, user: CurrentUser, session: DbSession, today: Today,
                     file: Annotated[UploadFile, File()],
                     dry_run: Annotated[bool, Form()] = False) -> JSONResponse:
    """A workbook or REDCap CSV, imported all or nothing as the same import as
    ``/workbooks`` (a marked copy among the files when something is to correct)."""
    limit = request.app.state.settings.max_upload_bytes
    try:
        data = await file.read(limit + 1)
    finally:
        await file.close()
    if not data:
        raise CohortError(_("Please send a workbook (.xlsx) or REDCap export (.csv)."))
    job = queue_import(request, user, session, data=data, filename=file.filename or
                       "workbook.xlsx", dry_run=dry_run, today=today)
    return _accepted(request, job_out(session, job))
