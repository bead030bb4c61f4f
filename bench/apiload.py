"""What the web benchmarks share: a bulk-loaded cohort, the app served by uvicorn on
loopback, client threads timing requests, and the floor (a bare insert)."""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.serving import PROTOCOL  # noqa: E402
from cohort.codes import make_code  # noqa: E402
from cohort.db import create_schema, engine_for  # noqa: E402
from cohort.models import (  # noqa: E402
    Account,
    Centre,
    Deviation,
    Participant,
    Questionnaire,
    Staff,
)
from cohort.services.accounts import hash_password  # noqa: E402
from cohort.vocab import (  # noqa: E402
    DeviationStatus,
    Gender,
    Group,
    Modality,
    Role,
    Severity,
    Status,
    Timepoint,
)

PG_ADMIN = os.environ.get("COHORT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "bench password long enough"
AS_OF = date.today()


def answers(visit: date, baseline: bool) -> dict[str, Any]:
    """A complete valid answer set, as a phone form would send it."""
    out: dict[str, Any] = {
        "visit_date": visit.isoformat(), "inj_freq": "3", "products": ["1", "5"],
        "inj_sites": ["1"], "share_syringe": "0", "share_cooker": "1", "share_filter": "0",
        "share_water": "0", "reuse_own_syringe": "1", "water_source": "1", "acidifier": "2",
        "swab_before": "1", "swab_after": "0", "rotate_sites": "1",
        "inject_outdoors_hurry": "0", "abscess": "0", "cellulitis": "0", "vein_damage": "1",
        "missed_hit": "0", "overdose": "0", "hcv_test_ever": "1", "hcv_last_result": "1",
        "hiv_test_ever": "0", "oat_current": "1", "oat_type": "1", "hr_services": ["1", "3"],
    }
    if baseline:
        out.update({"housing": "3", "income_source": "2", "education": "2",
                    "years_injecting": "8", "age_first_injection": "22", "prison_ever": "0"})
    return out


# --------------------------------------------------------------------------- cohort
def bulk_load(url: str, n: int, seed: int = 7) -> dict[str, Any]:
    """20 centres, staff with accounts, ``n`` participants with M0/M6/M12 and deviations."""
    rng = random.Random(seed)
    engine = engine_for(url)
    create_schema(engine)
    now = datetime.now(UTC)
    pw = hash_password(PASSWORD)
    with engine.begin() as conn:
        conn.execute(sa.insert(Centre.__table__), [  # type: ignore[attr-defined]
            {"id": i, "code": f"C{i:02d}", "name": f"Centre {i:02d}", "city": "City",
             "active": True} for i in range(1, 21)])
        staff_rows: list[dict[str, Any]] = [
            {"id": i, "display_name": f"Worker {i}", "role": Role.OUTREACH_WORKER,
             "centre_id": i, "aerli_trained_on": date(2024, 1, 1), "active": True,
             "created_at": now} for i in range(1, 21)]
        staff_rows.append({"id": 21, "display_name": "Officer", "role": Role.RESEARCH_OFFICER,
                           "centre_id": None, "aerli_trained_on": None, "active": True,
                           "created_at": now})
        conn.execute(sa.insert(Staff.__table__), staff_rows)  # type: ignore[attr-defined]
        conn.execute(sa.insert(Account.__table__), [  # type: ignore[attr-defined]
            {"id": s["id"], "username": f"w{s['id']}" if s["id"] <= 20 else "officer",
             "password_hash": pw, "staff_id": s["id"], "active": True, "created_at": now}
            for s in staff_rows])
        participants, questionnaires, deviations = [], [], []
        pending: dict[str, list[tuple[str, int, str]]] = {"M6": [], "M12": []}
        seq = dict.fromkeys(range(1, 21), 0)
        for pid in range(1, n + 1):
            centre = rng.randint(1, 20)
            seq[centre] += 1
            inclusion = AS_OF - timedelta(days=rng.randint(0, 760))
            code = make_code(f"C{centre:02d}", seq[centre])
            participants.append({
                "id": pid, "code": code, "centre_id": centre, "seq": seq[centre],
                "year_of_birth": 1990, "gender": Gender.MAN, "inclusion_date": inclusion,
                "consent_date": inclusion, "age_at_inclusion": 34, "injected_past_month": True,
                "wish_neck_groin": False, "reached_via": Modality.IN_PERSON,
                "group": Group.INTERVENTION if rng.random() < 0.53 else Group.COMPARISON,
                "status": Status.ACTIVE, "enrolled_by": centre, "created_at": now, "version": 1})
            for tp, day in ((Timepoint("M0"), 0), (Timepoint("M6"), 182), (Timepoint("M12"), 365)):
                visit = inclusion + timedelta(days=day)
                in_window_now = tp != Timepoint("M0") and abs((AS_OF - visit).days) <= 40
                if visit > AS_OF or in_window_now:
                    if in_window_now and visit <= AS_OF:
                        pending[tp.value].append((code, centre, visit.isoformat()))
                    break
                if tp != Timepoint("M0") and rng.random() > 0.8:
                    continue
                questionnaires.append({
                    "participant_id": pid, "timepoint": tp, "visit_date": visit,
                    "staff_id": centre, "answers": answers(visit, tp == Timepoint("M0")),
                    "completeness": 1.0, "in_window": True, "version": 1,
                    "created_at": now, "updated_at": now})
            if rng.random() < 0.2:
                deviations.append({
                    "rule_id": "session.trained_staff", "severity": Severity.SOFT,
                    "entity": "participant", "record_id": pid, "participant_id": pid,
                    "centre_id": centre, "message": f"{code}: one trained worker",
                    "raised_at": now, "status": DeviationStatus.OPEN,
                    "dedupe_key": f"bench:{pid}"})
        for chunk in range(0, n, 2000):
            conn.execute(sa.insert(Participant.__table__),  # type: ignore[attr-defined]
                         participants[chunk:chunk + 2000])
        for chunk in range(0, len(questionnaires), 2000):
            conn.execute(sa.insert(Questionnaire.__table__),  # type: ignore[attr-defined]
                         questionnaires[chunk:chunk + 2000])
        conn.execute(sa.insert(Deviation.__table__), deviations)  # type: ignore[attr-defined]
        key = "SERIAL" if engine.dialect.name == "postgresql" else "INTEGER"
        conn.execute(sa.text(f"CREATE TABLE bench_floor (id {key} PRIMARY KEY, "
                             "payload TEXT, at TIMESTAMP)"))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in ("centre", "staff", "account", "participant"):
                conn.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT max(id) FROM {table}))"))
            conn.execute(sa.text("ANALYZE"))
        # Flush the bulk load's WAL now, so that a checkpoint it triggered does not land in
        # the middle of a measured run (the load itself is not what is measured).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("CHECKPOINT"))
    engine.dispose()
    for pool in pending.values():
        rng.shuffle(pool)
    people = [(p["code"], p["centre_id"]) for p in participants]
    rng.shuffle(people)
    return {"pending": pending, "questionnaires": len(questionnaires),
            "deviations": len(deviations), "people": people}


