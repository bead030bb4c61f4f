"""The job queue on PostgreSQL: procrastinate (a maintained queue on PostgreSQL's own
``SELECT … FOR UPDATE SKIP LOCKED`` and ``LISTEN/NOTIFY``), its tables in the
``procrastinate`` schema (``cohort.jobs.queue_schema``).

One task, ``cohort.run_job(job_id)``, runs ``cohort.jobs.runner.execute`` in a thread of
the worker. Web requests defer it through a small synchronous pool of their own; workers
(inside each server process, or ``cohort worker``) run it with an asynchronous one.
Workers send heartbeats; every half ``COHORT_JOB_STALLED_SECONDS`` each worker asks
procrastinate for the jobs of workers whose heartbeat stopped (a process killed or
restarted) and retries them: the job's work was all-or-nothing, so it starts afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

import procrastinate
from sqlalchemy.engine import make_url

from cohort.jobs.queue_schema import QUEUE_SCHEMA

log = logging.getLogger("cohort.jobs")
TASK = "cohort.run_job"
QUEUE = "cohort"
_DEFER_APPS: dict[str, procrastinate.App] = {}
_DEFER_LOCK = threading.Lock()


def conninfo(url: str) -> str:
    """A libpq connection URI for a SQLAlchemy PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _options() -> dict[str, Any]:
    return {"options": f"-c search_path={QUEUE_SCHEMA}"}


def _register(app: procrastinate.App, url: str) -> None:
    @app.task(name=TASK, queue=QUEUE, pass_context=False)
    def run_job(job_id: str) -> None:
        from cohort.db import engine_for
        from cohort.jobs.runner import execute_when_free

        execute_when_free(engine_for(url), job_id)

    del run_job


def defer(url: str, job_id: str) -> None:
    """Queue ``job_id`` for a worker (from synchronous code: a request, a command)."""
    with _DEFER_LOCK:
        app = _DEFER_APPS.get(url)
        if app is None:
            connector = procrastinate.SyncPsycopgConnector(
                conninfo=conninfo(url), min_size=1, max_size=4, kwargs=_options())
            app = procrastinate.App(connector=connector)
            _register(app, url)
            app.open()
            _DEFER_APPS[url] = app
    app.configure_task(TASK).defer(job_id=job_id)


def close_defer_apps() -> None:
    with _DEFER_LOCK:
        for app in _DEFER_APPS.values():
            app.close()
        _DEFER_APPS.clear()


def _sweep(url: str) -> None:
    from cohort.db import engine_for
    from cohort.jobs.runner import sweep_now_and_then

    sweep_now_and_then(engine_for(url))


def worker_app(url: str) -> procrastinate.App:
    connector = procrastinate.PsycopgConnector(conninfo=conninfo(url), min_size=1,
                                               max_size=4, kwargs=_options())
    app = procrastinate.App(connector=connector)
    _register(app, url)
    return app


def _stalled_seconds() -> float:
    from cohort.settings import get_settings

    return get_settings().job_stalled_seconds


async def recover_stalled(app: procrastinate.App) -> int:
    """Retry the jobs of workers whose heartbeat stopped; how many."""
    stalled = await app.job_manager.get_stalled_jobs(
        queue=QUEUE, seconds_since_heartbeat=_stalled_seconds())
    count = 0
    for job in stalled:
        await app.job_manager.retry_job(job)
        count += 1
    if count:
        log.warning("jobs of stopped workers retried", extra={"jobs": count})
    return count


async def run_worker(url: str, stop: asyncio.Event, *, name: str = "cohort",
                     concurrency: int = 1) -> None:
    """Run jobs until ``stop`` is set (graceful: a job in progress finishes first)."""
    stalled = _stalled_seconds()
    app = worker_app(url)
    async with app.open_async():
        try:
            await recover_stalled(app)
        except Exception:
            log.exception("could not look for stalled jobs (is the database initialised?)")
        worker = asyncio.create_task(app.run_worker_async(
            queues=[QUEUE], name=name, concurrency=concurrency, install_signal_handlers=False,
            update_heartbeat_interval=stalled / 6, stalled_worker_timeout=stalled,
            delete_jobs="successful"))
        try:
            while not stop.is_set() and not worker.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), stalled / 2)
                if not stop.is_set():
                    try:
                        await recover_stalled(app)
                        await asyncio.to_thread(_sweep, url)
                    except Exception:
                        log.exception("could not look for stalled jobs")
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
