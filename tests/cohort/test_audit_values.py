"""An audit entry of a created record holds the record as ``model_dump(mode="json")``
gives it (written by pydantic's JSON serialiser, ``audit.record_creates_many``)."""

from __future__ import annotations

import json
from datetime import date

from sqlmodel import Session, SQLModel, select

from cohort.demo import build_demo
from cohort.models import (
    AerliSession,
    AuditEntry,
    Deviation,
    Participant,
    Questionnaire,
    Screening,
    StatusChange,
)

AUDITED: list[type[SQLModel]] = [Participant, Questionnaire, AerliSession, StatusChange,
                                 Deviation, Screening]


def test_every_record_of_a_demo_is_audited_as_its_json_dump(session: Session) -> None:
    build_demo(session, participants=40, seed=7, as_of=date(2026, 11, 22))
    seen = 0
    for model in AUDITED:
        name = model.__tablename__  # type: ignore[attr-defined]
        created = {e.record_id: e.new_value for e in session.exec(
            select(AuditEntry).where(AuditEntry.table_name == name,
                                     AuditEntry.action == "create"))}
        changed = set(session.exec(select(AuditEntry.record_id).where(
            AuditEntry.table_name == name, AuditEntry.action != "create")))
        for record in session.exec(select(model)):
            if record.id in changed:  # its create entry holds it as it was
                continue
            assert json.loads(created[record.id]) == record.model_dump(mode="json"), name
            seen += 1
    assert seen > 200
