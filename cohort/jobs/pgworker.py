"""Workers of the PostgreSQL job queue: they run the jobs :mod:`cohort.jobs.pgqueue` defers.

A worker runs inside each server process or as ``cohort worker``; every half
``COHORT_JOB_STALLED_SECONDS`` it retries the jobs of workers whose heartbeat stopped.
Apart from the deferring side so that the runner (which defers) and the worker (which
runs the runner's ``execute``) do not import each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import procrastinate

from cohort.db import engine_for
from cohort.jobs.pgqueue import QUEUE, conninfo, options, register_task
from cohort.jobs.runner import execute_when_free, sweep_now_and_then
from cohort.settings import get_settings

log = logging.getLogger("cohort.jobs")


def _sweep(url: str) -> None:
    sweep_now_and_then(engine_for(url))


def worker_app(url: str) -> procrastinate.App:
    connector = procrastinate.PsycopgConnector(conninfo=conninfo(url), min_size=1,
                                               max_size=4, kwargs=options())
    app = procrastinate.App(connector=connector)
    engine = engine_for(url)
    register_task(app, lambda job_id: execute_when_free(engine, job_id))
    return app


def _stalled_seconds() -> float:
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
