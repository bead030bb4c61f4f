"""Running a job, whoever runs it: procrastinate's worker on PostgreSQL, or a thread of the
server process on SQLite (``ThreadRunner``). The interface is the same: ``submit`` queues,
the ``job`` row says how far it got, ``execute`` does the work once.

A job survives the restart of the process running it. The work itself is all-or-nothing
(one transaction), so a job whose process died left nothing half-written and is simply
run again: on PostgreSQL procrastinate retries the jobs of workers whose heartbeat
stopped (``cohort.jobs.pgqueue``), and a running job whose own heartbeat is older than
``COHORT_JOB_STALLED_SECONDS`` may be claimed again; on SQLite (one machine) a running job
whose process no longer exists is put back in the queue when any server process starts,
and every ``RECOVER_EVERY`` seconds.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from cohort import metrics
from cohort.errors import CohortError
from cohort.jobs import store
from cohort.jobs.child import run_in_child
from cohort.jobs.work import Context, run
from cohort.logs import request_id
from cohort.models import Account
from cohort.models_ops import Job
from cohort.rls import scope_session
from cohort.services.context import load_actor
from forms.i18n import N_, _, current_language, use_language

log = logging.getLogger("cohort.jobs")
RECOVER_EVERY = 30.0
UNEXPECTED = N_("An unexpected error stopped this job; nothing was saved. Please try "
                 "again; if it happens again, give the administrator the job number {job}.")


def _start_time(pid: int) -> str | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[19] if len(fields) > 19 else None


def runner_name() -> str:
    """This process, as ``host:pid:start``: enough to tell later whether it still runs."""
    pid = os.getpid()
    return f"{socket.gethostname()[:60]}:{pid}:{_start_time(pid) or '?'}"


def is_dead(runner: str) -> bool:
    """Whether the process named ``runner`` is gone (only knowable on this machine)."""
    host, _, rest = runner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname()[:60] or not pid_text.isdigit():
        return False
    return _start_time(int(pid_text)) != start


def _stalled() -> timedelta:
    from cohort.settings import get_settings

    return timedelta(seconds=get_settings().job_stalled_seconds)


def execute(engine: Engine, job_id: str, runner: str | None = None, *,
            stale_after: timedelta | None = None) -> bool:
    """Claim the job and do it; False when another runner has it or it is finished."""
    runner = runner or runner_name()
    stale_after = stale_after or _stalled()
    if not store.claim(engine, job_id, runner, stale_after=stale_after):
        return False
    token = request_id.set(f"job-{job_id}")
    started = time.perf_counter()
    kind = "unknown"
    lang: str | None = None
    beating = threading.Event()
    heart = threading.Thread(target=_heartbeat, args=(engine, job_id, beating), daemon=True)
    try:
        with Session(engine, expire_on_commit=False) as session:
            job = session.get(Job, job_id)
            assert job is not None  # noqa: S101  (just claimed)
            kind = job.kind
            lang = job.params.get("lang")
            metrics.JOBS_STARTED.labels(kind).inc()
            log.info("job started", extra={"job": job_id, "kind": kind,
                                            "attempt": job.attempts})
            if engine.dialect.name != "sqlite":
                heart.start()
            actor = load_actor(session, job.actor_id)
            scope_session(session, actor.centre_ids)  # row-level security (PostgreSQL)
            account = session.get(Account, job.account_id)
            name = account.username if account is not None else f"staff {job.actor_id}"

            def progress(**what: Any) -> None:
                store.set_progress(engine, job_id, **what)

            def writer() -> Session:
                writing = engine.execution_options(sqlite_begin="IMMEDIATE") \
                    if engine.dialect.name == "sqlite" else engine
                scoped = Session(writing, expire_on_commit=False)
                scope_session(scoped, actor.centre_ids)
                return scoped

            with use_language(lang):
                run(Context(session, job, actor, name, progress, writer))
        metrics.JOBS.labels(kind, "done").inc()
        log.info("job done", extra={"job": job_id, "kind": kind})
    except CohortError as error:
        with use_language(lang):  # the refusal in the words of whoever asked
            store.fail(engine, job_id, error.message)
        metrics.JOBS.labels(kind, "refused").inc()
        log.info("job refused: %s", error.message, extra={"job": job_id, "kind": kind})
    except Exception:
        with use_language(lang):
            store.fail(engine, job_id, _(UNEXPECTED).format(job=job_id))
        metrics.JOBS.labels(kind, "failed").inc()
        log.exception("job failed", extra={"job": job_id, "kind": kind})
    finally:
        beating.set()
        metrics.JOB_DURATION.labels(kind).observe(time.perf_counter() - started)
        request_id.reset(token)
    return True


_SWEEP_EVERY = 3600.0
_last_sweep = 0.0


def sweep_now_and_then(engine: Engine) -> int:
    """Delete the files of jobs finished more than ``COHORT_JOB_KEEP_DAYS`` ago, at most
    once an hour per process (the runners call it as they go)."""
    global _last_sweep
    if time.monotonic() - _last_sweep < _SWEEP_EVERY:
        return 0
    _last_sweep = time.monotonic()
    from cohort.settings import get_settings

    try:
        return store.sweep_files(engine, get_settings().job_keep_days)
    except Exception:
        log.exception("could not delete the files of old jobs")
        return 0


def execute_when_free(engine: Engine, job_id: str) -> None:
    """Run the job in a child process (``cohort.jobs.child``) for a queue that may retry a
    job whose worker stopped: the job may still be running in the child that worker left
    behind (its heartbeat is fresh), so wait for that one to finish or go silent."""
    url = engine.url.render_as_string(hide_password=False)
    while True:
        status = store.status_of(engine, job_id)
        if status in (store.DONE, store.FAILED, None):
            return
        if status == store.QUEUED or store.heartbeat_age(engine, job_id) > _stalled():
            run_in_child(url, job_id)
            return
        time.sleep(_stalled().total_seconds() / 6)


def _heartbeat(engine: Engine, job_id: str, stop: threading.Event) -> None:
    while not stop.wait(_stalled().total_seconds() / 6):
        store.set_progress(engine, job_id)


class ThreadRunner:
    """Jobs in a thread of this process: the SQLite deployment's queue (and ``cohort
    worker`` on SQLite). Several processes may run one each; claims are atomic."""

    def __init__(self, engine: Engine, poll_seconds: float = 2.0) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.name = runner_name()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self.loop, name="cohort-jobs",
                                                daemon=True)
                self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the runner's thread; whether it is still running."""
        thread = self._thread
        if thread is None:
            return False
        thread.join(timeout)
        return thread.is_alive()

    def recover(self) -> list[str]:
        back = store.requeue_dead(self.engine, is_dead)
        if back:
            log.warning("jobs of stopped processes queued again", extra={"jobs": back})
        return back

    def run_pending(self) -> int:
        """Run every queued job (oldest first) now; how many this runner ran."""
        ran = 0
        for job_id in store.queued_ids(self.engine):
            if self._stop.is_set():
                break
            if store.status_of(self.engine, job_id) != store.QUEUED:
                continue
            # The child claims it (as itself: ``recover`` then knows whether it still
            # runs) and never steals a running job: on SQLite a job's heartbeat cannot
            # be written while its own transaction holds the lock.
            run_in_child(self.engine.url.render_as_string(hide_password=False), job_id)
            ran += store.status_of(self.engine, job_id) in (store.DONE, store.FAILED)
        return ran

    def loop(self) -> None:
        last_recovery = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() - last_recovery > RECOVER_EVERY:
                    self.recover()
                    sweep_now_and_then(self.engine)
                    last_recovery = time.monotonic()
                self.run_pending()
            except Exception:
                log.exception("the job runner could not read the queue; retrying")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()


