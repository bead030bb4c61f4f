"""The review pages of issue 15 part B, points 6 to 10, through the app (SQLite and
PostgreSQL): what each page says, what the CSV holds and logs, bulk review with CSRF, the
history in words, and statisticians' pages.

Rules cited: ``scope.role`` (statisticians write nothing: the entry pages answer 403 when
opened; only research officers and data managers review deviations),
``export.no_purpose`` (the whole cohort's retention CSV needs a purpose),
``session.comparison_group`` (the deviations reviewed here).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from cohort.models import AuditEntry, CentreCreate, Deviation, ExportLog
from cohort.services.context import COMMAND_LINE
from cohort.services.questionnaires import update_questionnaire
from cohort.services.setup import create_centre
from cohort.vocab import DeviationStatus, ExportKind, Group, Timepoint
from tests.api.conftest import World
from tests.api.test_api_pages import csrf, sign_in
from tests.factories import Factory


def _card(html: str, code: str) -> str:
    found = re.search(rf'<li class="card[^"]*">\s*<a href="/participants/{code}">.*?</li>',
                      html, re.S)
    assert found, f"no card for {code}"
    return re.sub(r"\s+", " ", found.group(0))


def test_participant_list_says_what_is_next(client: TestClient, world: World,
                                            factory: Factory) -> None:
    """Point 6: no "Next: M6" once M12 is done, no "sessions 0/0" for a comparison
    participant, a plain and linked label for what is flagged."""
    w = factory.actor(world.users["worker_a"].staff)
    today = factory.today
    moved_on = factory.participant(w, inclusion_date=today - timedelta(days=400))
    factory.questionnaire(w, moved_on)
    factory.questionnaire(w, moved_on, Timepoint("M12"))
    comparison = factory.participant(w, group=Group.COMPARISON)
    factory.aerli_session(w, comparison)  # off-protocol, flagged
    sign_in(client, "worker.a")
    page = client.get("/participants").text
    done = _card(page, moved_on.code)
    assert "Next:" not in done and "Follow-up complete" in done
    assert "0 AERLI sessions" in done
    comp = _card(page, comparison.code)
    assert "0/0" not in comp and "AERLI session" not in comp
    assert "1 session off-protocol (comparison group)" in comp
    assert f'href="/participants/{comparison.code}#to-review"' in comp
    assert "1 flag for a research officer to check" in comp
    assert "to review" not in comp
    assert "sessions 0/0" not in _card(page, world.pa.code)  # type: ignore[union-attr]


def test_participant_page_buttons_and_review_outcome(client: TestClient, world: World,
                                                     factory: Factory,
                                                     session: Session) -> None:
    """Points 6 and 8: only the visit now due is a primary button; a reviewed deviation
    shows its outcome, who and when on the participant's page."""
    assert world.pa is not None
    w = factory.actor(world.users["worker_a"].staff)
    saved = factory.aerli_session(w, world.pa, staff=[world.users["worker_a"].staff])
    sign_in(client, "officer")
    queue = client.get("/deviations")
    client.post(f"/deviations/{saved.deviations[0].id}", data={
        "action": "resolve", "comment": "Second worker was there, not recorded",
        "csrf_token": csrf(queue.text)})
    sign_in(client, "worker.a")
    page = client.get(f"/participants/{world.pa.code}").text
    buttons = {tp: kind for kind, tp in
               re.findall(r'class="button (\w+)" href="[^"]+/questionnaires/(M\d+)"', page)}
    assert buttons == {"M0": "primary", "M6": "quiet", "M12": "quiet"}  # M0 not done yet
    section = page[page.index('id="to-review"'):]
    assert "Session with fewer than two AERLI-trained workers" in section
    assert "Resolved by Name of officer on" in section
    assert "Second worker was there, not recorded" in section


def test_deviations_page_names_rules_and_reviews_many(client: TestClient, world: World,
                                                      factory: Factory,
                                                      session: Session) -> None:
    """Point 8: badges name the rule; ticked deviations are acknowledged with one comment,
    one audited review each, behind the CSRF check."""
    w = factory.actor(world.users["worker_a"].staff)
    ids = []
    for _ in range(3):
        p = factory.participant(w, group=Group.COMPARISON)
        ids.append(factory.aerli_session(w, p).deviations[0].id)
    sign_in(client, "officer")
    page = client.get("/deviations?rule=session.comparison_group")
    assert ">AERLI session for a comparison participant</span>" in page.text
    assert '>session.comparison_group</span>' not in page.text
    assert 'form="bulk"' in page.text and 'id="bulk"' in page.text
    forged = client.post("/deviations/bulk", data={"action": "acknowledge", "ids": ids[:2]})
    assert forged.status_code == 403
    done = client.post("/deviations/bulk", data={
        "action": "acknowledge", "ids": ids[:2], "comment": "Service only, agreed",
        "csrf_token": csrf(page.text)})
    assert done.status_code == 200 and "2 deviations acknowledged" in done.text
    session.expire_all()
    states = [session.get(Deviation, i).status for i in ids]  # type: ignore[union-attr]
    assert states == [DeviationStatus.ACKNOWLEDGED] * 2 + [DeviationStatus.OPEN]
    audits = session.exec(select(AuditEntry).where(
        AuditEntry.table_name == "deviation", AuditEntry.field == "status")).all()
    assert sorted(a.record_id for a in audits) == sorted(ids[:2])
    nothing = client.post("/deviations/bulk", data={"action": "resolve", "ids": ids,
                                                     "csrf_token": csrf(page.text)})
    assert "comment is required" in nothing.text
    sign_in(client, "worker.a")
    refused = client.post("/deviations/bulk", data={
        "action": "acknowledge", "ids": ids[2:], "csrf_token": csrf(page.text)})
    assert refused.status_code == 403


