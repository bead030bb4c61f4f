"""The role × centre access matrix, every pair tried, on SQLite and PostgreSQL.

Rules cited: ``scope.other_centre`` (another centre's participant reads as unknown: 404,
and enrolling into another centre is refused: 403), ``scope.role`` (statisticians never
write; only research officers and data managers review deviations; only data managers
administer). Centre A is C01, centre B is C02; ``officer_b`` is a research officer limited
to C02.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from cohort.models import Deviation, StaffCreate
from cohort.services.setup import create_staff
from cohort.vocab import Role
from tests.api.conftest import PASSWORD, World
from tests.conftest import TODAY
from tests.factories import Factory, questionnaire_answers

ROLES = ["worker_a", "worker_a2", "worker_b", "officer", "officer_b", "statistician", "admin"]

# Expected status per kind of request and role.
OK = dict.fromkeys(ROLES, 200)
READ_A = {**OK, "worker_b": 404, "officer_b": 404}
HISTORY_A = {**READ_A, "statistician": 403}
WRITE_A = {**READ_A, "statistician": 403}
CREATED_A = {r: (201 if s == 200 else s) for r, s in WRITE_A.items()}
ENROL_A = {**CREATED_A, "worker_b": 403, "officer_b": 403}
ADMIN_ONLY = dict.fromkeys(ROLES, 403) | {"admin": 200}
ADMIN_CREATES = dict.fromkeys(ROLES, 403) | {"admin": 201}
REVIEW_A = dict.fromkeys(ROLES, 403) | {"officer": 200, "admin": 200, "officer_b": 404}

Request = tuple[str, str, Callable[[World, dict[str, Any]], Any] | None, dict[str, int]]


def _session_body(w: World, ctx: dict[str, Any]) -> dict[str, Any]:
    return {"session_date": (w.pa.inclusion_date + timedelta(days=20)).isoformat(),  # type: ignore[union-attr]
            "setting": "squat", "modality": "in_person", "injection_site": "arm",
            "staff_ids": [w.users["worker_a"].staff.id, w.users["worker_a2"].staff.id]}


def _m6_body(w: World, ctx: dict[str, Any]) -> dict[str, Any]:
    from cohort.vocab import Timepoint

    visit = w.pa.inclusion_date + timedelta(days=182)  # type: ignore[union-attr]
    return {"answers": questionnaire_answers(visit, Timepoint.M6)}


REQUESTS: list[Request] = [
    ("GET", "/participants/{pa}", None, READ_A),
    ("GET", "/participants/{pa}/questionnaires", None, READ_A),
    ("GET", "/participants/{pa}/sessions", None, READ_A),
    ("GET", "/participants/{pa}/status", None, READ_A),
    ("GET", "/participants/{pa}/deviations", None, READ_A),
    ("GET", "/participants/{pa}/history", None, HISTORY_A),
    ("GET", "/centres/C01", None, READ_A),
    ("GET", "/centres/C01/retention", None, READ_A),
    ("GET", "/worklist?centre=C01", None, READ_A),
    ("GET", "/participants?centre=C01", None, READ_A),
    ("GET", "/staff?centre=C01", None, READ_A),
    ("GET", "/deviations?centre=C01", None, READ_A),
    ("GET", "/deviations/{dev_a}", None, READ_A),
    ("POST", "/participants/{pa}/sessions", _session_body, CREATED_A),
    ("POST", "/participants/{pa}/questionnaires/M6", _m6_body, CREATED_A),
    ("PUT", "/participants/{pa}/group", lambda w, c: {"group": "intervention"}, WRITE_A),
    ("POST", "/participants/{pa}/status",
     lambda w, c: {"status": "lost_to_follow_up", "effective_date": TODAY.isoformat()},
     CREATED_A),
    ("POST", "/participants",
     lambda w, c: {"centre_code": "C01", "age": 30, "injected_past_month": True,
                   "wish_neck_groin": False, "consent": True,
                   "consent_date": TODAY.isoformat(), "inclusion_date": TODAY.isoformat(),
                   "group": "comparison"},
     ENROL_A),
    ("POST", "/deviations/{dev_a}/acknowledge", lambda w, c: {"comment": "seen"}, REVIEW_A),
    ("POST", "/centres", lambda w, c: {"code": "C77", "name": "New", "city": "Caen"},
     ADMIN_CREATES),
    ("POST", "/staff",
     lambda w, c: {"display_name": "New worker", "role": "outreach_worker",
                   "centre_id": w.a.id}, ADMIN_CREATES),
    ("GET", "/accounts", None, ADMIN_ONLY),
    ("POST", "/accounts",
     lambda w, c: {"staff_id": c["spare"], "username": "spare.one",
                   "password": "a long enough password"}, ADMIN_CREATES),
    ("PATCH", "/accounts/{acct_b}", lambda w, c: {"active": True}, ADMIN_ONLY),
]


def _context(session: Session, world: World, factory: Factory) -> dict[str, Any]:
    assert world.pa is not None and world.pb is not None
    worker_a = factory.actor(world.users["worker_a"].staff)
    # One trained worker only: raises session.trained_staff in centre A.
    saved = factory.aerli_session(worker_a, world.pa, staff=[world.users["worker_a"].staff])
    dev = next(d for d in saved.deviations if isinstance(d, Deviation))
    spare = create_staff(session, actor=None, data=StaffCreate(
        display_name="Spare", role=Role.OUTREACH_WORKER, centre_id=world.a.id))
    from sqlmodel import select

    from cohort.models import Account

    acct_b = session.exec(select(Account.id).where(Account.username == "worker.b")).one()
    return {"pa": world.pa.code, "pb": world.pb.code, "dev_a": dev.id, "spare": spare.id,
            "acct_b": acct_b}


@pytest.mark.parametrize("role", ROLES)
def test_role_by_centre_matrix(role: str, client: TestClient, world: World, session: Session,
                               factory: Factory) -> None:
    ctx = _context(session, world, factory)
    mismatches = []
    for method, template, body, expected in REQUESTS:
        path = "/api/v1" + template.format(**ctx)
        payload = body(world, ctx) if body else None
        response = client.request(method, path, json=payload, headers=world.h(role))
        if response.status_code != expected[role]:
            mismatches.append(f"{method} {template}: {response.status_code} "
                              f"(expected {expected[role]}) {response.text[:200]}")
        elif response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")
    assert not mismatches, "\n".join(mismatches)


def test_other_centre_reads_exactly_like_unknown_code(client: TestClient, world: World) -> None:
    """scope.other_centre: no way to learn that another centre's code exists."""
    assert world.pb is not None
    unknown = "C02-0999-X"
    for suffix in ("", "/questionnaires", "/sessions", "/history", "/status"):
        real = client.get(f"/api/v1/participants/{world.pb.code}{suffix}",
                          headers=world.h("worker_a"))
        fake = client.get(f"/api/v1/participants/{unknown}{suffix}", headers=world.h("worker_a"))
        assert real.status_code == fake.status_code == 404
        a, b = real.json(), fake.json()
        assert a["detail"].replace(world.pb.code, "CODE") == b["detail"].replace(unknown, "CODE")
        assert {k: v for k, v in a.items() if k not in ("detail", "instance")} == \
            {k: v for k, v in b.items() if k not in ("detail", "instance")}


