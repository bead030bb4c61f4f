"""The read log's cost: participant reads and saves on the real app and on the same app
with the read log's dependency replaced by a plain look-up, and the insert alone; the
study lock's check alone (``bench_api.py`` runs these)."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from apiload import (
    _in_process,
    mixed_run,
    officer_pages,
    run_load,
    saver,
    worker_tokens,
)
from fastapi import Request

from api.deps import CurrentUser, DbSession
from cohort.db import engine_for
from cohort.models import Participant
from cohort.services.context import get_participant
from cohort.vocab import Channel, Role


def app_without_read_log() -> Any:
    """The real app, but a participant is only looked up, not logged: the baseline the
    read log's cost is measured against (never a deployment setting)."""
    from api.access import read_participant
    from api.app import create_app

    app = create_app()
    app.dependency_overrides[read_participant] = _unlogged
    return app


def _unlogged(request: Request, code: str, user: CurrentUser, session: DbSession) -> Any:
    """``api.access.read_participant`` without its ``record_read``."""
    del request
    return get_participant(session, user.actor, code)


# --------------------------------------------------------------------------- servers
def read_log_runs(label: str, base: str, args: argparse.Namespace,
                  people: list[tuple[str, int]], work: list[Any],
                  lock: threading.Lock) -> list[dict[str, Any]]:
    """Saves, participant reads (API and page), and both at once, on one server."""
    tokens = worker_tokens(base)
    half = len(work) // 2
    mixed_work, work[:] = work[half:], work[:half]
    save_call = saver(base, tokens, work, lock)

    def read_call(i: int) -> Callable[[], bool]:
        client = httpx.Client(base_url=base, timeout=30)
        turn = iter(range(i, 10**9, args.clients))

        def call() -> bool:
            code, centre = people[next(turn) % len(people)]
            r = client.get(f"/api/v1/participants/{code}/questionnaires",
                           headers={"Authorization": f"Bearer {tokens[centre]}"})
            return r.status_code == 200
        return call

    def page_call(i: int) -> Callable[[], bool]:
        client = officer_pages(base)
        turn = iter(range(i, 10**9, args.clients))
        return lambda: client.get(
            f"/participants/{people[next(turn) % len(people)][0]}").status_code == 200

    out = [run_load(f"{label}: read (API)", args.clients, args.seconds, read_call),
           run_load(f"{label}: read (page)", args.clients, args.seconds, page_call),
           run_load(f"{label}: save", args.clients, args.seconds, save_call)]
    work[:] = mixed_work
    return out + mixed_run(args, (f"{label}: save, mixed", save_call),
                           (f"{label}: read, mixed", read_call))


def read_log_insert(url: str, repeat: int = 300) -> dict[str, Any]:
    """What the read log adds to one request, without the noise of a server: one
    ``record_read`` (end the read transaction, one INSERT, commit), in process, one client."""
    from sqlmodel import Session, select

    from cohort.services.access import record_read
    from cohort.services.context import Actor

    worker = Actor(staff_id=1, role=Role.OUTREACH_WORKER, centre_id=1,
                   centre_ids=frozenset({1}))
    times: list[float] = []
    with Session(engine_for(url), expire_on_commit=False) as session:
        people = session.exec(select(Participant).where(Participant.centre_id == 1)
                              .limit(50)).all()
        for i in range(repeat):
            started = time.perf_counter()
            record_read(session, actor=worker, participant=people[i % len(people)],
                        channel=Channel.API, what="/api/v1/participants/{code}")
            times.append((time.perf_counter() - started) * 1000)
    return _in_process("read-log insert alone (1)", times)


def lock_check(url: str, repeat: int = 300) -> dict[str, Any]:
    """What the study lock adds to every write: reading the lock state (rule study.locked)
    at the write gate, in process, one client."""
    from sqlmodel import Session

    from cohort.services.lockstate import read_lock_state

    times: list[float] = []
    with Session(engine_for(url)) as session:
        for _ in range(repeat):
            started = time.perf_counter()
            read_lock_state(session)
            times.append((time.perf_counter() - started) * 1000)
            session.rollback()
    return _in_process("lock check alone (1)", times)
