"""Row-level security on PostgreSQL: the application's role sees only the signed-in
person's centres, whatever a query forgets to filter (``cohort.rls``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import cast

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from api.app import create_app
from cohort.db import engine_for
from cohort.excel.importer import import_file
from cohort.models import AuditEntry, ExportLog, ExternalRecord, ImportBatch, Participant
from cohort.models_ops import SyncReceipt
from cohort.rls import scope_session
from cohort.services.access import record_export, visible_codes
from cohort.services.context import load_actor
from cohort.services.sync import EntryOutcome, OfflineEntry, apply_entry
from cohort.vocab import Channel, ExportKind, Timepoint
from tests.api.conftest import PASSWORD, TestClient, World, fixed_key_settings
from tests.conftest import TODAY
from tests.excel.test_redcap_migration import _m0, export
from tests.factories import Factory, questionnaire_answers
from tests.ops.conftest import AppDatabase, seed_world

# Tables whose rows belong to a centre, directly or through their participant.
SCOPED = ["participant", "questionnaire", "aerli_session", "session_staff", "status_change",
          "deviation", "screening", "read_log", "audit_entry"]


@pytest.fixture
def seeded(app_database: AppDatabase) -> Iterator[tuple[AppDatabase, World]]:
    yield app_database, seed_world(app_database.owner_url)


def _counts(connection: sa.Connection) -> dict[str, int]:
    count = "SELECT count(*) FROM "
    return {table: connection.execute(sa.text(count + table)).scalar_one() for table in SCOPED}


def test_a_raw_query_on_an_outreach_workers_connection_sees_only_their_centre(
        seeded: tuple[AppDatabase, World]) -> None:
    db, world = seeded
    assert world.pa is not None and world.pb is not None
    with engine_for(db.owner_url).connect() as owner:
        everything = _counts(owner)
    assert all(everything[t] >= 2 for t in SCOPED if t not in ("read_log", "screening"))

    app = engine_for(db.app_url)
    with app.connect() as connection:
        assert _counts(connection)["participant"] == 0  # nobody said who asks: nothing
    with app.connect() as connection, connection.begin():
        connection.execute(sa.text("SELECT set_config('cohort.centres', :c, true)"),
                           {"c": str(world.a.id)})
        mine = _counts(connection)
        codes = connection.execute(sa.text("SELECT code FROM participant")).scalars().all()
        centres = set(connection.execute(sa.text(
            "SELECT DISTINCT p.centre_id FROM questionnaire q JOIN participant p "
            "ON p.id = q.participant_id")).scalars())
        audited = set(connection.execute(sa.text(
            "SELECT record_id FROM audit_entry WHERE table_name = 'participant'")).scalars())
    assert codes == [world.pa.code]
    assert centres == {world.a.id}
    assert audited == {world.pa.id}
    for table in ("participant", "questionnaire", "aerli_session", "deviation"):
        assert 0 < mine[table] < everything[table], table
    with app.connect() as connection, connection.begin():
        connection.execute(sa.text("SELECT set_config('cohort.centres', '*', true)"))
        assert _counts(connection) == everything
    # The setting is transaction-local: the pooled connection carries nothing over.
    with app.connect() as connection:
        assert _counts(connection)["participant"] == 0


def test_the_application_role_cannot_write_for_another_centre_nor_delete_history(
        seeded: tuple[AppDatabase, World]) -> None:
    db, world = seeded
    assert world.pb is not None
    app = engine_for(db.app_url)
    with pytest.raises(sa.exc.ProgrammingError, match="row-level security"), \
            app.connect() as connection, connection.begin():
        connection.execute(sa.text("SELECT set_config('cohort.centres', :c, true)"),
                           {"c": str(world.a.id)})
        connection.execute(sa.text(
            "INSERT INTO questionnaire (participant_id, staff_id, timepoint, visit_date, "
            "answers, completeness, in_window, version, created_at, updated_at) VALUES "
            "(:p, 1, 'M6', CURRENT_DATE, '{}', 0, true, 1, now(), now())"),
            {"p": world.pb.id})
    with app.connect() as connection, connection.begin():
        connection.execute(sa.text("SELECT set_config('cohort.centres', :c, true)"),
                           {"c": str(world.a.id)})
        changed = connection.execute(sa.text(
            "UPDATE participant SET version = version + 1 WHERE id = :p"), {"p": world.pb.id})
        assert changed.rowcount == 0  # another centre's row is not there to update
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), \
            app.connect() as connection, connection.begin():
        connection.execute(sa.text("SELECT set_config('cohort.centres', '*', true)"))
        connection.execute(sa.text("DELETE FROM questionnaire"))


def test_a_session_scoped_to_a_person_sees_their_centres_in_every_transaction(
        seeded: tuple[AppDatabase, World]) -> None:
    db, world = seeded
    with Session(engine_for(db.app_url)) as session:
        session.exec(select(Participant)).all()  # a transaction opened before sign-in
        scope_session(session, frozenset({world.a.id or 0}))
        assert [p.code for p in session.exec(select(Participant)).all()] == [world.pa.code]
        session.commit()  # a new transaction: scoped again
        assert [p.code for p in session.exec(select(Participant)).all()] == [world.pa.code]
        scope_session(session, None)
        assert len(session.exec(select(Participant)).all()) == 2


def test_the_application_works_as_its_role(seeded: tuple[AppDatabase, World]) -> None:
    """Sign-in, lists, a save with its audit and deviations, the retention page and API:
    the whole web application connected as the role under the policies."""
    db, world = seeded
    assert world.pa is not None and world.pb is not None
    settings = fixed_key_settings().model_copy(update={"database_url": db.app_url})
    app = create_app(settings, engine=engine_for(db.app_url), today=lambda: TODAY)
    with TestClient(app) as client:
        def token(username: str) -> dict[str, str]:
            got = client.post("/api/v1/auth/token",
                              data={"username": username, "password": PASSWORD})
            assert got.status_code == 200, got.text
            return {"Authorization": f"Bearer {got.json()['access_token']}"}

        worker = token("worker.a")
        listed = client.get("/api/v1/participants", headers=worker).json()
        assert [p["code"] for p in listed["data"]] == [world.pa.code]
        assert client.get(f"/api/v1/participants/{world.pb.code}",
                          headers=worker).status_code == 404
        visit = world.pa.inclusion_date + timedelta(days=182)
        saved = client.post(f"/api/v1/participants/{world.pa.code}/questionnaires/M6",
                            headers=worker,
                            json={"answers": questionnaire_answers(visit, Timepoint("M6"))})
        assert saved.status_code == 201, saved.text
        history = client.get(f"/api/v1/participants/{world.pa.code}/history", headers=worker)
        assert history.status_code == 200 and len(history.json()) > 2
        officer = token("officer")
        rows = client.get("/api/v1/retention", headers=officer).json()
        assert {r["centre_code"]: r["visits"][1]["done"] for r in rows} == {"C01": 1, "C02": 0}
        mine = client.get("/api/v1/retention", headers=worker).json()
        assert [r["centre_code"] for r in mine] == ["C01"]


def _made_by_people(url: str, world: World) -> dict[str, set[object]]:
    """Committed as the owner: per table, the rows of centre A (a's worker, a's participant,
    an export of C01 only) among B's, national staff's and every centre's; returns the
    keys of A's rows."""
    assert world.pa is not None and world.pb is not None
    worker_a, worker_b = world.users["worker_a"].staff.id, world.users["worker_b"].staff.id
    officer = world.users["officer"].staff.id
    with Session(engine_for(url), expire_on_commit=False) as session:
        links = [ExternalRecord(source="redcap", external_id=f"r{p.id}", participant_id=p.id)
                 for p in (world.pa, world.pb) if p.id is not None]
        batches = [ImportBatch(file_digest=f"d{i}", filename=f"f{i}.xlsx", kind="enrolment",
                               actor_id=who) for i, who in enumerate(
                                   (worker_a, worker_b, officer, None))]
        receipts = [SyncReceipt(entry_uuid=f"00000000-0000-0000-0000-00000000000{i}",
                                staff_id=who, kind="enrolment")
                    for i, who in enumerate((worker_a, worker_b, officer))]
        exports = [ExportLog(actor_id=worker_a, actor_name="x", channel=Channel.WEB,
                             kind=ExportKind.EXPORT, fmt="csv", centre_codes=codes)
                   for codes in (["C01"], ["C02"], None, ["C01", "C02"], [])]
        session.add_all([*links, *batches, *receipts, *exports])
        session.commit()
        return {"external_record": {links[0].id}, "import_batch": {batches[0].id},
                "sync_receipt": {receipts[0].entry_uuid}, "export_log": {exports[0].id}}


