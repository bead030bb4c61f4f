"""Entries sent from a phone that was offline (``cohort.services.sync``), on SQLite and
PostgreSQL.

Rules: sync.once (an entry id saves at most once, also when two sends race),
sync.after_enrolment (an entry for someone enrolled on the phone waits for that
enrolment), sync.other_worker (a shared phone: the next worker to sign in cannot send a
colleague's entries in their own name), sync.conflict (someone else saved the same
questionnaire meanwhile), sync.id_taken, and the online forms' hard rules
(date.before_inclusion, enrol.under_18, scope.other_centre) applied unchanged: a refusal
writes nothing and leaves no receipt, so the corrected entry is sent again under the same id.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from cohort.db import create_schema, engine_for, forget_engines
from cohort.models import AerliSession, Participant, Questionnaire, StatusChange
from cohort.models_ops import SyncReceipt
from cohort.services.context import Actor
from cohort.services.sync import EntryOutcome, OfflineEntry, apply_entry
from cohort.vocab import Status, Timepoint
from tests.conftest import TODAY, pg_database
from tests.factories import Factory, questionnaire_answers

ENROLMENT = {"age": "31", "injected_past_month": "1", "wish_neck_groin": "0", "consent": "1",
             "consent_date": TODAY.isoformat(), "inclusion_date": TODAY.isoformat(),
             "year_of_birth": "1995", "gender": "1", "reached_via": "1", "study_group": "1"}
SESSION = {"session_date": TODAY.isoformat(), "setting": "1", "modality": "1",
           "product": "1", "injection_site": "1", "risks": ["2"], "topics": ["1"]}


def entry(kind: str, **fields: Any) -> OfflineEntry:
    return OfflineEntry.model_validate({"uuid": str(uuid.uuid4()), "kind": kind, **fields})


def apply(session: Session, actor: Actor, item: OfflineEntry) -> EntryOutcome:
    return apply_entry(session, actor=actor, entry=item, on=TODAY)


def count(session: Session, model: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


def test_a_whole_visit_made_offline_is_saved_once_whatever_is_resent(
        factory: Factory) -> None:
    """sync.once and sync.after_enrolment: enrolment, M0 and a session of someone enrolled
    on the phone; every entry sent twice."""
    session = factory.session
    worker = factory.worker()
    trained = factory.staff(centre=factory.centre("C01"))
    before = count(session, Participant)
    enrolment = entry("enrolment", answers=ENROLMENT)
    m0 = entry("questionnaire", after=enrolment.uuid, timepoint="M0",
               answers=questionnaire_answers(TODAY))
    visit = entry("session", after=enrolment.uuid, answers=SESSION,
                  staff_ids=[worker.staff_id, trained.id])
    assert apply(session, worker, m0).outcome == "waiting"  # sent before its enrolment
    first = apply(session, worker, enrolment)
    assert first.outcome == "saved" and first.participant_code
    for item in (enrolment, m0, visit, m0, visit, enrolment):
        outcome = apply(session, worker, item)
        assert outcome.kept, outcome
        assert outcome.participant_code == first.participant_code
    assert count(session, Participant) == before + 1
    person = session.exec(select(Participant).where(
        Participant.code == first.participant_code)).one()
    assert len(session.exec(select(Questionnaire).where(
        Questionnaire.participant_id == person.id)).all()) == 1
    assert len(session.exec(select(AerliSession).where(
        AerliSession.participant_id == person.id)).all()) == 1
    assert session.get(SyncReceipt, enrolment.uuid) is not None


def test_a_refusal_writes_nothing_and_the_corrected_entry_is_sent_under_the_same_id(
        factory: Factory) -> None:
    """date.before_inclusion refuses; no receipt, so the correction is applied."""
    session = factory.session
    worker = factory.worker()
    person = factory.participant(worker, inclusion_date=TODAY - timedelta(days=10))
    early = TODAY - timedelta(days=30)
    item = entry("questionnaire", participant=person.code, timepoint="M0",
                 answers=questionnaire_answers(early))
    refused = apply(session, worker, item)
    assert refused.outcome == "refused"
    assert refused.rule_id == "date.before_inclusion"
    assert refused.message
    assert session.get(SyncReceipt, item.uuid) is None
    assert session.exec(select(Questionnaire).where(
        Questionnaire.participant_id == person.id)).first() is None
    corrected = item.model_copy(update={"answers": questionnaire_answers(TODAY)})
    assert apply(session, worker, corrected).outcome == "saved"
    assert apply(session, worker, corrected).outcome == "already_saved"


def test_dictionary_errors_name_the_fields(factory: Factory) -> None:
    worker = factory.worker()
    refused = apply(factory.session, worker, entry(
        "enrolment", answers={**ENROLMENT, "age": "250"}))
    assert refused.outcome == "refused"
    assert "age" in refused.errors
    refused = apply(factory.session, worker, entry(
        "enrolment", answers={**ENROLMENT, "age": "16"}))
    assert refused.rule_id == "enrol.under_18"


def test_someone_else_saved_the_same_m6_meanwhile_both_versions_and_a_correction(
        factory: Factory) -> None:
    """sync.conflict: the outcome carries their version; sent as a correction of it, mine
    becomes version 2 and theirs stays in the history."""
    session = factory.session
    worker = factory.worker()
    person = factory.participant(worker)
    visit = person.inclusion_date + timedelta(days=182)
    factory.questionnaire(worker, person, Timepoint("M6"), share_water="0")
    mine = entry("questionnaire", participant=person.code, timepoint="M6",
                 answers=questionnaire_answers(visit, Timepoint("M6"), share_water="1"))
    conflict = apply(session, worker, mine)
    assert conflict.outcome == "conflict"
    assert conflict.theirs is not None
    assert conflict.theirs["version"] == 1
    assert conflict.theirs["answers"]["share_water"] == "0"
    assert session.get(SyncReceipt, mine.uuid) is None
    correction = mine.model_copy(update={"kind": "correction", "expected_version": 1})
    assert apply(session, worker, correction).outcome == "saved"
    stored = session.exec(select(Questionnaire).where(
        Questionnaire.participant_id == person.id,
        Questionnaire.timepoint == Timepoint("M6"))).one()
    assert stored.version == 2 and stored.answers["share_water"] == "1"
    stale = entry("correction", participant=person.code, timepoint="M6", expected_version=1,
                  answers=questionnaire_answers(visit, Timepoint("M6")))
    assert apply(session, worker, stale).theirs["version"] == 2  # type: ignore[index]


def test_status_change_and_scope(factory: Factory) -> None:
    """A status change through the follow_up_status form; another centre's participant is
    refused exactly like an unknown code (scope), and an id another worker used is refused
    (sync.id_taken)."""
    session = factory.session
    worker = factory.worker()
    person = factory.participant(worker)
    status = entry("status", participant=person.code,
                   answers={"fu_status": "4", "fu_status_date": TODAY.isoformat()})
    assert apply(session, worker, status).outcome == "saved"
    session.refresh(person)
    assert person.status is Status.LOST_TO_FOLLOW_UP
    assert len(session.exec(select(StatusChange).where(
        StatusChange.participant_id == person.id)).all()) == 2
    elsewhere = factory.worker(factory.centre("C02"))
    outsider = apply(session, elsewhere, entry("session", participant=person.code,
                                               answers=SESSION, staff_ids=[1]))
    assert outsider.outcome == "refused" and "No participant" in outsider.message
    taken = apply(session, elsewhere, status)
    assert taken.outcome == "refused" and taken.rule_id == "sync.id_taken"


def test_a_colleagues_entry_on_a_shared_phone_is_not_sent_in_my_name(
        factory: Factory) -> None:
    """sync.other_worker: made by one worker, sent while another is signed in."""
    session = factory.session
    first, second = factory.worker(), factory.worker()
    item = entry("enrolment", answers=ENROLMENT, made_by=first.staff_id)
    refused = apply(session, second, item)
    assert refused.outcome == "refused" and refused.rule_id == "sync.other_worker"
    assert session.get(SyncReceipt, item.uuid) is None
    assert apply(session, first, item).outcome == "saved"


def test_bad_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="uuid"):
        OfflineEntry.model_validate({"uuid": "x", "kind": "enrolment"})
    with pytest.raises(ValueError, match="kind"):
        OfflineEntry.model_validate({"uuid": str(uuid.uuid4()), "kind": "delete"})


@pytest.fixture(params=["sqlite", "postgresql"])
def own_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database with real commits, so that concurrent sends really race."""
    if request.param == "postgresql":
        request.getfixturevalue("pg_url")
        with pg_database("cohort_sync") as url:
            engine = engine_for(url)
            create_schema(engine)
            yield engine
            engine.dispose()
        return
    url = f"sqlite:///{tmp_path / 'sync.db'}"
    engine = engine_for(url)
    create_schema(engine)
    yield engine
    forget_engines(url)


