"""The role × centre access matrix, every pair tried, on SQLite and PostgreSQL.

Rules cited: ``scope.other_centre`` (another centre's participant, deviation or centre reads
as unknown: 404 with the same body as a code that does not exist, and enrolling into another
centre is refused: 403), ``scope.role`` (statisticians never write; only research officers
and data managers review deviations; only data managers administer). Centre A is C01,
centre B is C02; ``officer_b`` is a research officer limited to C02. Every request that
names a centre is sent for both centres, so each role meets each centre it may not see.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from cohort.models import Account, Deviation, Participant, StaffCreate
from cohort.services.context import COMMAND_LINE
from cohort.services.setup import create_staff
from cohort.vocab import Group, Role, Timepoint
from tests.api.conftest import PASSWORD, World
from tests.conftest import TODAY
from tests.factories import Factory, questionnaire_answers

ROLES = ["worker_a", "worker_a2", "worker_b", "officer", "officer_b", "statistician", "admin"]
CENTRES = ["C01", "C02"]
# Centres each role may see (roles not listed see every centre).
VISIBLE = {"worker_a": {"C01"}, "worker_a2": {"C01"}, "worker_b": {"C02"},
           "officer_b": {"C02"}}
REVIEWERS = {"officer", "officer_b", "admin"}


def sees(role: str, centre: str) -> bool:
    return centre in VISIBLE.get(role, set(CENTRES))


# Expected status of a kind of request, for a role and the centre the request is about.
def read(role: str, centre: str) -> int:
    return 200 if sees(role, centre) else 404


def history(role: str, centre: str) -> int:
    return 403 if role == "statistician" else read(role, centre)


def write(role: str, centre: str) -> int:
    return 403 if role == "statistician" else read(role, centre)


def create(role: str, centre: str) -> int:
    status = write(role, centre)
    return 201 if status == 200 else status


def enrol(role: str, centre: str) -> int:
    return 201 if role != "statistician" and sees(role, centre) else 403


def review(role: str, centre: str) -> int:
    return read(role, centre) if role in REVIEWERS else 403


def anyone(role: str, centre: str) -> int:
    return 200


def admin_only(role: str, centre: str) -> int:
    return 200 if role == "admin" else 403


def admin_creates(role: str, centre: str) -> int:
    return 201 if role == "admin" else 403


@dataclass
class Target:
    """What a request about one centre needs: its codes, ids and a valid body's parts."""

    centre: str
    code: str
    group: Group
    inclusion: Any
    deviation: int
    m0_version: int
    staff_ids: list[int]


Body = Callable[[Target, dict[str, Any]], Any] | None
Expect = Callable[[str, str], int]
Request = tuple[str, str, Body, Expect]


def _session_body(t: Target, ctx: dict[str, Any]) -> dict[str, Any]:
    return {"session_date": (t.inclusion + timedelta(days=20)).isoformat(),
            "setting": "squat", "modality": "in_person", "injection_site": "arm",
            "staff_ids": t.staff_ids}


def _m6_body(t: Target, ctx: dict[str, Any]) -> dict[str, Any]:
    visit = t.inclusion + timedelta(days=182)
    return {"answers": questionnaire_answers(visit, Timepoint("M6"))}


def _m0_update(t: Target, ctx: dict[str, Any]) -> dict[str, Any]:
    return {"version": t.m0_version,
            "answers": questionnaire_answers(t.inclusion, Timepoint("M0"), inj_freq="2")}


def _enrolment(t: Target, ctx: dict[str, Any]) -> dict[str, Any]:
    return {"centre_code": t.centre, "age": 30, "injected_past_month": True,
            "wish_neck_groin": False, "consent": True, "consent_date": TODAY.isoformat(),
            "inclusion_date": TODAY.isoformat(), "group": "comparison"}