def test_worker_lists_only_own_centre(client: TestClient, world: World) -> None:
    body = client.get("/api/v1/participants", headers=world.h("worker_a")).json()
    assert body["count"] == 1 and body["data"][0]["code"] == world.pa.code  # type: ignore[union-attr]
    centres = client.get("/api/v1/centres", headers=world.h("worker_a")).json()
    assert [c["code"] for c in centres] == ["C01"]
    officer_b = client.get("/api/v1/centres", headers=world.h("officer_b")).json()
    assert [c["code"] for c in officer_b] == ["C02"]
    national = client.get("/api/v1/retention", headers=world.h("officer")).json()
    assert {r["centre_code"] for r in national} >= {"C01", "C02"}


def test_statistician_refused_every_write_with_rule_id(client: TestClient, world: World) -> None:
    response = client.put(f"/api/v1/participants/{world.pa.code}/group",  # type: ignore[union-attr]
                          json={"group": "intervention"}, headers=world.h("statistician"))
    assert response.status_code == 403
    assert response.json()["rule_id"] == "scope.role"


def test_statistician_sees_no_staff_names(client: TestClient, world: World) -> None:
    rows = client.get("/api/v1/staff", headers=world.h("statistician")).json()
    assert rows and all(r["display_name"] is None for r in rows)
    named = client.get("/api/v1/staff", headers=world.h("officer")).json()
    assert any(r["display_name"] for r in named)


@pytest.mark.parametrize("path", ["/api/v1/participants", "/api/v1/retention",
                                  "/api/v1/deviations", "/api/v1/auth/me", "/api/v1/centres"])
def test_no_token_is_401_problem(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["type"] == "/problems/not-signed-in"


def test_page_cookie_does_not_open_the_api(client: TestClient, world: World) -> None:
    """The API takes bearer tokens only, so a page session cannot be used cross-site."""
    login = client.get("/login")
    token = login.text.split('name="csrf_token" value="')[1].split('"')[0]
    signed = client.post("/login", data={"username": "worker.a", "password": PASSWORD,
                                         "csrf_token": token}, follow_redirects=False)
    assert signed.status_code == 303
    assert client.get("/participants").status_code == 200
    assert client.get("/api/v1/participants").status_code == 401