@pytest.mark.parametrize("kind", ["enrolment", "questionnaire"])
def test_concurrent_resends_of_one_entry_save_it_once(own_engine: Engine, kind: str) -> None:
    """sync.once under a race: four sends of the same entry at the same moment (the page
    and the service worker, a retry after a timeout) give one saved, three already saved."""
    with Session(own_engine, expire_on_commit=False) as session:
        factory = Factory(session, today=TODAY)
        worker = factory.worker()
        person = factory.participant(worker)
    if kind == "enrolment":
        item = entry("enrolment", answers=ENROLMENT)
    else:
        item = entry("questionnaire", participant=person.code, timepoint="M0",
                     answers=questionnaire_answers(person.inclusion_date))
    engine = own_engine.execution_options(sqlite_begin="IMMEDIATE") \
        if own_engine.dialect.name == "sqlite" else own_engine
    barrier = threading.Barrier(4)
    outcomes: list[str] = []
    lock = threading.Lock()

    def send() -> None:
        barrier.wait(timeout=10)
        with Session(engine, expire_on_commit=False) as session:
            result = apply(session, worker, item)
        with lock:
            outcomes.append(result.outcome)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["already_saved"] * 3 + ["saved"], outcomes
    with Session(own_engine) as session:
        assert count(session, SyncReceipt) == 1
        assert count(session, Participant) == (2 if kind == "enrolment" else 1)
        assert count(session, Questionnaire) == (0 if kind == "enrolment" else 1)
