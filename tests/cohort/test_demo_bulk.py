"""The demo written in batches (bulk services) is the demo written one record at a time.

Two fresh databases get the same seed, one through the one-by-one services, one through
the bulk writers; every table must hold the same rows (ids and timestamps aside: the
batch writes a table at a time, so ids of interleaved tables such as screenings and
deviations come in another order), the same deviations and the same audit entries,
each pointing at the same record.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from cohort.db import create_schema, engine_for
from cohort.demo import build_demo
from tests.conftest import BACKENDS, _pg_available, pg_database

AS_OF = date(2026, 11, 22)


@contextmanager
def _fresh(backend: str, tmp: Path, label: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / (label + '.db')}"
        return
    if not _pg_available():
        pytest.skip("PostgreSQL not reachable")
    with pg_database(f"demo_{label}") as url:
        yield url


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value


def snapshot(url: str, one_by_one: bool, participants: int) -> tuple[Any, dict[str, Any]]:
    """Build a demo; return its summary and every table as a multiset of rows without
    ids and timestamps (an audit entry's record replaced by that record's content)."""
    engine = engine_for(url)
    create_schema(engine)
    with Session(engine, expire_on_commit=False) as db:
        summary = build_demo(db, participants=participants, seed=11, as_of=AS_OF,
                             commit_every=40, one_by_one=one_by_one)
    tables = {t.name: t for t in SQLModel.metadata.sorted_tables}
    skipped = {name: {c.name for c in t.columns
                      if c.name in ("id", "at") or c.name.endswith("_at")
                      or isinstance(c.type, sa.DateTime)}
               for name, t in tables.items()}
    content: dict[str, dict[int, str]] = {}
    result: dict[str, Any] = {}
    with engine.connect() as conn:
        rows = {name: [dict(r._mapping) for r in conn.execute(sa.select(t))]
                for name, t in tables.items()}
    engine.dispose()
    for name, table_rows in rows.items():
        if name == "audit_entry":
            continue
        keyed = []
        for row in table_rows:
            key = json.dumps({k: _plain(v) for k, v in row.items() if k not in skipped[name]},
                             sort_keys=True, default=str)
            keyed.append(key)
            if "id" in row:
                content.setdefault(name, {})[row["id"]] = key
        result[name] = Counter(keyed)
    audit = []
    for row in rows["audit_entry"]:
        new_value = row["new_value"]
        if row["action"] == "create" and new_value:
            data = json.loads(new_value)
            new_value = json.dumps({k: v for k, v in data.items()
                                    if k not in skipped.get(row["table_name"], set())},
                                   sort_keys=True)
        audit.append((row["table_name"], content.get(row["table_name"], {}).get(
            row["record_id"]), row["action"], row["field"], row["actor_id"],
            row["actor_system"], row["old_value"], new_value))
    result["audit_entry"] = Counter(audit)
    return summary, result


@pytest.mark.parametrize("backend", BACKENDS)
def test_batched_demo_writes_what_the_one_by_one_services_write(
        backend: str, tmp_path: Path) -> None:
    with _fresh(backend, tmp_path, "one") as one_url, _fresh(backend, tmp_path, "bulk") as url:
        one_summary, one = snapshot(one_url, True, 90)
        bulk_summary, bulk = snapshot(url, False, 90)
    assert bulk_summary == one_summary
    assert one_summary.deviations  # the comparison covers deviations of several rules
    assert len(one_summary.deviations) >= 3
    assert one_summary.sessions and one_summary.status_changes
    for name in one:
        assert sum(bulk[name].values()) == sum(one[name].values()), name
        assert bulk[name] == one[name], name
    # The audit covers every created record of the study tables, and each status change.
    tables = {entry[0] for entry in one["audit_entry"]}
    assert {"participant", "questionnaire", "aerli_session", "status_change",
            "screening", "deviation"} <= tables
