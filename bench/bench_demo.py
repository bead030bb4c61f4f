"""How fast does ``cohort demo`` write a cohort, next to a bulk-insert floor?

Run: ``.venv/bin/python bench/bench_demo.py [--participants 10000] [--backend sqlite]``

1. Builds the demo cohort through the services (rules, validation, deviations, audit),
   exactly as ``cohort demo --participants N`` does, into a fresh database.
2. Floor, in the same run: the very same rows (every table, audit included) copied into a
   second fresh database with plain SQLAlchemy Core ``executemany`` in one transaction.
Prints both times, rows written per second, and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

# This checkout's code, not whichever one the environment installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

from cohort.db import create_schema, engine_for  # noqa: E402
from cohort.demo import build_demo  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def fresh_url(backend: str, tmp: Path, label: str) -> tuple[str, object]:
    if backend == "sqlite":
        return f"sqlite:///{tmp / (label + '.db')}", None
    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", (admin, name)


def drop(handle: object) -> None:
    if handle is None:
        return
    admin, name = handle  # type: ignore[misc]
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--one-by-one", action="store_true",
                        help="write each record through its one-by-one service (the old way)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        url, handle = fresh_url(args.backend, tmp, "demo")
        engine = engine_for(url)
        create_schema(engine)
        started, cpu = time.perf_counter(), time.process_time()
        with Session(engine, expire_on_commit=False) as session:
            summary = build_demo(session, participants=args.participants, seed=args.seed,
                                 as_of=date(2026, 11, 22), one_by_one=args.one_by_one)
        demo_seconds = time.perf_counter() - started
        demo_cpu = time.process_time() - cpu

        tables = SQLModel.metadata.sorted_tables
        with engine.connect() as conn:
            data = {t.name: [dict(r._mapping) for r in conn.execute(sa.select(t))]
                    for t in tables}
        total_rows = sum(len(rows) for rows in data.values())

        floor_url, floor_handle = fresh_url(args.backend, tmp, "floor")
        floor_engine = engine_for(floor_url)
        SQLModel.metadata.create_all(floor_engine)
        started, cpu = time.perf_counter(), time.process_time()
        with floor_engine.begin() as conn:
            for table in tables:
                if data[table.name]:
                    conn.execute(table.insert(), data[table.name])
        floor_seconds = time.perf_counter() - started
        floor_cpu = time.process_time() - cpu
        engine.dispose()
        floor_engine.dispose()
        drop(handle)
        drop(floor_handle)

    print(f"backend: {args.backend}   participants: {summary.participants}   seed: {args.seed}")
    print(f"study records: {summary.rows:,}   all rows incl. audit and links: {total_rows:,}")
    for name, rows in sorted(data.items()):
        print(f"  {name:22} {len(rows):>9,}")
    how = "one by one" if args.one_by_one else "in batches"
    print(f"cohort demo (through the services, {how}): {demo_seconds:8.2f} s  "
          f"{total_rows / demo_seconds:>10,.0f} rows/s")
    print(f"floor (SQLAlchemy Core bulk insert): {floor_seconds:7.2f} s  "
          f"{total_rows / floor_seconds:>10,.0f} rows/s")
    print(f"ratio demo / floor: {demo_seconds / floor_seconds:.1f}x")
    # On a shared machine the two can meet different loads; the time this process spent
    # on the CPU is steadier (on SQLite it is all of the work; PostgreSQL's own is not).
    print(f"CPU time of this process: demo {demo_cpu:.2f} s, floor {floor_cpu:.2f} s, "
          f"ratio {demo_cpu / floor_cpu:.1f}x")


if __name__ == "__main__":
    main()
