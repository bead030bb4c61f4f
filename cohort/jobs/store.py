"""Job rows and their files: what the pages and the API poll, whatever runs the job.

A job belongs to the account that asked for it: others read it as unknown (the same
``NotFound`` as an id that does not exist). Progress is written in short transactions of
its own, so that it is seen while the job's own work is still uncommitted.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from cohort.errors import NotFound
from cohort.messages import msg
from cohort.models import utcnow
from cohort.models_ops import Job, JobFile
from forms.i18n import N_, _

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
INPUT, OUTPUT = "input", "output"
PART_BYTES = 4 * 1024 * 1024
_JOB = Job.__table__  # type: ignore[attr-defined]
_FILE = JobFile.__table__  # type: ignore[attr-defined]
#: A queued job's note, in the submitter's language (stored as written).
WAITING = N_("Waiting to start")


def new_job(session: Session, *, kind: str, actor_id: int, account_id: int,
            params: dict[str, Any], inputs: dict[str, tuple[str, bytes]] | None = None
            ) -> Job:
    """Insert a queued job (and its input files) and commit."""
    job = Job(id=uuid.uuid4().hex, kind=kind, status=QUEUED, actor_id=actor_id,
              account_id=account_id, params=params, progress_note=_(WAITING))
    session.add(job)
    session.flush()
    for name, (media_type, data) in (inputs or {}).items():
        add_file(session, job.id, INPUT, name, media_type, data)
    session.commit()
    return job


def add_file(session: Session, job_id: str, role: str, name: str, media_type: str,
             data: bytes | Path) -> int:
    """Store a file in parts (from bytes, or read part by part from a path); its size."""
    size = 0
    for part, chunk in enumerate(_chunks(data)):
        session.connection().execute(_FILE.insert().values(
            job_id=job_id, role=role, name=name[:255], media_type=media_type, part=part,
            data=chunk))
        size += len(chunk)
    return size


def _chunks(data: bytes | Path) -> Iterator[bytes]:
    if isinstance(data, bytes):
        for start in range(0, max(len(data), 1), PART_BYTES):
            yield data[start:start + PART_BYTES]
        return
    with data.open("rb") as handle:
        first = True
        while (chunk := handle.read(PART_BYTES)) or first:
            first = False
            yield chunk


@dataclass(frozen=True)
class StoredFile:
    name: str
    media_type: str
    size: int


def files_of(session: Session, job_id: str, role: str = OUTPUT) -> list[StoredFile]:
    rows = session.exec(
        select(JobFile.name, JobFile.media_type, func.sum(func.length(JobFile.data)))
        .where(JobFile.job_id == job_id, JobFile.role == role)
        .group_by(col(JobFile.name), col(JobFile.media_type)).order_by(col(JobFile.name))
    ).all()
    return [StoredFile(name, media_type, int(size or 0)) for name, media_type, size in rows]


def read_parts(engine: Engine, job_id: str, role: str, name: str) -> Iterator[bytes]:
    """A stored file part by part, each read in its own short query (bounded memory)."""
    part = 0
    while True:
        with engine.connect() as connection:
            chunk = connection.execute(
                select(_FILE.c.data).where(_FILE.c.job_id == job_id, _FILE.c.role == role,
                                           _FILE.c.name == name, _FILE.c.part == part)
            ).scalar()
        if chunk is None:
            return
        yield bytes(chunk)
        part += 1


def read_input(session: Session, job_id: str, name: str) -> bytes:
    rows = session.exec(select(JobFile.data).where(
        JobFile.job_id == job_id, JobFile.role == INPUT, JobFile.name == name
    ).order_by(col(JobFile.part))).all()
    return b"".join(bytes(r) for r in rows)


def get_job(session: Session, *, account_id: int, job_id: str) -> Job:
    """The account's own job; anyone else's reads as unknown."""
    job = session.get(Job, job_id[:32]) if job_id.isalnum() else None
    if job is None or job.account_id != account_id:
        raise NotFound(msg("job.not_found", job_id=job_id))
    return job


def list_jobs(session: Session, *, account_id: int, limit: int = 50) -> list[Job]:
    return list(session.exec(select(Job).where(Job.account_id == account_id)
                             .order_by(col(Job.created_at).desc()).limit(limit)).all())


def set_progress(engine: Engine, job_id: str, *, done: int | None = None,
                 total: int | None = None, note: str | None = None) -> bool:
    """Record progress in a transaction of its own (also a heartbeat). On SQLite, while
    the job's own transaction holds the write lock this gives up at once (the page keeps
    showing the last step): progress never waits for, or delays, the work itself."""
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if done is not None:
        values["progress_done"] = done
    if total is not None:
        values["progress_total"] = total
    if note is not None:
        values["progress_note"] = note[:200]
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                connection.exec_driver_sql("PRAGMA busy_timeout=0")
                connection.commit()
            try:
                connection.execute(update(_JOB).where(_JOB.c.id == job_id).values(**values))
                connection.commit()
            finally:
                connection.rollback()
                if sqlite:
                    connection.exec_driver_sql("PRAGMA busy_timeout=10000")
                    connection.commit()
    except OperationalError:
        return False
    return True


def claim(engine: Engine, job_id: str, runner: str, *, stale_after: timedelta) -> bool:
    """Mark the job running for ``runner`` if it is queued, or running but abandoned (no
    heartbeat for ``stale_after``: its process died). False: someone else has it, or it
    is finished."""
    now = utcnow()
    with engine.begin() as connection:
        done = connection.execute(
            update(_JOB).where(_JOB.c.id == job_id).where(
                (_JOB.c.status == QUEUED)
                | ((_JOB.c.status == RUNNING) & (_JOB.c.heartbeat_at < now - stale_after)))
            .values(status=RUNNING, runner=runner[:100], attempts=_JOB.c.attempts + 1,
                    started_at=now, heartbeat_at=now, error=None))
    return bool(done.rowcount)


def finish(session: Session, job: Job, *, result: dict[str, Any]) -> None:
    """Mark done, in the caller's transaction (with the work's last writes)."""
    session.connection().execute(update(_JOB).where(_JOB.c.id == job.id).values(
        status=DONE, result=result, finished_at=utcnow(), heartbeat_at=utcnow(),
        progress_done=job.progress_total or 1, progress_total=job.progress_total or 1,
        progress_note="Finished"))


def fail(engine: Engine, job_id: str, message: str) -> None:
    with engine.begin() as connection:
        connection.execute(update(_JOB).where(_JOB.c.id == job_id).values(
            status=FAILED, error=message[:2000], finished_at=utcnow(),
            progress_note=_("Stopped: nothing was saved")))


def requeue_dead(engine: Engine, is_dead: Any) -> list[str]:
    """Put back in the queue the running jobs whose runner ``is_dead(runner)``."""
    with engine.connect() as connection:
        rows = connection.execute(select(_JOB.c.id, _JOB.c.runner)
                                  .where(_JOB.c.status == RUNNING)).all()
    dead = [job_id for job_id, runner in rows if runner and is_dead(runner)]
    if dead:
        with engine.begin() as connection:
            connection.execute(update(_JOB).where(col(_JOB.c.id).in_(dead),
                                                  _JOB.c.status == RUNNING)
                               .values(status=QUEUED, progress_note=_("Waiting to restart")))
    return dead


def language_of(engine: Engine, job_id: str) -> str | None:
    """The language of whoever submitted the job (``params["lang"]``), if recorded."""
    with engine.connect() as connection:
        params = connection.execute(select(_JOB.c.params).where(_JOB.c.id == job_id)).scalar()
    lang = params.get("lang") if isinstance(params, dict) else None
    return str(lang) if lang else None


def status_of(engine: Engine, job_id: str) -> str | None:
    with engine.connect() as connection:
        found = connection.execute(select(_JOB.c.status).where(_JOB.c.id == job_id)).scalar()
    return str(found) if found is not None else None


def heartbeat_age(engine: Engine, job_id: str) -> timedelta:
    """How long since the job last showed life (a very long time if never)."""
    with engine.connect() as connection:
        beat = connection.execute(select(_JOB.c.heartbeat_at).where(_JOB.c.id == job_id)
                                  ).scalar()
    return utcnow() - beat if beat is not None else timedelta(days=3650)


def queued_ids(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(_JOB.c.id).where(_JOB.c.status == QUEUED)
                                       .order_by(_JOB.c.created_at)).scalars())


def sweep_files(engine: Engine, keep_days: int) -> int:
    """Delete the files of jobs finished more than ``keep_days`` ago (the job rows stay,
    with their summary); the number of parts deleted."""
    before: datetime = utcnow() - timedelta(days=keep_days)
    old = select(_JOB.c.id).where(_JOB.c.finished_at < before)
    with engine.begin() as connection:
        return int(connection.execute(delete(_FILE).where(_FILE.c.job_id.in_(old))).rowcount)
