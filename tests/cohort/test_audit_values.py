"""An audit entry of a created record holds what ``model_dump(mode="json")`` gives; the
quick conversion (``audit.created_values``) must give exactly that, or fall back to it."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
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
from cohort.services.audit import created_values
from cohort.vocab import Severity

AUDITED: list[type[SQLModel]] = [Participant, Questionnaire, AerliSession, StatusChange,
                                 Deviation, Screening]


def test_every_record_of_a_demo_is_audited_as_pydantic_dumps_it(session: Session) -> None:
    build_demo(session, participants=40, seed=7, as_of=date(2026, 11, 22))
    seen = 0
    for model in AUDITED:
        for record in session.exec(select(model)):
            assert created_values(record) == record.model_dump(mode="json"), model
            seen += 1
    assert seen > 200


@pytest.mark.parametrize("at", [
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, 123, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=zoneinfo.ZoneInfo("Etc/UTC")),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
    datetime(2026, 1, 2, 3, 4, 5),
])
def test_times_are_written_as_pydantic_writes_them(at: datetime) -> None:
    entry = AuditEntry(actor_id=1, action="create", table_name="x", record_id=1, at=at)
    assert created_values(entry) == entry.model_dump(mode="json")


@pytest.mark.parametrize("params", [
    {"when": date(2026, 1, 2)},           # a date inside JSON: pydantic's say
    {"ratio": float("nan")},              # not a JSON number
    {"ratio": float("inf")},
    {"nested": {"a": [1, "2", None, True, 2.5]}},
    {"t": (1, 2)},                        # a tuple: pydantic makes it a list
])
def test_values_beyond_the_plain_ones_come_out_as_pydantic_gives_them(
        params: dict[object, object]) -> None:
    deviation = Deviation(rule_id="r", severity=Severity.SOFT, entity="participant",
                          record_id=1, message="m", message_params=params, dedupe_key="k")
    assert created_values(deviation) == deviation.model_dump(mode="json")
