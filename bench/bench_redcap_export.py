"""REDCap record export at national scale: time and peak memory, streamed.

Builds a SQLite database of N participants (default 100,000: an M0 questionnaire each, an
M6 for half, an AERLI session for a third, the enrolment status for all) with bulk inserts,
then exports every record as flat CSV and as JSON in a fresh child process per run (so the
peak RSS is the export's alone), and the same for N/10 to show that memory does not grow
with the project. The floor is the child's RSS after importing the project's modules and
opening the database, before any row is read.

    .venv/bin/python bench/bench_redcap_export.py [--participants 100000] [--db PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(path: Path, participants: int) -> None:
    import sqlalchemy as sa

    from cohort.db import create_schema, engine_for
    from cohort.models import (
        AerliSession,
        Centre,
        Participant,
        Questionnaire,
        Staff,
        StatusChange,
        utcnow,
    )
    from cohort.vocab import Role
    from tests.factories import questionnaire_answers

    engine = engine_for(f"sqlite:///{path}")
    create_schema(engine)
    rng = random.Random(16)
    now = utcnow()
    today = date(2026, 11, 22)
    with engine.begin() as conn:
        conn.execute(sa.insert(Centre.__table__), [  # type: ignore[attr-defined]
            {"code": f"C{i:02d}", "name": f"Centre {i}", "city": "Lyon", "active": True}
            for i in range(1, 21)])
        conn.execute(sa.insert(Staff.__table__), [  # type: ignore[attr-defined]
            {"display_name": f"Worker {i}", "role": Role.OUTREACH_WORKER.value,
             "centre_id": i, "active": True, "created_at": now} for i in range(1, 21)])
        people, answers, sessions, statuses = [], [], [], []
        for n in range(1, participants + 1):
            centre = (n - 1) % 20 + 1
            seq = (n - 1) // 20 + 1
            inclusion = today - timedelta(days=rng.randint(30, 700))
            people.append({
                "id": n, "code": f"C{centre:02d}-{seq:05d}", "centre_id": centre, "seq": seq,
                "year_of_birth": 1980, "gender": "man", "inclusion_date": inclusion,
                "consent_date": inclusion, "age_at_inclusion": 30 + n % 30,
                "injected_past_month": True, "wish_neck_groin": False,
                "reached_via": "in_person", "group": "intervention" if n % 2 else "comparison",
                "status": "active", "enrolled_by": centre, "created_at": now, "version": 1})
            for tp, day in (("M0", 0), ("M6", 182)) if n % 2 else (("M0", 0),):
                visit = inclusion + timedelta(days=day)
                if visit > today:
                    continue
                from cohort.vocab import Timepoint

                answers.append({
                    "participant_id": n, "timepoint": tp, "visit_date": visit,
                    "staff_id": centre, "completeness": 1.0, "in_window": True, "version": 1,
                    "answers": questionnaire_answers(visit, Timepoint(tp)),
                    "created_at": now, "updated_at": now})
            if n % 3 == 0:
                sessions.append({
                    "participant_id": n, "session_date": inclusion + timedelta(days=20),
                    "setting": "squat", "modality": "in_person", "product": "1",
                    "injection_site": "arm", "risks": ["2"], "topics": ["1", "5"],
                    "recorded_by": centre, "counts_for_protocol": True, "created_at": now})
            statuses.append({"participant_id": n, "status": "active",
                             "effective_date": inclusion, "reason": "Enrolled",
                             "recorded_by": centre, "recorded_at": now})
            if len(people) >= 5000:
                _flush(conn, people, answers, sessions, statuses)
        _flush(conn, people, answers, sessions, statuses)
    engine.dispose()
    del Participant, Questionnaire, AerliSession, StatusChange


def _flush(conn: object, *batches: list[dict[str, object]]) -> None:
    import sqlalchemy as sa

    from cohort.models import AerliSession, Participant, Questionnaire, StatusChange

    for model, rows in zip((Participant, Questionnaire, AerliSession, StatusChange), batches,
                           strict=True):
        if rows:
            conn.execute(sa.insert(model.__table__), rows)  # type: ignore[attr-defined]
            rows.clear()


def child(path: Path, fmt: str, limit: int) -> None:
    """One export in this process; prints JSON figures."""
    from sqlmodel import Session

    from cohort.db import engine_for
    from cohort.redcap.export import RecordQuery, prepare_export
    from cohort.services.context import Actor
    from cohort.vocab import Role

    engine = engine_for(f"sqlite:///{path}")
    actor = Actor(1, Role.ADMIN, None, None)
    with Session(engine) as session:
        records: tuple[str, ...] = ()
        if limit:
            from sqlmodel import col, select

            from cohort.models import Participant

            records = tuple(session.exec(select(Participant.code)
                                         .order_by(col(Participant.id)).limit(limit)))
        floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        export = prepare_export(session, actor=actor,
                                query=RecordQuery(format=fmt, records=records, dags=True))
        size = rows = 0
        for piece in export.chunks():
            size += len(piece)
            rows += piece.count("\n") if fmt == "csv" else piece.count('{"record_id"')
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "bytes": size, "rows": rows,
                      "floor_mb": floor / 1024, "peak_mb": peak / 1024}))


def run(path: Path, fmt: str, limit: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", str(path), fmt, str(limit)],
                         capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=None, help="Reuse or keep this database.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "national.db"
        if not path.exists():
            started = time.perf_counter()
            build(path, args.participants)
            print(f"built {args.participants:,} participants in "
                  f"{time.perf_counter() - started:.1f} s ({path.stat().st_size / 2**20:.0f} MB)")
        tenth = max(1, args.participants // 10)
        for fmt in ("csv", "json"):
            small = run(path, fmt, tenth)
            full = run(path, fmt, 0)
            for label, f in ((f"{tenth:,} records", small),
                             (f"all {args.participants:,}", full)):
                print(f"{fmt:4} {label:>18}: {f['seconds']:6.1f} s, {f['rows']:>9,.0f} rows, "
                      f"{f['bytes'] / 2**20:6.0f} MB out, peak RSS {f['peak_mb']:5.0f} MB "
                      f"(floor {f['floor_mb']:.0f} MB, +{f['peak_mb'] - f['floor_mb']:.0f})")
            grow = (full["peak_mb"] - full["floor_mb"]) / max(1.0, small["peak_mb"]
                                                              - small["floor_mb"])
            print(f"{fmt:4} memory above floor, all / tenth: {grow:.2f}x for 10x the rows; "
                  f"{full['rows'] / full['seconds']:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
