"""National scale on PostgreSQL (opt-in, not in ``make bench``): 200 centres, 500,000
participants, ``cohort serve --workers 4``.

Loads the cohort with PostgreSQL's COPY (the services would take hours), starts the real
server with four processes on loopback, and measures in the same run, each beside its
floor:

* the retention page (``GET /retention``, national research officer) p95 with 8 clients,
  against the bare-insert floor (a FastAPI endpoint inserting one row, also four
  processes);
* a save (``POST …/questionnaires/{M6|M12}``) p95 with 8 clients, against the same floor;
* a full export (the background job: long CSV of every participant and visit, queued and
  polled through the API) against its floor, PostgreSQL writing the same rows as CSV
  with ``COPY (…) TO STDOUT`` (what reading the data costs at all).

    .venv/bin/python bench/bench_national.py [--participants 500000] [--centres 200]
        [--clients 8] [--seconds 10] [--no-export]

Takes about 15-30 minutes on 2 cores (most of it loading and the export). Prints the load
average: on a shared machine the figures are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from apiload import PASSWORD, PROTOCOL, answers, backends, free_port, officer_pages, run_load

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cohort.codes import make_code  # noqa: E402
from cohort.db import engine_for  # noqa: E402
from cohort.migrate import upgrade  # noqa: E402
from cohort.services.accounts import hash_password  # noqa: E402

AS_OF = date.today()


def _copy(conn: Any, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]) -> int:
    n = 0
    with conn.cursor() as cursor, cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def load(url: str, participants: int, centres: int, seed: int = 11) -> dict[str, Any]:
    """Centres, staff, accounts and participants with M0/M6/M12 questionnaires by COPY."""
    import psycopg

    rng = random.Random(seed)
    upgrade(url)
    now = datetime.now(UTC)
    pw = hash_password(PASSWORD)
    pending: list[tuple[str, str, int, str]] = []
    conninfo = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    with psycopg.connect(conninfo) as conn:
        _copy(conn, "centre", ["id", "code", "name", "city", "active"],
              ((i, f"C{i:03d}", f"Centre {i:03d}", "City", True)
               for i in range(1, centres + 1)))
        staff = [(i, f"Worker {i}", "outreach_worker", i, date(2024, 1, 1), True, now)
                 for i in range(1, centres + 1)]
        staff += [(centres + 1, "Officer", "research_officer", None, None, True, now),
                  (centres + 2, "Statistician", "statistician", None, None, True, now)]
        _copy(conn, "staff", ["id", "display_name", "role", "centre_id", "aerli_trained_on",
                              "active", "created_at"], iter(staff))
        names = {centres + 1: "officer", centres + 2: "stat"}
        _copy(conn, "account", ["id", "username", "password_hash", "staff_id", "active",
                                "created_at", "session_epoch"],
              ((s[0], names.get(s[0], f"w{s[0]}"), pw, s[0], True, now, 0) for s in staff))
        seq = dict.fromkeys(range(1, centres + 1), 0)
        people: list[tuple[Any, ...]] = []
        visits: list[tuple[Any, ...]] = []
        for pid in range(1, participants + 1):
            centre = rng.randint(1, centres)
            seq[centre] += 1
            inclusion = AS_OF - timedelta(days=rng.randint(0, 760))
            code = make_code(f"C{centre:03d}", seq[centre])
            people.append((pid, code, centre, seq[centre], 1990, "man", inclusion, inclusion,
                           34, True, False, "in_person",
                           "intervention" if rng.random() < 0.53 else "comparison",
                           "active", centre, now, 1))
            for tp, day in (("M0", 0), ("M6", 182), ("M12", 365)):
                visit = inclusion + timedelta(days=day)
                in_window_now = tp != "M0" and abs((AS_OF - visit).days) <= 40
                if visit > AS_OF or in_window_now:
                    if in_window_now and visit <= AS_OF and len(pending) < 20_000:
                        pending.append((tp, code, centre, visit.isoformat()))
                    break
                if tp != "M0" and rng.random() > 0.8:
                    continue
                visits.append((pid, tp, visit, centre,
                               json.dumps(answers(visit, tp == "M0")), 1.0, True, 1, now, now))
        _copy(conn, "participant", ["id", "code", "centre_id", "seq", "year_of_birth",
                                    "gender", "inclusion_date", "consent_date",
                                    "age_at_inclusion", "injected_past_month",
                                    "wish_neck_groin", "reached_via", '"group"', "status",
                                    "enrolled_by", "created_at", "version"], iter(people))
        _copy(conn, "questionnaire", ["participant_id", "timepoint", "visit_date", "staff_id",
                                      "answers", "completeness", "in_window", "version",
                                      "created_at", "updated_at"], iter(visits))
        for table in ("centre", "staff", "account", "participant", "questionnaire"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                         f"(SELECT max(id) FROM {table}))")
        conn.execute("CREATE TABLE bench_floor (id SERIAL PRIMARY KEY, payload TEXT, "
                     "at TIMESTAMPTZ)")
        conn.commit()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
    rng.shuffle(pending)
    return {"pending": pending, "questionnaires": len(visits)}


@contextmanager
def served(target: list[str], url: str, workers: int) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "COHORT_DATABASE_URL": url, "COHORT_LOG_LEVEL": "warning",
           "COHORT_SECRET_KEY": "bench-national-key-" * 3,
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")])}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen([*target, "--port", str(port), "--workers", str(workers)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(base + "/docs", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        time.sleep(1.0 * workers)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=60)


def token(base: str, username: str) -> dict[str, str]:
    got = httpx.post(base + "/api/v1/auth/token",
                     data={"username": username, "password": PASSWORD}, timeout=30)
    got.raise_for_status()
    return {"Authorization": f"Bearer {got.json()['access_token']}"}


def export_floor(url: str) -> float:
    """PostgreSQL writing every participant's visits as CSV (COPY … TO STDOUT)."""
    import psycopg

    conninfo = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    started = time.perf_counter()
    sink = 0
    with psycopg.connect(conninfo) as conn, conn.cursor() as cursor, cursor.copy(
            "COPY (SELECT p.*, q.timepoint, q.visit_date, q.answers FROM participant p "
            "JOIN questionnaire q ON q.participant_id = p.id) TO STDOUT WITH CSV HEADER"
    ) as copy:
        for block in copy:
            sink += len(block)
    return time.perf_counter() - started


