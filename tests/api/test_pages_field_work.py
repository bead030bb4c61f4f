"""Pages outreach workers and officers asked for (issue 15 B1-B5), through the app.

Search by study code on every list, the session correction and follow-up status pages,
the M0 form's dictionary-declared age check, date inputs that stop at today, and the
session form that marks and pre-selects the signed-in worker.
Rules: session.trained_staff, scope.other_centre, date.in_future.
"""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from cohort.models import Deviation, StatusChange
from cohort.vocab import DeviationStatus, Status
from tests.api.conftest import World
from tests.api.test_api_pages import csrf, sign_in
from tests.conftest import TODAY
from tests.factories import Factory, questionnaire_answers


def _slip(code: str) -> str:
    """The code with its sequence's last digit mistyped."""
    i = code.rindex("-") - 1
    return code[:i] + ("7" if code[i] != "7" else "8") + code[i + 1:]


def test_participant_list_finds_a_code_typed_loosely(client: TestClient, world: World) -> None:
    assert world.pa is not None and world.pb is not None
    sign_in(client, "officer")
    typed = world.pa.code.lower().replace("-", " ")
    page = client.get("/participants", params={"q": typed})
    assert page.status_code == 200
    assert world.pa.code in page.text and world.pb.code not in page.text
    assert f'value="{typed}"' in page.text
    wrong = client.get("/participants", params={"q": _slip(world.pa.code)})
    assert 'id="code-search-result"' in wrong.text
    assert f'href="/participants/{world.pa.code}"' in wrong.text and "Did you mean" in wrong.text


def test_worker_search_never_suggests_another_centres_code(client: TestClient,
                                                           world: World) -> None:
    assert world.pb is not None
    sign_in(client, "worker.a")
    page = client.get("/participants", params={"q": _slip(world.pb.code)})
    assert world.pb.code not in page.text and "No participant here" in page.text


def test_deviations_and_centre_worklist_search(client: TestClient, world: World,
                                               factory: Factory) -> None:
    assert world.pa is not None
    worker = factory.actor(world.users["worker_a"].staff)
    other = factory.participant(worker)
    for person in (world.pa, other):
        factory.aerli_session(worker, person, staff=[world.users["worker_a"].staff])
    sign_in(client, "officer")
    queue = client.get("/deviations", params={"q": world.pa.code.replace("-", "")})
    assert world.pa.code in queue.text and other.code not in queue.text
    broad = client.get("/deviations", params={"q": "c0"})  # matches everyone: a sub-query
    assert world.pa.code in broad.text and other.code in broad.text
    hint = client.get("/deviations", params={"q": _slip(other.code)})
    assert f'href="/participants/{other.code}"' in hint.text
    assert not re.search(r'id="deviation-\d', hint.text)
    centre = client.get("/centres/C01", params={"q": other.code.lower()})
    assert centre.status_code == 200 and 'name="q"' in centre.text
    assert world.pa.code not in centre.text.split("<h2>Participants</h2>")[0].split(
        "Visits due")[1]


def test_session_form_marks_and_preselects_the_signed_in_worker(client: TestClient,
                                                                world: World) -> None:
    assert world.pa is not None
    sign_in(client, "worker.a2")
    page = client.get(f"/participants/{world.pa.code}/sessions/new").text
    me = world.users["worker_a2"].staff
    boxes = re.findall(r'<input type="checkbox" name="staff_ids" value="(\d+)"([^>]*)>', page)
    assert boxes[0][0] == str(me.id) and "checked" in boxes[0][1]
    assert [b for b in boxes if "checked" in b[1]] == [boxes[0]]
    assert "Name of worker.a2 <strong class=\"you\">(you)</strong>" in page
    assert page.count(">AERLI-trained<") == 2
    assert "1 AERLI-trained worker ticked; the protocol asks for 2" in page
    assert f'max="{TODAY.isoformat()}"' in page  # the session date stops at today


def test_correcting_a_session_clears_its_flag(client: TestClient, world: World,
                                              factory: Factory, session: Session) -> None:
    assert world.pa is not None
    a, a2 = world.users["worker_a"].staff, world.users["worker_a2"].staff
    saved = factory.aerli_session(factory.actor(a), world.pa, staff=[a])
    record_id = saved.record.id
    sign_in(client, "worker.a")
    person = client.get(f"/participants/{world.pa.code}").text
    assert f'href="/participants/{world.pa.code}/sessions/{record_id}"' in person
    url = f"/participants/{world.pa.code}/sessions/{record_id}"
    form = client.get(url)
    assert form.status_code == 200 and 'name="reason"' in form.text
    fields = {"csrf_token": csrf(form.text), "session_date": saved.record.session_date.isoformat(),
              "setting": "1", "modality": "1", "product": "1", "injection_site": "1",
              "risks": ["2"], "topics": ["1", "5"], "staff_ids": [str(a.id), str(a2.id)]}
    no_reason = client.post(url, data=fields)
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    done = client.post(url, data={**fields, "reason": "Second worker forgotten"})
    assert done.status_code == 200 and "1 flag cleared" in done.text
    session.expire_all()
    stored = session.get(Deviation, saved.deviations[0].id)
    assert stored is not None and stored.status is DeviationStatus.RESOLVED
    other = client.get(f"/participants/{world.pb.code}/sessions/{record_id}")  # type: ignore[union-attr]
    assert other.status_code == 404


