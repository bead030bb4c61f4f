"""What the job pages and the job API share: queueing a job for the signed-in person,
describing it, streaming its files (``cohort.jobs``). A thin layer: the work, its rules and
its logging live in ``cohort.jobs`` and ``analysis.jobs``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlmodel import Session

import analysis.jobs as analysis_jobs
from api.deps import SignedIn
from cohort.jobs import store
from cohort.jobs.runner import submit
from cohort.models_ops import Job


class JobFileOut(BaseModel):
    name: str
    size: int
    media_type: str


class JobOut(BaseModel):
    """A background job as it stands: poll it until ``status`` is done or failed."""

    id: str
    kind: str
    status: str
    progress_done: int
    progress_total: int
    progress_note: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    result: dict[str, Any] | None
    error: str | None
    files: list[JobFileOut]


def job_out(session: Session, job: Job) -> JobOut:
    files = [JobFileOut(name=f.name, size=f.size, media_type=f.media_type)
             for f in store.files_of(session, job.id)]
    return JobOut(id=job.id, kind=job.kind, status=job.status,
                  progress_done=job.progress_done, progress_total=job.progress_total,
                  progress_note=job.progress_note, created_at=job.created_at,
                  started_at=job.started_at, finished_at=job.finished_at,
                  attempts=job.attempts, result=job.result, error=job.error, files=files)


def _queue(request: Request, user: SignedIn, session: Session, kind: str,
           params: dict[str, Any], inputs: dict[str, tuple[str, bytes]] | None = None) -> Job:
    assert user.account.id is not None and user.staff.id is not None  # noqa: S101
    return submit(session, request.app.state.engine, kind=kind, actor_id=user.staff.id,
                  account_id=user.account.id, params=params, inputs=inputs,
                  in_server=request.app.state.settings.jobs_in_server)


def queue_import(request: Request, user: SignedIn, session: Session, *, data: bytes,
                 filename: str, dry_run: bool, today: date) -> Job:
    """An import in the background: the same all-or-nothing import as in a request."""
    name = filename.replace("/", "_").replace("\\", "_")[:200] or "workbook.xlsx"
    return _queue(request, user, session, "import",
                  {"filename": name, "dry_run": dry_run, "on": today.isoformat()},
                  {name: ("application/octet-stream", data)})


def queue_export(request: Request, user: SignedIn, session: Session, *, fmt: str,
                 shape: str, as_of: date, include_free_text: bool, purpose: str | None
                 ) -> Job:
    """An analysis-ready export; who may and the purpose are checked before it is queued."""
    params = {"fmt": fmt.lower(), "shape": shape, "as_of": as_of.isoformat(),
              "include_free_text": include_free_text, "purpose": (purpose or "").strip()}
    analysis_jobs.check_export_params(user.actor, params)
    return _queue(request, user, session, "export", params)


def queue_analysis(request: Request, user: SignedIn, session: Session, *, what: str,
                   as_of: date, purpose: str | None) -> Job:
    params = {"what": what, "as_of": as_of.isoformat(), "purpose": (purpose or "").strip()}
    analysis_jobs.check_analysis_params(user.actor, params)
    return _queue(request, user, session, "analysis", params)


def stream_file(request: Request, session: Session, job: Job, name: str
                ) -> StreamingResponse | None:
    """One of the job's files, streamed part by part; None if it has no such file."""
    found = {f.name: f for f in store.files_of(session, job.id)}.get(name)
    if found is None:
        return None
    parts: Iterator[bytes] = store.read_parts(request.app.state.engine, job.id,
                                              store.OUTPUT, name)
    return StreamingResponse(parts, media_type=found.media_type, headers={
        "Content-Disposition": f'attachment; filename="{found.name}"',
        "Content-Length": str(found.size)})
