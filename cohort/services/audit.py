"""The append-only audit trail, written in the caller's transaction.

A create writes one entry holding the new record; a change writes one entry per field
with old and new values, so "who changed this answer, and from what" is one query.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any, Protocol, TypeAlias

from sqlalchemy import insert
from sqlmodel import Session, SQLModel, col, select

from cohort.models import AuditEntry, utcnow


class Acting(Protocol):
    """Who acts, as the audit trail records it (``cohort.services.context.Actor``)."""

    @property
    def audit_id(self) -> int | None: ...

    @property
    def system(self) -> str | None: ...


#: An actor, or (older callers) the staff id alone.
Who: TypeAlias = "Acting | int | None"


def _who(actor: Who) -> tuple[int | None, str | None]:
    """(staff id, system actor's name) of an audit entry."""
    if actor is None or isinstance(actor, int):
        return actor, None
    return actor.audit_id, actor.system


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def record_create(session: Session, actor_id: Who, record: SQLModel) -> None:
    """Audit a freshly flushed record (its id must be set).

    Written with a Core INSERT at once, not as an ORM object: an audit entry is never read
    back in the same transaction, and skipping the unit of work is a large share of a
    single save's time.
    """
    record_creates(session, actor_id, [record])


def record_creates(session: Session, actor_id: Who,
                   records: Sequence[SQLModel]) -> None:
    """Audit many flushed records in one multi-row INSERT (imports)."""
    record_creates_many(session, [(actor_id, record) for record in records])


def record_creates_many(session: Session, made: Iterable[tuple[Who, SQLModel]]) -> None:
    """``record_creates`` for records of several actors and tables, in one multi-row
    INSERT (bulk writers).

    The entry holds the record as pydantic writes it in JSON (its fields in the model's
    order, times in ISO 8601, UTF-8), straight from pydantic's serialiser: a demo or an
    import audits tens of thousands of records, and dumping each to a dict and then
    through ``json.dumps`` cost a tenth of its time. Entries written before 2026-12
    have the same values with sorted keys and ``json.dumps``'s spacing; readers parse
    the JSON, never compare its text."""
    now = utcnow()
    rows = []
    for actor_id, record in made:
        staff_id, system = _who(actor_id)
        record_id = getattr(record, "id", None)
        assert record_id is not None  # noqa: S101 - audited once flushed
        rows.append({
            "at": now, "actor_id": staff_id, "actor_system": system, "action": "create",
            "table_name": str(getattr(record, "__tablename__", type(record).__name__.lower())),
            "record_id": int(record_id), "field": None, "old_value": None,
            "new_value": record.model_dump_json()})
    # The table, not the mapped class: an ORM-enabled insert would go through the bulk
    # persistence machinery, which costs more than the row itself.
    if rows:
        session.connection().execute(insert(_AUDIT_TABLE), rows)


_AUDIT_TABLE = AuditEntry.__table__  # type: ignore[attr-defined]


def record_changes(
    session: Session,
    actor_id: Who,
    table: str,
    record_id: int,
    changes: Mapping[str, tuple[Any, Any]],
) -> None:
    """Audit field changes given as ``{field: (old, new)}``; unchanged fields are skipped."""
    staff_id, system = _who(actor_id)
    for name, (old, new) in changes.items():
        if _text(old) == _text(new):
            continue
        session.add(
            AuditEntry(
                actor_id=staff_id,
                actor_system=system,
                action="update",
                table_name=table,
                record_id=record_id,
                field=name,
                old_value=_text(old),
                new_value=_text(new),
            )
        )


def record_changes_many(
    session: Session,
    actor_id: Who,
    items: Sequence[tuple[str, int, Mapping[str, tuple[Any, Any]]]],
) -> None:
    """``record_changes`` for many records ``(table, record_id, changes)`` in one
    multi-row INSERT: the same entries, without the unit of work (bulk writers)."""
    staff_id, system = _who(actor_id)
    now = utcnow()
    rows = [
        {"at": now, "actor_id": staff_id, "actor_system": system, "action": "update",
         "table_name": table, "record_id": record_id, "field": name,
         "old_value": _text(old), "new_value": _text(new)}
        for table, record_id, changes in items
        for name, (old, new) in changes.items()
        if _text(old) != _text(new)
    ]
    if rows:
        session.connection().execute(insert(_AUDIT_TABLE), rows)


def answer_changes(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """Per-answer differences between two answer sets, keyed ``answers.<field>``."""
    return {
        f"answers.{key}": (old.get(key), new.get(key))
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    }


def history(session: Session, table: str, record_id: int) -> list[AuditEntry]:
    """Every audit entry of one record, oldest first."""
    statement = (
        select(AuditEntry)
        .where(AuditEntry.table_name == table, AuditEntry.record_id == record_id)
        .order_by(col(AuditEntry.id))
    )
    return list(session.exec(statement).all())