_KEYS = {"external_record": "id", "import_batch": "id", "sync_receipt": "entry_uuid",
         "export_log": "id"}


def _keys(connection: sa.Connection) -> dict[str, set[object]]:
    select_ = "SELECT {} FROM {}"
    return {table: set(connection.execute(sa.text(select_.format(key, table))).scalars())
            for table, key in _KEYS.items()}


def test_links_batches_receipts_and_exports_of_another_centre_are_not_seen(
        seeded: tuple[AppDatabase, World]) -> None:
    """A REDCap link through its participant, an import batch and a phone's receipt
    through the person who made them, an export through the centres it covered; those of
    national staff, of the command line and of every centre only with every centre."""
    db, world = seeded
    mine = _made_by_people(db.owner_url, world)
    with engine_for(db.owner_url).connect() as owner:
        everything = _keys(owner)
    app = engine_for(db.app_url)
    with app.connect() as connection:
        assert _keys(connection) == dict.fromkeys(_KEYS, set())
    with app.connect() as connection, connection.begin():
        connection.execute(sa.text("SELECT set_config('cohort.centres', :c, true)"),
                           {"c": str(world.a.id)})
        assert _keys(connection) == mine
    with app.connect() as connection, connection.begin():
        connection.execute(sa.text("SELECT set_config('cohort.centres', '*', true)"))
        assert _keys(connection) == everything
    assert all(len(everything[t]) > len(mine[t]) for t in _KEYS)


