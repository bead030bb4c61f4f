"""Latency of the web service under concurrent clients, on SQLite and PostgreSQL.

For each backend: bulk-load a 10,000-participant cohort with SQLAlchemy Core (the services
would take minutes), start the real app with uvicorn in a subprocess on loopback, and let
several client threads hammer one endpoint each for a bounded time:

* save: ``POST /api/v1/participants/{code}/questionnaires/{M6|M12}`` (a new questionnaire
  for a participant in window: dictionary validation, rules, audit, commit);
* retention page: ``GET /retention`` (HTML, signed-in research officer, 20 centres);
* retention API: ``GET /api/v1/retention`` (the same numbers as JSON);
* floor: a bare FastAPI endpoint inserting one row in the same database, served the same
  way, measured in the same run: what any write costs on this machine and backend;
* retention, uncached: the summary computed from scratch (one client, in process); the
  pages above reuse it until the next write, so this is the cost after every write;
* read log: one participant's records read through the API
  (``GET /api/v1/participants/{code}/questionnaires``) and on the page
  (``GET /participants/{code}``), alone and while others save, each of which writes one
  read-log entry; measured on the real app and on the same app with the read log's
  dependency replaced by a plain look-up (``readlog.app_without_read_log``), with saves too;
  and the insert alone (``record_read``, in process, one client), which is what the read
  log adds to each request once the noise of a shared machine is taken away.

Prints p50/p95 per endpoint and backend and the ratio to the floor. Targets: p95 < 50 ms
for a save, < 200 ms for the retention page. Runs in about five minutes (both backends).

    .venv/bin/python bench/bench_api.py [--clients 6] [--seconds 6] [--participants 10000]
        [--backend sqlite|postgresql|both] [--only all|read-log] [--workers 1]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from apiload import (
    AS_OF,
    PASSWORD,
    backends,
    bulk_load,
    mixed_run,
    officer_pages,
    run_load,
    saver,
    server,
    worker_tokens,
)
from readlog import lock_check, read_log_insert, read_log_runs

from cohort.db import engine_for
from cohort.vocab import Role


def bench_backend(label: str, url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    t0 = time.monotonic()
    loaded = bulk_load(url, args.participants)
    pending = loaded["pending"]
    work = [(tp, *item) for tp in ("M6", "M12") for item in pending[tp]]
    print(f"[{label}] loaded {args.participants} participants, {loaded['questionnaires']} "
          f"questionnaires, {loaded['deviations']} deviations in {time.monotonic() - t0:.1f} s; "
          f"{len(work)} visits in window to save", flush=True)
    results = []
    lock = threading.Lock()

    with server("apiload:floor_app", url, args.workers) as base:
        def floor_call(i: int) -> Callable[[], bool]:
            client = httpx.Client(base_url=base, timeout=30)
            return lambda: client.post("/floor", json={"client": i}).status_code == 200

        run_load("warm-up", args.clients, 1.0, floor_call)
        results.append(run_load("floor (bare insert)", args.clients, args.seconds, floor_call))

    shares = _split(list(work), 4)
    work[:] = shares[0] + shares[1]
    people = loaded["people"]
    if args.only == "all":
        results.extend(retention_runs(url, args, work, lock))
    for label, target, share in (("read log on", "api.app:create_app", shares[2]),
                                 ("read log off", "readlog:app_without_read_log",
                                  shares[3])):
        work[:] = share
        with server(target, url, args.workers) as base:
            results.extend(read_log_runs(label, base, args, people, work, lock))
    results.append(read_log_insert(url))
    results.append(lock_check(url))
    return results


def retention_runs(url: str, args: argparse.Namespace, work: list[Any],
                   lock: threading.Lock) -> list[dict[str, Any]]:
    """Saves, the retention page and API, both at once, and the uncached summary."""
    results = []
    with server("api.app:create_app", url, args.workers) as base:
        tokens = worker_tokens(base)
        save_call = saver(base, tokens, work, lock)

        def page_call(i: int) -> Callable[[], bool]:
            client = officer_pages(base)
            return lambda: client.get("/retention").status_code == 200

        def api_call(i: int) -> Callable[[], bool]:
            client = httpx.Client(base_url=base, timeout=30)
            token = httpx.post(base + "/api/v1/auth/token",
                               data={"username": "officer", "password": PASSWORD}).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            return lambda: client.get("/api/v1/retention", headers=headers).status_code == 200

        # Half the visits in window are kept for the mixed run, so that it has work too.
        reserved = work[: len(work) // 2]
        del work[: len(work) // 2]
        run_load("warm-up", args.clients, 1.0, api_call)
        results.append(run_load("save questionnaire", args.clients, args.seconds, save_call))
        results.append(run_load("retention page (HTML)", args.clients, args.seconds, page_call))
        results.append(run_load("retention API (JSON)", args.clients, args.seconds, api_call))
        work.extend(reserved)
        results.extend(mixed_run(args, ("mixed: save questionnaire", save_call),
                                 ("mixed: retention page while saving", page_call)))
    results.append(uncached_retention(url))
    return results


def _split(items: list[Any], parts: int) -> list[list[Any]]:
    return [items[i::parts] for i in range(parts)]


def uncached_retention(url: str, repeat: int = 20) -> dict[str, Any]:
    """The retention pages above are served from the summary remembered since the last
    write; this is what computing it costs (one client, in process, national view)."""
    from sqlmodel import Session

    from cohort.services.context import Actor
    from cohort.services.monitoring import centre_status

    national = Actor(staff_id=0, role=Role.RESEARCH_OFFICER, centre_id=None, centre_ids=None)
    times: list[float] = []
    with Session(engine_for(url)) as session:
        for _ in range(repeat):
            started = time.perf_counter()
            centre_status(session, actor=national, as_of=AS_OF)
            times.append((time.perf_counter() - started) * 1000)
            session.rollback()
    times.sort()
    return {"name": "retention, uncached (1)", "n": repeat, "errors": 0,
            "rps": 1000 * repeat / sum(times), "p50": statistics.median(times),
            "p95": times[min(repeat - 1, int(0.95 * repeat))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes (uvicorn --workers), the floor's too")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--only", choices=["all", "read-log"], default="all",
                        help="read-log: only the floor and the read log's runs")
    args = parser.parse_args()
    which = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    started = time.monotonic()
    table: list[tuple[str, dict[str, Any]]] = []
    with backends(which) as urls:
        for label, url in urls:
            for row in bench_backend(label, url, args):
                table.append((label, row))
    print(f"\n{args.clients} concurrent clients, {args.seconds:.0f} s per endpoint, "
          f"{args.participants} participants, loopback, {args.workers} uvicorn worker(s)")
    print(f"{'backend':11} {'endpoint':30} {'requests':>8} {'req/s':>7} {'p50 ms':>8} "
          f"{'p95 ms':>8} {'p95/floor':>9}  target")
    floors = {label: row.get("p95") for label, row in table if row["name"].startswith("floor")}
    targets = {"save questionnaire": 50.0, "retention page (HTML)": 200.0,
               "retention, uncached (1)": 200.0}
    for label, row in table:
        floor = floors.get(label)
        ratio = f"{row['p95'] / floor:9.1f}" if floor and "p95" in row else f"{'-':>9}"
        target = targets.get(row["name"])
        verdict = ""
        if target is not None and "p95" in row:
            verdict = f"p95 < {target:.0f} ms: {'yes' if row['p95'] < target else 'NO'}"
        p50 = f"{row['p50']:8.1f}" if "p50" in row else f"{'-':>8}"
        p95 = f"{row['p95']:8.1f}" if "p95" in row else f"{'-':>8}"
        print(f"{label:11} {row['name']:30} {row['n']:8d} {row['rps']:7.1f} {p50} {p95} "
              f"{ratio}  {verdict}")
        if row["errors"]:
            print(f"{'':11} {row['errors']} error(s), first: {row.get('first_error')}")
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
