"""The server process's part in background jobs (``cohort.jobs``), started and stopped with
the app: on PostgreSQL a procrastinate worker on the server's event loop, on SQLite the
process's job thread, which first puts back in the queue the jobs of processes that
stopped. ``COHORT_JOBS_IN_SERVER=false`` leaves the jobs to ``cohort worker``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

import analysis.jobs  # noqa: F401  (registers the export and analysis jobs)
from cohort.jobs.runner import thread_runner

log = logging.getLogger("cohort.jobs")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    engine = app.state.engine
    stop = asyncio.Event()
    worker: asyncio.Task[None] | None = None
    runner = None
    if settings.jobs_in_server:
        if engine.dialect.name == "postgresql":
            from cohort.jobs.pgworker import run_worker

            url = engine.url.render_as_string(hide_password=False)
            worker = asyncio.create_task(run_worker(url, stop))
        else:
            runner = thread_runner(engine)
            try:
                await asyncio.to_thread(runner.recover)
            except SQLAlchemyError as error:  # no schema yet: `cohort init` comes first
                log.warning("background jobs cannot start: %s",
                            str(getattr(error, "orig", error)).splitlines()[0])
                runner = None
            else:
                runner.start()
    try:
        yield
    finally:
        stop.set()
        if worker is not None:
            try:
                await asyncio.wait_for(worker, timeout=60)
            except (asyncio.CancelledError, TimeoutError):
                pass
            except Exception:  # it logged why; the server stops all the same
                log.exception("the background job worker stopped with an error")
        if runner is not None:
            await asyncio.to_thread(runner.stop)