def test_status_page_records_withdrawal_and_return(client: TestClient, world: World,
                                                   session: Session) -> None:
    assert world.pa is not None
    sign_in(client, "worker.a")
    url = f"/participants/{world.pa.code}/status"
    page = client.get(url)
    assert page.status_code == 200 and 'value="withdrawn"' in page.text
    assert 'value="returned"' not in page.text  # an active person cannot "come back"
    token = csrf(page.text)
    future = client.post(url, data={"csrf_token": token, "status": "withdrawn",
                                    "effective_date": (TODAY + timedelta(days=3)).isoformat()})
    assert future.status_code == 422 and "in the future" in future.text
    missing = client.post(url, data={"csrf_token": token, "effective_date": TODAY.isoformat()})
    assert missing.status_code == 422 and "choose the new status" in missing.text
    done = client.post(url, data={"csrf_token": token, "status": "withdrawn",
                                  "effective_date": TODAY.isoformat(),
                                  "reason": "Moved away"})
    assert done.status_code == 200 and "Withdrew" in done.text
    back = client.get(url)
    assert 'value="returned"' in back.text and "Moved away" in back.text
    client.post(url, data={"csrf_token": token, "status": "returned",
                           "effective_date": TODAY.isoformat()})
    rows = session.exec(select(StatusChange.status).where(
        StatusChange.participant_id == world.pa.id)).all()
    assert list(rows)[-2:] == [Status.WITHDRAWN, Status.RETURNED]
    sign_in(client, "worker.b")
    assert client.get(url).status_code == 404


def test_m0_page_carries_the_dictionary_age_check(client: TestClient, world: World) -> None:
    assert world.pa is not None  # enrolled aged 34 by the factory
    sign_in(client, "worker.a")
    url = f"/participants/{world.pa.code}/questionnaires/M0"
    page = client.get(url)
    text = page.text
    assert re.search(r'name="age_first_injection"[^>]*data-max="34"[^>]*data-max-field="age"',
                     text, re.S)
    assert 'data-draft="' in text and "/static/sections.js" in text
    # The visit date comes first, and stops at today.
    assert text.index('data-field="visit_date"') < text.index('data-field="housing"')
    assert re.search(r'name="visit_date"[^>]*max="' + TODAY.isoformat(), text, re.S)
    answers = questionnaire_answers(world.pa.inclusion_date + timedelta(days=1),
                                    age_first_injection="40")
    refused = client.post(url, data={**answers, "csrf_token": csrf(text)})
    assert refused.status_code == 422
    assert re.search(r'id="field-age_first_injection".*?class="error"[^>]*>[^<]*at most 34',
                     refused.text, re.S)
    ok = client.post(url, data={**answers, "age_first_injection": "34",
                                "csrf_token": csrf(text)}, follow_redirects=False)
    assert ok.status_code == 303


def test_the_api_refuses_the_same_inconsistent_age(client: TestClient, world: World) -> None:
    assert world.pa is not None
    answers = questionnaire_answers(world.pa.inclusion_date + timedelta(days=1),
                                    age_first_injection="35")
    response = client.post(f"/api/v1/participants/{world.pa.code}/questionnaires/M0",
                           json={"answers": answers}, headers=world.h("worker_a"))
    assert response.status_code == 422, response.text
    assert "age_first_injection" in response.text


def test_the_api_corrects_a_session_the_same_way(client: TestClient, world: World,
                                                 factory: Factory) -> None:
    """PUT /participants/{code}/sessions/{id}: session.trained_staff cleared; another
    participant's path reads as unknown; a reason is required (422)."""
    assert world.pa is not None and world.pb is not None
    a, a2 = world.users["worker_a"].staff, world.users["worker_a2"].staff
    saved = factory.aerli_session(factory.actor(a), world.pa, staff=[a])
    body = {"session_date": saved.record.session_date.isoformat(), "setting": "squat",
            "modality": "in_person", "product": "1", "injection_site": "arm",
            "risks": ["2"], "topics": ["1", "5"], "staff_ids": [a.id, a2.id],
            "reason": "Second worker forgotten"}
    url = f"/api/v1/participants/{world.pa.code}/sessions/{saved.record.id}"
    no_reason = client.put(url, json={**body, "reason": ""}, headers=world.h("worker_a"))
    assert no_reason.status_code == 422, no_reason.text
    elsewhere = client.put(f"/api/v1/participants/{world.pb.code}/sessions/{saved.record.id}",
                           json=body, headers=world.h("officer"))
    assert elsewhere.status_code == 404, elsewhere.text
    done = client.put(url, json=body, headers=world.h("worker_a"))
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["session"]["counts_for_protocol"] is True
    assert result["session"]["staff_ids"] == sorted([a.id, a2.id])
    assert [d["rule_id"] for d in result["cleared"]] == ["session.trained_staff"]
    assert result["raised"] == []
    again = client.put(url, json=body, headers=world.h("worker_a"))
    assert again.status_code in (409, 422) and "Nothing was changed" in again.text