# --------------------------------------------------------------------------- floor app
def floor_app() -> Any:
    """The floor: a bare FastAPI endpoint inserting one row, nothing else."""
    from fastapi import FastAPI

    engine = engine_for(os.environ["COHORT_DATABASE_URL"])
    app = FastAPI()
    statement = sa.text("INSERT INTO bench_floor (payload, at) VALUES (:p, :at)")

    @app.post("/floor")
    def insert(body: dict[str, Any]) -> dict[str, bool]:
        with engine.begin() as conn:
            conn.execute(statement, {"p": str(body)[:200], "at": datetime.now(UTC)})
        return {"ok": True}

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(target: str, url: str, workers: int = 1) -> Iterator[str]:
    """``target`` served by uvicorn on loopback with ``workers`` processes, through the
    protocol ``cohort serve`` uses (TCP_NODELAY on every connection: api/serving.py)."""
    port = free_port()
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH", ""), str(ROOT)) if p)
    env = {**os.environ, "COHORT_DATABASE_URL": url, "PYTHONPATH": path}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", target, "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--app-dir", str(ROOT / "bench"),
         "--workers", str(workers), "--http", PROTOCOL],
        cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30 * workers
        while time.monotonic() < deadline:
            try:
                httpx.get(base + "/docs", timeout=1)
                # Every process answers before the clock starts (one request each is not
                # enough to tell; a few per process reach them all in practice).
                for _ in range(4 * workers):
                    httpx.get(base + "/docs", timeout=10)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"{target} did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def run_load(name: str, clients: int, seconds: float,
             make_call: Callable[[int], Callable[[], bool] | None]) -> dict[str, Any]:
    """``clients`` threads call their request function until time is up or work runs out."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    calls = [make_call(i) for i in range(clients)]  # sign-ins etc. are not timed
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        call = calls[i]
        if call is None:
            return
        mine: list[float] = []
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                ok = call()
            except StopIteration:
                break
            except Exception as error:  # noqa: BLE001 - a benchmark reports, never hides
                with lock:
                    errors.append(repr(error)[:200])
                continue
            elapsed = (time.perf_counter() - started) * 1000
            if ok:
                mine.append(elapsed)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - began
    latencies.sort()
    out = {"name": name, "n": len(latencies), "errors": len(errors),
           "rps": len(latencies) / wall if wall else 0.0}
    if latencies:
        out["p50"] = statistics.median(latencies)
        out["p95"] = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    if errors:
        out["first_error"] = errors[0]
    return out


def worker_tokens(base: str) -> dict[int, str]:
    """A bearer token for the outreach worker of each of the 20 centres."""
    tokens = {}
    for centre in range(1, 21):
        r = httpx.post(base + "/api/v1/auth/token",
                       data={"username": f"w{centre}", "password": PASSWORD})
        r.raise_for_status()
        tokens[centre] = r.json()["access_token"]
    return tokens


def saver(base: str, tokens: dict[int, str], work: list[Any], lock: threading.Lock
          ) -> Callable[[int], Callable[[], bool]]:
    """Clients that each save the next visit in window, until ``work`` runs out."""
    def save_call(i: int) -> Callable[[], bool]:
        client = httpx.Client(base_url=base, timeout=30)

        def call() -> bool:
            with lock:
                if not work:
                    raise StopIteration
                tp, code, centre, visit = work.pop()
            r = client.post(f"/api/v1/participants/{code}/questionnaires/{tp}",
                            json={"answers": answers(date.fromisoformat(visit), False)},
                            headers={"Authorization": f"Bearer {tokens[centre]}"})
            if r.status_code != 201:
                raise RuntimeError(f"{r.status_code} {r.text[:150]}")
            return True
        return call
    return save_call


def officer_pages(base: str) -> httpx.Client:
    """A client signed in to the pages as the national research officer."""
    client = httpx.Client(base_url=base, timeout=30)
    login = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login)
    if csrf is None:
        raise RuntimeError("the sign-in page has no CSRF field")
    client.post("/login", data={"username": "officer", "password": PASSWORD,
                                "csrf_token": csrf.group(1)})
    return client


Maker = Callable[[int], Callable[[], bool] | None]


def mixed_run(args: argparse.Namespace, savers: tuple[str, Maker], readers: tuple[str, Maker]
              ) -> list[dict[str, Any]]:
    """Half the clients save questionnaires while the other half read: every save writes
    an audit entry, so the retention cache keeps being invalidated and the page is measured
    as it is while outreach workers enter data (and every participant read writes a
    read-log entry, competing with the saves for the write lock). The readers stop when
    the savers do (their visits in window ran out, or the time): a read with nobody
    saving is not a mixed one."""
    n_save = max(1, args.clients // 2)
    out: dict[str, dict[str, Any]] = {}
    saving_over = threading.Event()

    def run(name: str, clients: int, make: Maker, over: threading.Event | None = None
            ) -> None:
        out[name] = run_load(name, clients, args.seconds, make)
        if over is not None:
            over.set()

    def reader(i: int) -> Callable[[], bool] | None:
        call = readers[1](i)
        if call is None:
            return None

        def while_saving() -> bool:
            if saving_over.is_set():
                raise StopIteration
            return call()
        return while_saving

    threads = [threading.Thread(target=run, args=(savers[0], n_save, savers[1], saving_over)),
               threading.Thread(target=run, args=(readers[0], max(1, args.clients - n_save),
                                                  reader))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [out[savers[0]], out[readers[0]]]


@contextmanager
def backends(which: list[str]) -> Iterator[list[tuple[str, str]]]:
    out: list[tuple[str, str]] = []
    tmp = tempfile.TemporaryDirectory(prefix="bench-api-")
    pg_name = None
    admin = None
    if "sqlite" in which:
        out.append(("SQLite", f"sqlite:///{tmp.name}/bench.db"))
    if "postgresql" in which:
        try:
            admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            pg_name = f"bench_api_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{pg_name}"'))
            out.append(("PostgreSQL", PG_ADMIN.rsplit("/", 1)[0] + f"/{pg_name}"))
        except sa.exc.OperationalError as error:
            print(f"PostgreSQL skipped: {str(error.orig).strip().splitlines()[0]}")
    try:
        yield out
    finally:
        if admin is not None and pg_name is not None:
            for _, url in out:
                engine_for(url).dispose()
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            admin.dispose()
        tmp.cleanup()


def _in_process(name: str, times: list[float]) -> dict[str, Any]:
    times = sorted(times)
    return {"name": name, "n": len(times), "errors": 0, "rps": 1000 * len(times) / sum(times),
            "p50": statistics.median(times), "p95": times[min(len(times) - 1,
                                                              int(0.95 * len(times)))]}