def test_retention_page_and_csv(client: TestClient, world: World, factory: Factory,
                                session: Session) -> None:
    """Point 7: percentages, the split, sortable columns, two charts; the CSV is
    neutralised, needs a purpose for the whole cohort, and is logged."""
    assert world.pa is not None
    w = factory.actor(world.users["worker_a"].staff)
    old = factory.participant(w, inclusion_date=factory.today - timedelta(days=460))
    factory.questionnaire(w, old)
    factory.questionnaire(w, old, Timepoint("M6"))
    create_centre(session, actor=COMMAND_LINE,
                  data=CentreCreate(code="C03", name="Three", city="=HYPERLINK(1)"))
    sign_in(client, "officer")
    page = client.get("/retention").text
    assert 'id="chart-centres"' in page and 'id="chart-months"' in page
    assert "<svg" in page and "<script>" not in page
    assert 'class="data sticky retention sortable"' in page
    assert "done int." in page and "done comp." in page
    c01 = re.search(r'<td class="centre" data-label="Centre" data-sort="C01">.*?</tr>', page,
                    re.S)
    assert c01 and "50%" in c01.group(0)  # M6: 1 done of 2 past the window (pa + old)
    missing = client.get("/retention.csv")
    assert missing.status_code == 422 and "purpose" in missing.text
    got = client.get("/retention.csv", params={"purpose": "Report to the sponsor"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.text)))
    both = next(r for r in rows if r["centre"] == "C01" and r["group"] == "both")
    assert (both["m6_past_window_or_done"], both["m6_done"], both["m6_pct_done"]) == \
        ("2", "1", "50.0")
    three = next(r for r in rows if r["centre"] == "C03")
    assert three["city"] == "'=HYPERLINK(1)"
    log = session.exec(select(ExportLog).where(ExportLog.kind == ExportKind.REPORT)).all()
    assert len(log) == 1 and log[0].fmt == "csv" and log[0].purpose == "Report to the sponsor"
    assert log[0].rows == len(rows)
    sign_in(client, "worker.a")  # own centre only: no purpose asked
    mine = client.get("/retention.csv")
    assert mine.status_code == 200 and "C02" not in mine.text


def test_history_reads_as_labels_old_and_new(client: TestClient, world: World,
                                             factory: Factory, session: Session) -> None:
    """Point 9: the dictionary's label, old -> new, who and when; no JSON, nothing cut."""
    assert world.pa is not None
    w = factory.actor(world.users["worker_a"].staff)
    saved = factory.questionnaire(w, world.pa)
    q = saved.record
    answers = dict(q.answers)
    answers["age_first_injection"] = "19"
    update_questionnaire(session, actor=w, code=world.pa.code, timepoint=Timepoint("M0"),
                         answers=answers, expected_version=q.version, on=factory.today)
    sign_in(client, "officer")
    page = client.get(f"/participants/{world.pa.code}/history").text
    # What a person reads: the page without its scripts (the JSON of the scripts' words).
    shown = re.sub(r"<script\b.*?</script>", " ", page, flags=re.S)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", shown))
    assert "Questionnaire changed · Name of worker.a ·" in text
    assert re.search(r"[Aa]ge at first injection[^→]*22 → 19", text), text[-2000:]
    assert "{&#34;" not in page and '{"' not in text  # no JSON object shown
    assert "Participant created" in text and "Enrolled by Name of worker.a" in text
    assert "How was the person reached? in person" in text  # a stored word, in words


def test_statistician_sees_no_entry_and_downloads_from_exports(client: TestClient,
                                                                world: World) -> None:
    """Point 10: entry pages are not offered and answer 403 with a clear page; the
    exports and the report are one click away (``/jobs``)."""
    sign_in(client, "stat")
    listing = client.get("/participants").text
    assert "/participants/new" not in listing and 'href="/workbooks"' not in listing
    assert '<a href="/jobs">Exports and report</a>' in listing
    for path in ("/participants/new", "/workbooks"):
        refused = client.get(path)
        assert refused.status_code == 403, path
        assert "not available to you" in refused.text and "/jobs" in refused.text
        assert 'name="age"' not in refused.text
    jobs = client.get("/jobs").text
    assert 'id="export-form"' in jobs and 'id="analysis-form"' in jobs
    for fmt in ("csv", "xlsx", "dta"):
        assert f'<option value="{fmt}">' in jobs
    sign_in(client, "worker.a")
    assert client.get("/participants/new").status_code == 200
