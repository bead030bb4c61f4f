"""The read log and the export log on the web and the API (SQLite and PostgreSQL).

Every page or API request that shows one participant's records leaves exactly one read-log
entry; every download and API list page exactly one export-log entry; both are reviewed
per centre and per person, and neither can be rewritten.

Rules: export.no_purpose, scope.role (action access_log).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from cohort.models import ExportLog, ReadLog
from cohort.vocab import Channel, ExportKind
from tests.api.conftest import World
from tests.api.test_api_pages import sign_in
from tests.factories import Factory


def _reads(session: Session) -> list[ReadLog]:
    session.expire_all()
    return list(session.exec(select(ReadLog).order_by(col(ReadLog.id))).all())


def _exports(session: Session) -> list[ExportLog]:
    session.expire_all()
    return list(session.exec(select(ExportLog).order_by(col(ExportLog.id))).all())


@pytest.fixture
def answered(world: World, factory: Factory) -> World:
    """Centre A's participant with an M0 questionnaire and a session."""
    assert world.pa is not None
    worker = factory.actor(world.users["worker_a"].staff)
    factory.questionnaire(worker, world.pa)
    factory.aerli_session(worker, world.pa, staff=[world.users["worker_a"].staff,
                                                   world.users["worker_a2"].staff])
    return world


@pytest.mark.parametrize("path", ["", "/history", "/status", "/deviations", "/questionnaires",
                                  "/questionnaires/M0", "/sessions"])
def test_each_api_read_of_a_participant_leaves_exactly_one_entry(
        client: TestClient, answered: World, session: Session, path: str) -> None:
    code = answered.pa.code  # type: ignore[union-attr]
    before = len(_reads(session))
    response = client.get(f"/api/v1/participants/{code}{path}", headers=answered.h("officer"))
    assert response.status_code == 200, response.text
    added = _reads(session)[before:]
    assert len(added) == 1
    entry = added[0]
    assert entry.participant_id == answered.pa.id  # type: ignore[union-attr]
    assert entry.centre_id == answered.a.id
    assert entry.actor_id == answered.users["officer"].staff.id
    assert entry.channel is Channel.API
    assert entry.what == f"/api/v1/participants/{{code}}{path.replace('M0', '{timepoint}')}"
    assert entry.client  # the test client's address


@pytest.mark.parametrize("path", ["", "/history", "/questionnaires/M0"])
def test_each_page_of_a_participant_leaves_exactly_one_entry(
        client: TestClient, answered: World, session: Session, path: str) -> None:
    sign_in(client, "worker.a")
    before = len(_reads(session))
    code = answered.pa.code  # type: ignore[union-attr]
    assert client.get(f"/participants/{code}{path}").status_code == 200
    added = _reads(session)[before:]
    assert [(e.channel, e.actor_id) for e in added] == [
        (Channel.WEB, answered.users["worker_a"].staff.id)]


def test_nothing_is_logged_for_a_participant_one_may_not_see(
        client: TestClient, world: World, session: Session) -> None:
    before = len(_reads(session))
    other = client.get(f"/api/v1/participants/{world.pb.code}",  # type: ignore[union-attr]
                       headers=world.h("worker_a"))
    unknown = client.get("/api/v1/participants/C01-0999-X/history",
                         headers=world.h("worker_a"))
    assert other.status_code == unknown.status_code == 404
    refused = client.get(f"/api/v1/participants/{world.pa.code}/history",  # type: ignore[union-attr]
                         headers=world.h("statistician"))
    assert refused.status_code == 403
    assert len(_reads(session)) == before + 1  # the statistician reached the participant