# Requests about one centre, sent for C01 and for C02 ({code}, {centre}, {deviation}).
# Order matters: reads first, then writes; acknowledge before resolve.
CENTRE_REQUESTS: list[Request] = [
    ("GET", "/participants/{code}", None, read),
    ("GET", "/participants/{code}/questionnaires", None, read),
    ("GET", "/participants/{code}/questionnaires/M0", None, read),
    ("GET", "/participants/{code}/sessions", None, read),
    ("GET", "/participants/{code}/status", None, read),
    ("GET", "/participants/{code}/deviations", None, read),
    ("GET", "/participants/{code}/history", None, history),
    ("GET", "/centres/{centre}", None, read),
    ("GET", "/centres/{centre}/retention", None, read),
    ("GET", "/worklist?centre={centre}", None, read),
    ("GET", "/participants?centre={centre}", None, read),
    ("GET", "/staff?centre={centre}", None, read),
    ("GET", "/deviations?centre={centre}", None, read),
    ("GET", "/deviations/{deviation}", None, read),
    ("PUT", "/participants/{code}/questionnaires/M0", _m0_update, write),
    ("POST", "/participants/{code}/sessions", _session_body, create),
    ("POST", "/participants/{code}/questionnaires/M6", _m6_body, create),
    ("PUT", "/participants/{code}/group", lambda t, c: {"group": t.group.value}, write),
    ("POST", "/participants/{code}/status",
     lambda t, c: {"status": "lost_to_follow_up", "effective_date": TODAY.isoformat()},
     create),
    ("POST", "/participants", _enrolment, enrol),
    ("POST", "/deviations/{deviation}/acknowledge", lambda t, c: {"comment": "seen"}, review),
    ("POST", "/deviations/{deviation}/resolve",
     lambda t, c: {"comment": "Talked it through with the team."}, review),
]

# Requests about no one centre: every role tries each once.
GLOBAL_REQUESTS: list[Request] = [
    ("GET", "/retention", None, anyone),
    ("GET", "/worklist", None, anyone),
    ("GET", "/participants", None, anyone),
    ("GET", "/deviations", None, anyone),
    ("GET", "/centres", None, anyone),
    ("POST", "/centres", lambda t, c: {"code": "C77", "name": "New", "city": "Caen"},
     admin_creates),
    ("POST", "/staff",
     lambda t, c: {"display_name": "New worker", "role": "outreach_worker",
                   "centre_id": c["centre_a_id"]}, admin_creates),
    ("GET", "/accounts", None, admin_only),
    ("POST", "/accounts",
     lambda t, c: {"staff_id": c["spare"], "username": "spare.one",
                   "password": "a long enough password"}, admin_creates),
    ("PATCH", "/accounts/{acct_b}", lambda t, c: {"active": True}, admin_only),
    ("PATCH", "/staff/{spare}", lambda t, c: {"aerli_trained_on": "2026-01-15"}, admin_only),
]


def _targets(session: Session, world: World, factory: Factory) -> dict[str, Target]:
    """One participant per centre with an M0 and an open deviation, and two staff each."""
    assert world.pa is not None and world.pb is not None
    b_partner = create_staff(session, actor=COMMAND_LINE, data=StaffCreate(
        display_name="Second worker of B", role=Role.OUTREACH_WORKER, centre_id=world.b.id,
        aerli_trained_on=TODAY - timedelta(days=900)))
    targets = {}
    for centre, participant, workers in (
        ("C01", world.pa, [world.users["worker_a"].staff, world.users["worker_a2"].staff]),
        ("C02", world.pb, [world.users["worker_b"].staff, b_partner]),
    ):
        actor = factory.actor(workers[0])
        m0 = factory.questionnaire(actor, participant, Timepoint("M0")).record
        # One trained worker only: raises session.trained_staff (and, for the comparison
        # participant of C02, session.comparison_group).
        saved = factory.aerli_session(actor, participant, staff=[workers[0]])
        deviation = next(d for d in saved.deviations if isinstance(d, Deviation))
        targets[centre] = Target(centre, participant.code, participant.group,
                                 participant.inclusion_date, deviation.id or 0, m0.version,
                                 [s.id or 0 for s in workers])
    return targets


def _globals(session: Session, world: World) -> dict[str, Any]:
    spare = create_staff(session, actor=COMMAND_LINE, data=StaffCreate(
        display_name="Spare", role=Role.OUTREACH_WORKER, centre_id=world.a.id))
    acct_b = session.exec(select(Account.id).where(Account.username == "worker.b")).one()
    return {"spare": spare.id, "acct_b": acct_b, "centre_a_id": world.a.id}


def _unknown(t: Target) -> Target:
    """The same request about nothing that exists: a code, centre and deviation never used."""
    return Target("C99", f"{t.centre}-0999-X", t.group, t.inclusion, 999_999, t.m0_version,
                  t.staff_ids)