def export_job(base: str) -> tuple[float, dict[str, Any]]:
    who = token(base, "stat")
    started = time.perf_counter()
    queued = httpx.post(base + "/api/v1/exports", headers=who, timeout=60,
                        json={"fmt": "csv", "purpose": "Benchmark"})
    queued.raise_for_status()
    while True:
        state = httpx.get(base + queued.headers["Location"], headers=who, timeout=60).json()
        if state["status"] in ("done", "failed"):
            break
        time.sleep(1)
    elapsed = time.perf_counter() - started
    if state["status"] != "done":
        raise RuntimeError(f"the export failed: {state['error']}")
    return elapsed, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=500_000)
    parser.add_argument("--centres", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--no-export", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}", flush=True)
    rows: list[dict[str, Any]] = []
    with backends(["postgresql"]) as urls:
        if not urls:
            return
        _, url = urls[0]
        started = time.monotonic()
        loaded = load(url, args.participants, args.centres)
        print(f"loaded {args.participants} participants in {args.centres} centres, "
              f"{loaded['questionnaires']} questionnaires in {time.monotonic() - started:.0f} s",
              flush=True)
        # The floor is served as ``cohort serve`` serves (TCP_NODELAY: api/serving.py).
        uvicorn = [sys.executable, "-m", "uvicorn", "apiload:floor_app", "--factory",
                   "--host", "127.0.0.1", "--log-level", "warning",
                   "--http", PROTOCOL]
        with served(uvicorn, url, args.workers) as base:
            def floor_call(i: int) -> Callable[[], bool]:
                client = httpx.Client(base_url=base, timeout=30)
                return lambda: client.post("/floor", json={"client": i}).status_code == 200

            run_load("warm-up", args.clients, 1.0, floor_call)
            rows.append(run_load("floor (bare insert)", args.clients, args.seconds,
                                 floor_call))
        cohort = [sys.executable, "-m", "cohort.cli.main", "serve"]
        with served(cohort, url, args.workers) as base:
            work = list(loaded["pending"])

            def page_call(i: int) -> Callable[[], bool]:
                client = officer_pages(base)
                return lambda: client.get("/retention").status_code == 200

            tokens = {c: token(base, f"w{c}") for c in range(1, args.centres + 1)}

            def save_call(i: int) -> Callable[[], bool]:
                client = httpx.Client(base_url=base, timeout=60)

                def call() -> bool:
                    if not work:
                        raise StopIteration
                    tp, code, centre, visit = work.pop()
                    got = client.post(f"/api/v1/participants/{code}/questionnaires/{tp}",
                                      headers=tokens[centre],
                                      json={"answers": answers(date.fromisoformat(visit),
                                                               False)})
                    if got.status_code != 201:
                        raise RuntimeError(f"{got.status_code} {got.text[:150]}")
                    return True
                return call

            run_load("warm-up", 2, 2.0, page_call)
            rows.append(run_load("retention page (HTML)", args.clients, args.seconds,
                                 page_call))
            rows.append(run_load("save questionnaire", args.clients, args.seconds, save_call))
            if not args.no_export:
                floor = export_floor(url)
                rows.append({"name": "export floor (COPY TO)", "seconds": floor})
                elapsed, state = export_job(base)
                rows.append({"name": "full export (job, CSV long)", "seconds": elapsed,
                             "detail": f"{state['result']['rows']} rows",
                             "ratio": elapsed / floor})
        engine_for(url).dispose()
    print(f"\nPostgreSQL, {args.participants} participants, {args.centres} centres, "
          f"{args.workers} server processes, {args.clients} clients; load average after: "
          f"{os.getloadavg()}")
    floor_p95 = next(r["p95"] for r in rows if r["name"].startswith("floor"))
    for row in rows:
        if "p95" in row:
            print(f"{row['name']:32} n={row['n']:6d} {row['rps']:7.1f}/s p50 {row['p50']:7.1f} "
                  f"p95 {row['p95']:7.1f} ms  p95/floor {row['p95'] / floor_p95:5.1f}"
                  f"{'  errors ' + str(row['errors']) if row['errors'] else ''}")
        else:
            ratio = f"  /floor {row['ratio']:5.1f}" if "ratio" in row else ""
            print(f"{row['name']:32} {row['seconds']:8.1f} s  {row.get('detail', '')}{ratio}")


if __name__ == "__main__":
    main()