def test_an_api_list_page_is_one_export_entry(
        client: TestClient, world: World, session: Session) -> None:
    before = len(_exports(session))
    response = client.get("/api/v1/participants", params={"limit": 1},
                          headers={**world.h("officer"), "X-Purpose": "Monitoring"})
    assert response.status_code == 200
    added = _exports(session)[before:]
    assert len(added) == 1
    entry = added[0]
    assert (entry.kind, entry.channel, entry.fmt, entry.rows) == (
        ExportKind.API_PAGE, Channel.API, "json", 1)
    assert "code" in entry.fields and entry.purpose == "Monitoring"
    assert entry.centre_codes is None  # a national officer: every centre
    assert entry.actor_name == "officer"
    scoped = client.get("/api/v1/deviations", headers=world.h("officer_b"))
    assert scoped.status_code == 200
    last = _exports(session)[-1]
    assert last.centre_codes == ["C02"] and last.kind is ExportKind.API_PAGE
    assert client.get("/api/v1/worklist", headers=world.h("worker_a")).status_code == 200
    assert _exports(session)[-1].centre_codes == ["C01"]


def test_web_downloads_are_logged_and_the_full_report_needs_a_purpose(
        client: TestClient, world: World, session: Session) -> None:
    sign_in(client, "officer")
    before = len(_exports(session))
    got = client.get("/workbooks/template", params={"centre": "C01", "kind": "questionnaire",
                                                     "timepoint": "M6"})
    assert got.status_code == 200
    template = _exports(session)[before:]
    assert [(e.kind, e.channel, e.centre_codes) for e in template] == [
        (ExportKind.TEMPLATE, Channel.WEB, ["C01"])]
    refused = client.get("/workbooks/report.xlsx")
    assert refused.status_code == 422 and "what this export" in refused.text
    assert len(_exports(session)) == before + 1
    report = client.get("/workbooks/report.xlsx", params={"purpose": "Sponsor report"})
    assert report.status_code == 200
    entry = _exports(session)[-1]
    assert (entry.kind, entry.purpose, entry.fmt) == (ExportKind.REPORT, "Sponsor report",
                                                      "xlsx")
    assert "Participant" in entry.fields


def test_the_access_log_page_per_centre_and_per_person(
        client: TestClient, answered: World, session: Session) -> None:
    for who, person in (("worker_a", answered.pa), ("worker_b", answered.pb)):
        client.get(f"/api/v1/participants/{person.code}",  # type: ignore[union-attr]
                   headers=answered.h(who))
    sign_in(client, "officer.b")
    own = client.get("/access-log")
    assert own.status_code == 200
    assert answered.pb.code in own.text  # type: ignore[union-attr]
    assert answered.pa.code not in own.text  # type: ignore[union-attr]
    assert client.get("/access-log", params={"log": "exports"}).status_code == 403
    client.post("/logout", data={"csrf_token": ""})
    client.cookies.clear()
    sign_in(client, "admin")
    everything = client.get("/access-log")
    assert answered.pa.code in everything.text and answered.pb.code in everything.text  # type: ignore[union-attr]
    one = client.get("/access-log", params={"staff": answered.users["worker_a"].staff.id})
    assert answered.pa.code in one.text and answered.pb.code not in one.text  # type: ignore[union-attr]
    exports = client.get("/access-log", params={"log": "exports"})
    assert exports.status_code == 200 and 'id="access-table"' in exports.text
    client.cookies.clear()
    sign_in(client, "worker.a")
    assert client.get("/access-log").status_code == 403


@pytest.mark.parametrize("table", ["read_log", "export_log"])
def test_the_logs_cannot_be_rewritten(client: TestClient, world: World, session: Session,
                                      table: str) -> None:
    client.get(f"/api/v1/participants/{world.pa.code}", headers=world.h("officer"))  # type: ignore[union-attr]
    client.get("/api/v1/participants", headers=world.h("officer"))
    assert session.exec(select(func.count()).select_from(sa.table(table))).one() > 0
    for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):  # noqa: S608
        nested = session.begin_nested()
        with pytest.raises(sa.exc.DBAPIError, match="(?i)append-only|never rewritten"):
            session.execute(sa.text(statement))
        nested.rollback()