def test_a_record_linked_to_another_centre_is_refused_by_name_not_a_server_error(
        seeded: tuple[AppDatabase, World]) -> None:
    """Rule scope.other_centre: the link, hidden from worker A, still refuses the record."""
    db, world = seeded
    assert world.pb is not None and world.pb.id is not None
    with Session(engine_for(db.owner_url)) as session:
        session.add(ExternalRecord(source="redcap", external_id="101",
                                   participant_id=world.pb.id))
        session.commit()
    with engine_for(db.owner_url).connect() as owner:
        before = _counts(owner)
    m0 = _m0(cast(Factory, SimpleNamespace(today=TODAY)), "101")
    data = export([m0 | {"redcap_data_access_group": "c01"}])  # worker A's centre
    with Session(engine_for(db.app_url)) as session:
        actor = load_actor(session, world.users["worker_a"].staff.id or 0)
        scope_session(session, actor.centre_ids)
        report = import_file(session, actor=actor, data=data, filename="export.csv", on=TODAY)
    [problem] = report.problems
    assert (problem.row, problem.rule) == (2, "scope.other_centre"), problem
    assert "Record 101" in problem.text and world.pb.code not in problem.text
    with engine_for(db.owner_url).connect() as owner:
        assert _counts(owner) == before


def test_an_entry_id_used_by_another_centres_phone_is_refused_by_name_not_saved_twice(
        seeded: tuple[AppDatabase, World]) -> None:
    """sync.id_taken and sync.once when the other receipt is hidden from the sender."""
    db, world = seeded
    enrolment = {"age": "31", "injected_past_month": "1", "wish_neck_groin": "0",
                 "consent": "1", "consent_date": TODAY.isoformat(),
                 "inclusion_date": TODAY.isoformat(), "year_of_birth": "1995", "gender": "1",
                 "reached_via": "1", "study_group": "1"}
    item = OfflineEntry(uuid=str(uuid.uuid4()), kind="enrolment", answers=enrolment)
    app = engine_for(db.app_url)

    def send(who: str) -> EntryOutcome:
        with Session(app) as session:
            actor = load_actor(session, world.users[who].staff.id or 0)
            scope_session(session, actor.centre_ids)
            return apply_entry(session, actor=actor, entry=item, on=TODAY)

    assert send("worker_b").outcome == "saved"
    with engine_for(db.owner_url).connect() as owner:
        before = _counts(owner)
    taken = send("worker_a")
    assert (taken.outcome, taken.rule_id) == ("refused", "sync.id_taken"), taken
    again = send("worker_b")  # worker B's own resend still finds its receipt
    assert again.outcome == "already_saved", again
    with engine_for(db.owner_url).connect() as owner:
        assert _counts(owner) == before