def _problem_shape(body: dict[str, Any], *secrets: str) -> dict[str, Any]:
    """A problem body with the names asked about blanked, to compare two 404s."""
    pattern = re.compile("|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True)))
    out = dict(body)
    for key in ("detail", "instance"):
        out[key] = pattern.sub("X", str(out.get(key, "")))
    return out


@pytest.mark.parametrize("role", ROLES)
def test_role_by_centre_matrix(role: str, client: TestClient, world: World, session: Session,
                               factory: Factory) -> None:
    """scope.other_centre, scope.role: every request, for each centre, has the status its
    role and centre call for; each 404 is indistinguishable from one for an unknown code."""
    targets = _targets(session, world, factory)
    ctx = _globals(session, world)
    mismatches = []
    tried_forbidden = 0

    def send(method: str, template: str, body: Body, t: Target) -> Any:
        path = "/api/v1" + template.format(code=t.code, centre=t.centre,
                                           deviation=t.deviation, **ctx)
        payload = body(t, ctx) if body else None
        return client.request(method, path, json=payload, headers=world.h(role))

    for centre in CENTRES:
        t = targets[centre]
        for method, template, body, expect in CENTRE_REQUESTS:
            expected = expect(role, centre)
            response = send(method, template, body, t)
            label = f"{method} {template} [{centre}]"
            if response.status_code != expected:
                mismatches.append(f"{label}: {response.status_code} (expected {expected}) "
                                  f"{response.text[:200]}")
                continue
            if response.status_code >= 400:
                assert response.headers["content-type"].startswith("application/problem+json")
            if not sees(role, centre):
                tried_forbidden += 1
            if response.status_code == 404:
                unknown = _unknown(t)
                twin = send(method, template, body, unknown)
                secrets = (t.code, unknown.code, str(t.deviation), str(unknown.deviation),
                           t.centre, "C99")
                if twin.status_code != 404 or _problem_shape(response.json(), *secrets) \
                        != _problem_shape(twin.json(), *secrets):
                    mismatches.append(f"{label}: 404 differs from an unknown one: "
                                      f"{response.text[:200]} vs {twin.text[:200]}")
    for method, template, body, expect in GLOBAL_REQUESTS:
        expected = expect(role, "")
        response = send(method, template, body, targets["C01"])
        if response.status_code != expected:
            mismatches.append(f"{method} {template}: {response.status_code} "
                              f"(expected {expected}) {response.text[:200]}")
    assert not mismatches, "\n".join(mismatches)
    forbidden_centres = sum(not sees(role, c) for c in CENTRES)
    assert tried_forbidden == forbidden_centres * len(CENTRE_REQUESTS)


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




@pytest.mark.parametrize("role", ROLES)
def test_retention_lists_only_visible_centres(role: str, client: TestClient,
                                              world: World) -> None:
    """scope.other_centre: /retention without a filter has a row per centre the role may
    see and none other (a centre-limited officer and an outreach worker see theirs only)."""
    rows = client.get("/api/v1/retention", headers=world.h(role))
    assert rows.status_code == 200
    codes = [r["centre_code"] for r in rows.json()]
    assert codes == sorted(VISIBLE.get(role, set(CENTRES)))
    enrolled = {r["centre_code"]: r["enrolled"] for r in rows.json()}
    assert all(n == 1 for n in enrolled.values())


@pytest.mark.parametrize("role", ROLES)
def test_worklist_without_filter_stays_in_scope(role: str, client: TestClient, world: World,
                                                session: Session) -> None:
    """scope.other_centre: the unfiltered worklist holds the visits of visible centres only.

    Both participants were included 400 days ago, so each has an M6 and an M12 visit on it.
    """
    response = client.get("/api/v1/worklist", headers=world.h(role))
    assert response.status_code == 200
    items = response.json()
    visible = VISIBLE.get(role, set(CENTRES))
    assert {i["centre_code"] for i in items} == visible
    codes = dict(session.exec(select(Participant.code, Participant.centre_id)).all())
    centre_of = {world.a.id: "C01", world.b.id: "C02"}
    assert {i["code"] for i in items} == {c for c, cid in codes.items()
                                         if centre_of[cid] in visible}
    assert {(i["code"], i["timepoint"]) for i in items} >= {
        (c, tp) for c, cid in codes.items() if centre_of[cid] in visible for tp in ("M6", "M12")}
