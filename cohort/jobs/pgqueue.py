"""The job queue on PostgreSQL: procrastinate (a maintained queue on PostgreSQL's own
``SELECT … FOR UPDATE SKIP LOCKED`` and ``LISTEN/NOTIFY``), its tables in the
``procrastinate`` schema (``cohort.queue_schema``).

One task, ``cohort.run_job(job_id)``, runs ``cohort.jobs.runner.execute`` in a thread of
the worker. Web requests defer it through a small synchronous pool of their own (here);
workers (inside each server process, or ``cohort worker``: :mod:`cohort.jobs.pgworker`)
run it with an asynchronous one. Workers send heartbeats; every half
``COHORT_JOB_STALLED_SECONDS`` each worker asks procrastinate for the jobs of workers
whose heartbeat stopped (a process killed or restarted) and retries them: the job's work
was all-or-nothing, so it starts afresh.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import procrastinate
from sqlalchemy.engine import make_url

from cohort.queue_schema import QUEUE_SCHEMA

log = logging.getLogger("cohort.jobs")
TASK = "cohort.run_job"
QUEUE = "cohort"
_DEFER_APPS: dict[str, procrastinate.App] = {}
_DEFER_LOCK = threading.Lock()


def conninfo(url: str) -> str:
    """A libpq connection URI for a SQLAlchemy PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def options() -> dict[str, Any]:
    return {"options": f"-c search_path={QUEUE_SCHEMA}"}


def register_task(app: procrastinate.App, execute: Callable[[str], None]) -> None:
    """Declare the one task; ``execute(job_id)`` is what a worker runs for it (the runner
    sits above this module and hands it down: :mod:`cohort.jobs.pgworker`)."""
    @app.task(name=TASK, queue=QUEUE, pass_context=False)
    def run_job(job_id: str) -> None:
        execute(job_id)

    del run_job


def _deferred_only(job_id: str) -> None:
    raise RuntimeError(f"job {job_id}: the deferring pool does not run jobs")  # pragma: no cover


def defer(url: str, job_id: str) -> None:
    """Queue ``job_id`` for a worker (from synchronous code: a request, a command)."""
    with _DEFER_LOCK:
        app = _DEFER_APPS.get(url)
        if app is None:
            connector = procrastinate.SyncPsycopgConnector(
                conninfo=conninfo(url), min_size=1, max_size=4, kwargs=options())
            app = procrastinate.App(connector=connector)
            register_task(app, _deferred_only)
            app.open()
            _DEFER_APPS[url] = app
    app.configure_task(TASK).defer(job_id=job_id)


def close_defer_apps() -> None:
    with _DEFER_LOCK:
        for app in _DEFER_APPS.values():
            app.close()
        _DEFER_APPS.clear()