def test_an_import_a_phone_entry_and_an_export_are_written_as_the_role(
        seeded: tuple[AppDatabase, World]) -> None:
    """The policies let a worker write what their own work leaves (an import batch, a
    REDCap link and its audit entry, a receipt, an export-log entry) and read it back;
    the other centre's worker sees none of it."""
    db, world = seeded
    assert world.pa is not None
    m0 = _m0(cast(Factory, SimpleNamespace(today=TODAY)), "201")
    data = export([m0 | {"redcap_data_access_group": "c01"}])
    item = OfflineEntry(uuid=str(uuid.uuid4()), kind="status", participant=world.pa.code,
                        answers={"fu_status": "2", "fu_status_date": TODAY.isoformat(),
                                 "fu_reason": "moved"})
    app = engine_for(db.app_url)
    with Session(app) as session:
        actor = load_actor(session, world.users["worker_a"].staff.id or 0)
        scope_session(session, actor.centre_ids)
        report = import_file(session, actor=actor, data=data, filename="export.csv", on=TODAY)
        assert report.problems == [] and report.written == 2, report.problems
        assert apply_entry(session, actor=actor, entry=item, on=TODAY).outcome == "saved"
        logged = record_export(session, actor=actor, actor_name="worker.a",
                               channel=Channel.WEB, kind=ExportKind.EXPORT, fmt="csv", rows=1,
                               centre_codes=visible_codes(session, actor))
        assert logged.id is not None
        again = import_file(session, actor=actor, data=data, filename="export.csv", on=TODAY)
        assert again.already_imported is not None  # its own batch is found
        seen = _keys(session.connection())
        audited = session.exec(select(AuditEntry.record_id).where(
            AuditEntry.table_name == "external_record")).all()
    assert all(len(seen[t]) == 1 for t in _KEYS), seen
    assert audited == list(seen["external_record"])
    with app.connect() as connection, connection.begin():
        connection.execute(sa.text("SELECT set_config('cohort.centres', :c, true)"),
                           {"c": str(world.b.id)})
        assert _keys(connection) == dict.fromkeys(_KEYS, set())
        assert connection.execute(sa.text(
            "SELECT count(*) FROM audit_entry WHERE table_name = 'external_record'")
        ).scalar() == 0


def test_a_file_another_centre_imported_is_known_as_imported_not_checked_again(
        seeded: tuple[AppDatabase, World]) -> None:
    """The same file twice writes nothing, whoever imported it first, as on SQLite: the
    batch of worker A is hidden from worker B, its date is not (cohort_imported_at)."""
    db, world = seeded
    m0 = _m0(cast(Factory, SimpleNamespace(today=TODAY)), "301")
    data = export([m0 | {"redcap_data_access_group": "c01"}])
    app = engine_for(db.app_url)

    def import_as(who: str) -> object:
        with Session(app) as session:
            actor = load_actor(session, world.users[who].staff.id or 0)
            scope_session(session, actor.centre_ids)
            report = import_file(session, actor=actor, data=data, filename="export.csv",
                                 on=TODAY)
            session.commit()
            return report

    first = import_as("worker_a")
    assert first.written == 2 and first.already_imported is None  # type: ignore[attr-defined]
    with engine_for(db.owner_url).connect() as owner:
        before = _counts(owner)
        when = owner.execute(sa.text("SELECT imported_at FROM import_batch")).scalar_one()
    with app.connect() as connection, connection.begin():  # hidden from worker B ...
        connection.execute(sa.text("SELECT set_config('cohort.centres', :c, true)"),
                           {"c": str(world.b.id)})
        assert connection.execute(sa.text("SELECT count(*) FROM import_batch")).scalar() == 0
    again = import_as("worker_b")  # ... and yet known as imported, on that date
    assert again.already_imported == when, again  # type: ignore[attr-defined]
    assert again.problems == [] and again.written == 0  # type: ignore[attr-defined]
    with engine_for(db.owner_url).connect() as owner:
        assert _counts(owner) == before