_RUNNERS: dict[str, ThreadRunner] = {}
_RUNNERS_LOCK = threading.Lock()


def thread_runner(engine: Engine) -> ThreadRunner:
    """The one ``ThreadRunner`` of this process for this database."""
    key = engine.url.render_as_string(hide_password=False)
    with _RUNNERS_LOCK:
        runner = _RUNNERS.get(key)
        if runner is None:
            runner = _RUNNERS[key] = ThreadRunner(engine)
    return runner


def stop_thread_runners() -> None:
    with _RUNNERS_LOCK:
        runners = list(_RUNNERS.values())
        _RUNNERS.clear()
    for runner in runners:
        runner.stop()


def submit(session: Session, engine: Engine, *, kind: str, actor_id: int, account_id: int,
           params: dict[str, Any], inputs: dict[str, tuple[str, bytes]] | None = None,
           in_server: bool = True) -> Job:
    """Queue a job and hand it to the runner: procrastinate on PostgreSQL, this process's
    thread on SQLite (unless ``in_server`` is off: then ``cohort worker`` takes it)."""
    # The job speaks the language of whoever asked for it (its report, its annotated
    # workbook, its messages), whatever the worker's own environment says.
    params = {"lang": current_language(), **params}
    job = store.new_job(session, kind=kind, actor_id=actor_id, account_id=account_id,
                        params=params, inputs=inputs)
    dispatch(engine, job.id, in_server=in_server)
    return job


def dispatch(engine: Engine, job_id: str, *, in_server: bool = True) -> None:
    if engine.dialect.name == "postgresql":
        from cohort.jobs.pgqueue import defer

        defer(engine.url.render_as_string(hide_password=False), job_id)
        return
    if in_server:
        runner = thread_runner(engine)
        runner.start()
        runner.wake()
