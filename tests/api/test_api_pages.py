"""Server-rendered pages: sign-in, CSRF, scoping, data entry and the officer's queue."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from cohort.models import Deviation
from tests.api.conftest import PASSWORD, World
from tests.factories import Factory, questionnaire_answers

BANNED = re.compile(r"\b(addicts?|abusers?|junkies|clean|dirty)\b", re.IGNORECASE)


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def sign_in(client: TestClient, username: str) -> str:
    token = csrf(client.get("/login").text)
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def test_pages_need_sign_in(client: TestClient) -> None:
    response = client.get("/retention", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/retention"


def test_wrong_password_and_missing_csrf(client: TestClient, world: World) -> None:
    token = csrf(client.get("/login").text)
    bad = client.post("/login", data={"username": "worker.a", "password": "nope",
                                      "csrf_token": token})
    assert bad.status_code == 401 and "do not match" in bad.text
    forged = client.post("/login", data={"username": "worker.a", "password": PASSWORD})
    assert forged.status_code == 403 and "expired" in forged.text
    assert client.get("/participants", follow_redirects=False).status_code == 303


def test_worker_home_lists_own_centre(client: TestClient, world: World) -> None:
    assert sign_in(client, "worker.a") == "/participants"
    page = client.get("/participants")
    assert world.pa.code in page.text and world.pb.code not in page.text  # type: ignore[union-attr]
    other = client.get(f"/participants/{world.pb.code}")  # type: ignore[union-attr]
    unknown = client.get("/participants/C02-0999-X")
    assert other.status_code == unknown.status_code == 404
    assert client.get("/centres/C02").status_code == 404
    assert not BANNED.search(page.text)


def test_logout_needs_csrf_and_ends_session(client: TestClient, world: World) -> None:
    sign_in(client, "worker.a")
    page = client.get("/participants").text
    assert client.post("/logout", data={}).status_code == 403
    out = client.post("/logout", data={"csrf_token": csrf(page)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/participants", follow_redirects=False).status_code == 303


def test_officer_retention_drilldown_and_resolve(client: TestClient, world: World,
                                                 session: Session, factory: Factory) -> None:
    assert world.pa is not None
    worker = factory.actor(world.users["worker_a"].staff)
    saved = factory.aerli_session(worker, world.pa, staff=[world.users["worker_a"].staff])
    deviation = saved.deviations[0]
    assert sign_in(client, "officer") == "/retention"
    retention = client.get("/retention")
    assert retention.status_code == 200 and 'href="/centres/C01"' in retention.text
    centre = client.get("/centres/C01")
    assert centre.status_code == 200 and world.pa.code in centre.text
    queue = client.get("/deviations?centre=C01")
    assert f'id="deviation-{deviation.id}"' in queue.text
    token = csrf(queue.text)
    empty = client.post(f"/deviations/{deviation.id}",
                        data={"action": "resolve", "comment": "", "csrf_token": token})
    assert "comment is required" in empty.text
    done = client.post(f"/deviations/{deviation.id}",
                       data={"action": "resolve", "comment": "Second worker was present",
                             "csrf_token": token})
    assert done.status_code == 200 and "resolved" in done.text
    session.expire_all()
    stored = session.get(Deviation, deviation.id)
    assert stored is not None and stored.status.value == "resolved"
    assert stored.resolution_comment == "Second worker was present"


def test_worker_cannot_resolve_from_page(client: TestClient, world: World,
                                         factory: Factory) -> None:
    assert world.pa is not None
    worker = factory.actor(world.users["worker_a"].staff)
    saved = factory.aerli_session(worker, world.pa, staff=[world.users["worker_a"].staff])
    sign_in(client, "worker.a")
    token = csrf(client.get("/participants").text)
    response = client.post(f"/deviations/{saved.deviations[0].id}",
                           data={"action": "resolve", "comment": "x", "csrf_token": token})
    assert response.status_code == 403


def test_admin_creates_account_from_page(client: TestClient, world: World) -> None:
    sign_in(client, "admin")
    page = client.get("/accounts")
    assert page.status_code == 200 and "worker.a" in page.text
    created = client.post("/accounts", data={
        "username": "New.Worker", "password": "long enough password", "role": "outreach_worker",
        "centre_code": "C02", "csrf_token": csrf(page.text)})
    assert created.status_code == 200 and "new.worker" in created.text
    short = client.post("/accounts", data={
        "username": "other", "password": "short", "role": "admin",
        "csrf_token": csrf(page.text)})
    assert short.status_code == 422 and "too short" in short.text


def test_history_page(client: TestClient, world: World) -> None:
    sign_in(client, "officer")
    page = client.get(f"/participants/{world.pa.code}/history")  # type: ignore[union-attr]
    assert page.status_code == 200 and "Participant created" in page.text


def test_enrol_page_with_inline_rule_error(client: TestClient, world: World) -> None:
    sign_in(client, "worker.a")
    form = client.get("/participants/new")
    assert form.status_code == 200 and 'data-field="age"' in form.text
    token = csrf(form.text)
    base = {"csrf_token": token, "age": "17", "injected_past_month": "1",
            "wish_neck_groin": "0", "consent": "1", "consent_date": "2026-11-20",
            "inclusion_date": "2026-11-20", "year_of_birth": "2009", "gender": "1",
            "reached_via": "1", "study_group": "1"}
    refused = client.post("/participants/new", data=base)
    assert refused.status_code == 422
    assert re.search(r'id="field-age"[^>]*>.*?class="error"[^>]*>[^<]*18', refused.text, re.S)
    ok = client.post("/participants/new", data={**base, "age": "30", "year_of_birth": "1996"},
                     follow_redirects=False)
    assert ok.status_code == 303
    code = ok.headers["location"].rsplit("/", 1)[1]
    assert code.startswith("C01-")
    assert "is enrolled" in client.get(ok.headers["location"]).text


def test_questionnaire_page_save_and_soft_rule_message(client: TestClient, world: World) -> None:
    assert world.pa is not None
    sign_in(client, "worker.a")
    url = f"/participants/{world.pa.code}/questionnaires/M6"
    form = client.get(url)
    assert form.status_code == 200 and 'data-field="share_syringe"' in form.text
    late = world.pa.inclusion_date + timedelta(days=182 + 60)
    data = {"csrf_token": csrf(form.text), **questionnaire_answers(late)}
    del data["housing"], data["income_source"], data["education"]
    del data["years_injecting"], data["age_first_injection"], data["prison_ever"]
    # httpx takes repeated form fields (checkboxes) as a mapping of lists, not as pairs.
    payload = {k: [str(v) for v in vs] if isinstance(vs, list) else str(vs)
               for k, vs in data.items()}
    bad = client.post(url, data={**payload, "inj_freq": "abc"})
    assert bad.status_code == 422 and 'id="field-inj_freq"' in bad.text
    saved = client.post(url, data=payload, follow_redirects=False)
    assert saved.status_code == 303
    page = client.get(saved.headers["location"]).text
    assert "Saved" in page and "Please note" in page and "outside its window" in page


def test_admin_resets_password_and_disables_from_page(client: TestClient, world: World,
                                                      session: Session) -> None:
    from cohort.models import Account

    sign_in(client, "admin")
    page = client.get("/accounts")
    target = session.exec(select(Account).where(Account.username == "worker.b")).one()
    assert f'id="account-{target.id}"' in page.text
    token = csrf(page.text)
    short = client.post(f"/accounts/{target.id}",
                        data={"action": "password", "password": "short", "csrf_token": token})
    assert "too short" in short.text
    reset = client.post(f"/accounts/{target.id}", data={
        "action": "password", "password": "a brand new passphrase", "csrf_token": token})
    assert reset.status_code == 200 and "Password changed" in reset.text
    assert client.post("/api/v1/auth/token", data={
        "username": "worker.b", "password": "a brand new passphrase"}).status_code == 200
    assert client.get("/api/v1/auth/me", headers=world.h("worker_b")).status_code == 401
    disabled = client.post(f"/accounts/{target.id}",
                           data={"action": "disable", "csrf_token": token})
    assert "Account disabled" in disabled.text
    assert client.post("/api/v1/auth/token", data={
        "username": "worker.b", "password": "a brand new passphrase"}).status_code == 401
    forged = client.post(f"/accounts/{target.id}", data={"action": "enable"})
    assert forged.status_code == 403


def test_admin_creates_officer_limited_to_centres(client: TestClient, world: World) -> None:
    sign_in(client, "admin")
    page = client.get("/accounts")
    created = client.post("/accounts", data={
        "username": "regional", "password": "long enough password",
        "role": "research_officer", "limit_to": ["C02"], "csrf_token": csrf(page.text)})
    assert created.status_code == 200 and "limited to C02" in created.text
    token = client.post("/api/v1/auth/token", data={"username": "regional",
                                                    "password": "long enough password"})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert [c["code"] for c in client.get("/api/v1/centres", headers=headers).json()] == ["C02"]
    assert client.get(f"/api/v1/participants/{world.pa.code}",  # type: ignore[union-attr]
                      headers=headers).status_code == 404
    worker = client.post("/accounts", data={
        "username": "w2", "password": "long enough password", "role": "outreach_worker",
        "centre_code": "C01", "limit_to": ["C02"], "csrf_token": csrf(page.text)})
    assert worker.status_code == 422 and "Only research officers" in worker.text


def test_participant_list_filters_by_state_and_centre(client: TestClient, world: World) -> None:
    assert world.pa is not None and world.pb is not None
    sign_in(client, "officer")
    everyone = client.get("/participants")
    assert world.pa.code in everyone.text and world.pb.code in everyone.text
    c01 = client.get("/participants?centre=C01")
    assert world.pa.code in c01.text and world.pb.code not in c01.text
    overdue = client.get("/participants?centre=C01&state=overdue")
    assert world.pa.code in overdue.text and "show everyone" in overdue.text
    upcoming = client.get("/participants?centre=C01&state=upcoming&page=9")
    assert upcoming.status_code == 200 and world.pa.code not in upcoming.text


def test_admin_cannot_disable_own_account(client: TestClient, world: World,
                                          session: Session) -> None:
    from cohort.models import Account

    sign_in(client, "admin")
    own = session.exec(select(Account).where(Account.username == "admin")).one()
    page = client.get("/accounts")
    refused = client.post(f"/accounts/{own.id}",
                          data={"action": "disable", "csrf_token": csrf(page.text)})
    assert "cannot disable your own account" in refused.text
    assert client.get("/accounts").status_code == 200


def test_session_log_page_flags_in_plain_words(client: TestClient, world: World) -> None:
    """session.trained_staff: one trained worker only; saved, and the worker is told why it
    will be reviewed. date.in_future: refused inline."""
    assert world.pa is not None
    sign_in(client, "worker.a")
    url = f"/participants/{world.pa.code}/sessions/new"
    form = client.get(url)
    assert form.status_code == 200 and 'name="staff_ids"' in form.text
    day = world.pa.inclusion_date + timedelta(days=30)
    base = {"csrf_token": csrf(form.text), "setting": "1", "modality": "1",
            "injection_site": "1", "staff_ids": [str(world.users["worker_a"].staff.id)]}
    future = client.post(url, data={**base, "session_date": "2027-01-01"})
    assert future.status_code == 422
    assert re.search(r'id="field-session_date"[^>]*>.*?class="error"[^>]*>[^<]*future',
                     future.text, re.S | re.I)
    saved = client.post(url, data={**base, "session_date": day.isoformat()},
                        follow_redirects=False)
    assert saved.status_code == 303
    page = client.get(saved.headers["location"]).text
    assert "Saved" in page and "Please note" in page
    other = client.get(f"/participants/{world.pb.code}/sessions/new")  # type: ignore[union-attr]
    assert other.status_code == 404


def test_questionnaire_page_date_rule_shown_on_the_date(client: TestClient, world: World) -> None:
    """date.before_inclusion: the refusal is shown next to the visit date."""
    assert world.pa is not None
    sign_in(client, "worker.a")
    url = f"/participants/{world.pa.code}/questionnaires/M6"
    form = client.get(url)
    early = world.pa.inclusion_date - timedelta(days=3)
    data = {"csrf_token": csrf(form.text), **questionnaire_answers(early)}
    payload = {k: [str(v) for v in vs] if isinstance(vs, list) else str(vs)
               for k, vs in data.items()}
    refused = client.post(url, data=payload)
    assert refused.status_code == 422
    assert re.search(r'id="field-visit_date"[^>]*>.*?class="error"[^>]*>[^<]*inclusion',
                     refused.text, re.S | re.I)
