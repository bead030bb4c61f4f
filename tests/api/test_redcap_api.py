"""``POST /api/`` on SQLite and PostgreSQL: tokens, parameters as clients send them, errors
in the caller's format, and the flat export's details (columns, labels, filters, ranges).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.redcap.params import Params
from cohort.models import AuditEntry, RedcapToken, utcnow
from cohort.redcap import BadParameter
from cohort.services.accounts import set_active
from cohort.services.context import COMMAND_LINE
from cohort.services.redcap_tokens import new_redcap_token, revoke_redcap_token
from cohort.vocab import Timepoint
from tests.api.conftest import World
from tests.factories import Factory


def post(client: TestClient, token: str, **form: Any) -> Any:
    return client.post("/api/", data={"token": token, **form})


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def tokens(session: Session, world: World) -> dict[str, str]:
    return {who: new_redcap_token(session, actor=COMMAND_LINE, username=user.username)
            for who, user in world.users.items()}


@pytest.fixture
def filled(world: World, factory: Factory) -> World:
    worker = factory.actor(world.users["worker_a"].staff)
    assert world.pa is not None
    factory.questionnaire(worker, world.pa, Timepoint("M0"), questionnaire_note="Kind words")
    factory.aerli_session(worker, world.pa, note="Hand washing")
    return world


# --------------------------------------------------------------------------- tokens
def test_tokens_have_redcaps_shape_and_only_their_digest_is_kept(
        session: Session, world: World) -> None:
    token = new_redcap_token(session, actor=COMMAND_LINE, username="stat")
    assert re.fullmatch(r"[0-9A-F]{32}", token)
    stored = session.exec(select(RedcapToken)).all()
    assert len(stored) == 1 and token not in stored[0].token_digest
    assert stored[0].token_digest == __import__("hashlib").sha256(token.encode()).hexdigest()
    audit = session.exec(select(AuditEntry).where(AuditEntry.table_name == "redcap_token")).all()
    assert [a.action for a in audit] == ["create"] and token not in (audit[0].new_value or "")


def test_a_new_token_revokes_the_old_one_and_revoking_is_audited(
        client: TestClient, session: Session, world: World) -> None:
    first = new_redcap_token(session, actor=COMMAND_LINE, username="stat")
    second = new_redcap_token(session, actor=COMMAND_LINE, username="stat")
    assert post(client, first, content="version").status_code == 403
    assert post(client, second, content="version").text == "14.0.0"
    assert revoke_redcap_token(session, actor=COMMAND_LINE, username="stat") == 1
    assert post(client, second, content="version").status_code == 403
    changes = session.exec(select(AuditEntry).where(AuditEntry.table_name == "redcap_token",
                                                    AuditEntry.field == "revoked_at")).all()
    assert len(changes) == 2


def test_a_disabled_account_s_token_opens_nothing(
        client: TestClient, session: Session, world: World, tokens: dict[str, str]) -> None:
    account_id = world.users["officer"].staff.id
    from cohort.models import Account

    account = session.exec(select(Account).where(Account.staff_id == account_id)).one()
    set_active(session, actor=COMMAND_LINE, account_id=int(account.id or 0), active=False)
    assert post(client, tokens["officer"], content="version").status_code == 403


@pytest.mark.parametrize(("fmt", "body"), [
    ("csv", "ERROR: You do not have permissions to use the API"),
    ("json", '{"error": "You do not have permissions to use the API"}'),
    ("xml", "<error>You do not have permissions to use the API</error>"),
])
def test_bad_tokens_answer_403_in_the_return_format(
        client: TestClient, world: World, fmt: str, body: str) -> None:
    response = post(client, "ABC", content="metadata", format="csv", returnFormat=fmt)
    assert response.status_code == 403 and body in response.text


def test_bad_tokens_are_throttled_like_sign_in(client: TestClient, world: World,
                                               tokens: dict[str, str]) -> None:
    for _ in range(5):
        assert post(client, "F" * 32, content="version").status_code == 403
    throttled = post(client, tokens["admin"], content="version", returnFormat="json")
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    assert "wrong token" in throttled.json()["error"]


# --------------------------------------------------------------------------- parameters
def test_params_read_arrays_joined_strings_booleans_and_blanks() -> None:
    p = Params([("fields[1]", "b"), ("fields[0]", "a"), ("forms", "x, y"), ("events", ""),
                ("flag1", "True"), ("flag2", "FALSE"), ("flag3", ""), ("records[]", "1"),
                ("records[]", "2")])
    assert p.items("fields") == ("a", "b") and p.items("forms") == ("x", "y")
    assert p.items("events") == () and p.items("records") == ("1", "2")
    assert p.flag("flag1") is True and p.flag("flag2") is False
    assert p.flag("flag3", default=True) is True
    with pytest.raises(BadParameter, match="flag4"):
        Params([("flag4", "maybe")]).flag("flag4")


def test_unknown_parameters_values_answer_400(client: TestClient, world: World,
                                              tokens: dict[str, str]) -> None:
    token = tokens["admin"]
    cases = [{"content": "record", "format": "csv", "fields": "nope"},
             {"content": "record", "format": "csv", "forms": "nope"},
             {"content": "record", "format": "csv", "events": "m9_arm_1"},
             {"content": "record", "format": "csv", "filterLogic": "[age] >"},
             {"content": "record", "format": "csv", "filterLogic": "[nope] = 1"},
             {"content": "record", "format": "csv", "rawOrLabel": "both"},
             {"content": "record", "format": "csv", "type": "eav"},
             {"content": "record", "format": "xml"},
             {"content": "record", "format": "csv", "dateRangeBegin": "yesterday"},
             {"content": "record", "format": "csv", "exportDataAccessGroups": "perhaps"},
             {"content": "record", "action": "delete", "records": "C01-0001-Z"},
             {"content": "user", "format": "json"},
             {"content": "metadata", "format": "csv", "action": "import", "data": "x"}]
    for form in cases:
        response = post(client, token, **form)
        assert response.status_code == 400, (form, response.text)
        assert response.text.startswith("ERROR: ") or "<error>" in response.text \
            or "error" in response.json()


def test_the_statistician_may_not_import(client: TestClient, world: World,
                                         tokens: dict[str, str]) -> None:
    data = json.dumps([{"record_id": "X1", "redcap_event_name": "m0_arm_1", "age": "30"}])
    response = post(client, tokens["statistician"], content="record", format="json",
                    data=data, returnFormat="json")
    assert response.status_code == 403 and "read-only" in response.json()["error"]


# --------------------------------------------------------------------------- exports
def test_columns_follow_the_metadata_and_forms_have_complete_columns(
        client: TestClient, filled: World, tokens: dict[str, str]) -> None:
    response = post(client, tokens["admin"], content="record", format="csv",
                    exportDataAccessGroups="true")
    assert response.status_code == 200
    header = response.text.splitlines()[0].split(",")
    meta = post(client, tokens["admin"], content="exportFieldNames", format="json").json()
    names = [m["export_field_name"] for m in meta]
    assert header[:5] == ["record_id", "redcap_event_name", "redcap_repeat_instrument",
                          "redcap_repeat_instance", "redcap_data_access_group"]
    data = [h for h in header[5:] if not h.endswith("_complete")]
    assert data == names[1:]
    assert header.index("enrolment_complete") == header.index("inclusion_date") + 1
    found = rows(response.text)
    m0 = next(r for r in found if r["record_id"] == filled.pa.code  # type: ignore[union-attr]
              and r["redcap_event_name"] == "m0_arm_1")
    assert m0["redcap_data_access_group"] == "c01" and m0["questionnaire_complete"] == "2"
    assert m0["aerli_session_complete"] == "" and m0["session_date"] == ""
    other = next(r for r in found if r["record_id"] == filled.pb.code)  # type: ignore[union-attr]
    assert other["baseline_complete"] == "0" and other["products___1"] == "0"


def test_gray_status_labels_checkbox_labels_and_label_headers(
        client: TestClient, filled: World, tokens: dict[str, str]) -> None:
    code_b = filled.pb.code  # type: ignore[union-attr]
    gray = rows(post(client, tokens["admin"], content="record", format="csv", records=code_b,
                     events="m0_arm_1", exportBlankForGrayFormStatus="True").text)
    assert gray[0]["baseline_complete"] == ""
    code = filled.pa.code  # type: ignore[union-attr]
    labelled = rows(post(client, tokens["admin"], content="record", format="csv",
                         records=code, events="m0_arm_1", fields="products,gender",
                         forms="baseline", rawOrLabel="label",
                         exportCheckboxLabel="true").text)[0]
    assert labelled["products___1"] == "Heroin" and labelled["products___2"] == ""
    assert labelled["gender"] == "Man" and labelled["baseline_complete"] == "Complete"
    headers = post(client, tokens["admin"], content="record", format="csv", records=code,
                   fields="products", rawOrLabelHeaders="label").text.splitlines()[0]
    assert "Which substances did the participant inject? (tick all that apply) " \
           "(choice=Heroin)" in headers and headers.startswith("Record ID,Event Name")


def test_decimal_character_and_delimiter(client: TestClient, filled: World, session: Session,
                                         tokens: dict[str, str]) -> None:
    code = filled.pa.code  # type: ignore[union-attr]
    text = post(client, tokens["admin"], content="record", format="csv", records=code,
                events="m0_arm_1", fields="age,years_injecting", csvDelimiter=";",
                decimalCharacter=",").text
    assert text.splitlines()[0].startswith("record_id;redcap_event_name;")
    assert text.splitlines()[1].endswith(";34;8")


def test_outreach_workers_see_their_centre_and_statisticians_no_free_text(
        client: TestClient, filled: World, tokens: dict[str, str]) -> None:
    worker = rows(post(client, tokens["worker_b"], content="record", format="csv",
                       exportDataAccessGroups="true").text)
    assert {r["record_id"] for r in worker} == {filled.pb.code}  # type: ignore[union-attr]
    assert "redcap_data_access_group" not in worker[0]  # in a group: not exported (REDCap)
    dags = post(client, tokens["worker_b"], content="dag", format="json").json()
    assert [d["unique_group_name"] for d in dags] == ["c02"]
    stat = post(client, tokens["statistician"], content="record", format="json").json()
    assert stat and all("questionnaire_note" not in r and "session_note" not in r
                        and "fu_reason" not in r for r in stat)
    full = post(client, tokens["officer"], content="record", format="json").json()
    assert any(r.get("questionnaire_note") == "Kind words" for r in full)


def test_filter_logic_is_evaluated_per_row_with_event_prefixes(
        client: TestClient, filled: World, tokens: dict[str, str]) -> None:
    code = filled.pa.code  # type: ignore[union-attr]
    plain = post(client, tokens["admin"], content="record", format="json",
                 filterLogic="[study_group] = '1'").json()
    assert [(r["record_id"], r["redcap_event_name"]) for r in plain] == [(code, "m0_arm_1")]
    prefixed = post(client, tokens["admin"], content="record", format="json",
                    filterLogic="[m0_arm_1][study_group] = '1' and [products(5)] <> '1'",
                    ).json()
    assert {r["redcap_event_name"] for r in prefixed} == {"ongoing_arm_1"}
    assert {r["redcap_repeat_instrument"] for r in prefixed} == {"aerli_session",
                                                                 "follow_up_status"}


def test_date_range_reads_the_audit_trail(client: TestClient, filled: World,
                                          tokens: dict[str, str]) -> None:
    now = utcnow()
    since = (now - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
    recent = post(client, tokens["admin"], content="record", format="json",
                  dateRangeBegin=since, fields="record_id").json()
    assert {r["record_id"] for r in recent} == {filled.pa.code, filled.pb.code}  # type: ignore[union-attr]
    later = (now + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    assert post(client, tokens["admin"], content="record", format="json",
                dateRangeBegin=later).json() == []
    before = post(client, tokens["admin"], content="record", format="csv",
                  dateRangeEnd="2000-01-01 00:00:00").text
    assert before.count("\n") == 1  # the header only


def test_overwrite_behaviour_blank_rules(client: TestClient, filled: World,
                                         tokens: dict[str, str]) -> None:
    code = filled.pa.code  # type: ignore[union-attr]
    token = tokens["worker_a"]
    row = {"record_id": code, "redcap_event_name": "m0_arm_1", "hcv_last_result": "",
           "products___1": "", "inj_freq": "4"}
    normal = post(client, token, content="record", format="json", data=json.dumps([row]))
    assert normal.status_code == 200 and normal.json() == {"count": 1}
    kept = post(client, token, content="record", format="json", records=code,
                events="m0_arm_1").json()[0]
    assert (kept["inj_freq"], kept["hcv_last_result"], kept["products___1"]) == ("4", "1", "1")
    erased = post(client, token, content="record", format="json", data=json.dumps([row]),
                  overwriteBehavior="overwrite", returnContent="ids")
    assert erased.status_code == 200 and erased.json() == [code]
    after = post(client, token, content="record", format="json", records=code,
                 events="m0_arm_1").json()[0]
    assert (after["hcv_last_result"], after["products___1"]) == ("", "0")


def test_a_group_change_after_m0_is_refused_by_its_rule(
        client: TestClient, filled: World, tokens: dict[str, str]) -> None:
    code = filled.pa.code  # type: ignore[union-attr]
    data = f"record_id,redcap_event_name,study_group\n{code},m0_arm_1,2\n"
    response = post(client, tokens["worker_a"], content="record", format="csv", data=data)
    assert response.status_code == 400
    assert f"record {code} (m0_arm_1), field 'study_group'" in response.text
    assert "group.locked_after_m0" in response.text
    same = post(client, tokens["worker_a"], content="record", format="csv",
                data=f"record_id,redcap_event_name,study_group\n{code},m0_arm_1,1\n")
    assert same.status_code == 200 and same.text == "count\n1\n"


def _new_record(record: str, day: str = "2026-11-01") -> dict[str, Any]:
    from datetime import date

    from cohort.dictionary import get_dictionary
    from tests.factories import questionnaire_answers

    return {"record_id": record, "redcap_event_name": "m0_arm_1", "age": "41",
            "injected_past_month": "1", "wish_neck_groin": "0", "consent": "1",
            "consent_date": day, "inclusion_date": day, "reached_via": "1", "study_group": "1",
            **get_dictionary().expand_checkboxes(
                questionnaire_answers(date.fromisoformat(day), Timepoint("M0")))}


def test_force_auto_number_and_date_format(client: TestClient, world: World,
                                           tokens: dict[str, str]) -> None:
    token = tokens["worker_a"]
    auto = post(client, token, content="record", format="json", forceAutoNumber="true",
                returnContent="auto_ids", data=json.dumps([_new_record("tmp-1")]))
    assert auto.status_code == 200, auto.text
    [pair] = auto.json()
    new_code, sent = pair.split(",")
    assert sent == "tmp-1" and new_code.startswith("C01-")
    dmy = _new_record("77", day="2026-10-25")
    dmy["age"] = "42"
    for name in ("consent_date", "inclusion_date", "visit_date"):
        dmy[name] = "25/10/2026"
    saved = post(client, token, content="record", format="json", dateFormat="DMY",
                 data=json.dumps([dmy]), returnContent="nothing")
    assert saved.status_code == 200 and saved.text == ""
    exported = post(client, token, content="record", format="json", fields="inclusion_date",
                    filterLogic="[age] = 42").json()
    assert [r["inclusion_date"] for r in exported] == ["2026-10-25"]
    wrong = post(client, token, content="record", format="json", dateFormat="MDY",
                 data=json.dumps([dmy | {"record_id": "78"}]))
    assert wrong.status_code == 400 and "record 78" in wrong.text and "MDY" in wrong.text


def test_design_exports_take_their_filters(client: TestClient, world: World,
                                           tokens: dict[str, str]) -> None:
    token = tokens["statistician"]
    meta = post(client, token, content="metadata", format="json", **{
        "fields[0]": "age", "forms[0]": "follow_up_status"}).json()
    assert [m["field_name"] for m in meta] == ["age", "fu_status", "fu_status_date",
                                               "fu_reason"]
    names = post(client, token, content="exportFieldNames", format="json",
                 field="risks").json()
    assert [n["export_field_name"] for n in names] == [f"risks___{i}" for i in range(1, 7)]
    assert post(client, token, content="event", format="json", arms="2").json() == []
    events = post(client, token, content="event", format="json", **{"arms[0]": "1"}).json()
    assert [e["unique_event_name"] for e in events] == ["m0_arm_1", "m6_arm_1", "m12_arm_1",
                                                        "ongoing_arm_1"]
    assert events[1]["days_offset"] == 182


# --------------------------------------------------------------------------- export log
def test_each_record_export_leaves_exactly_one_export_log_entry(
        client: TestClient, filled: World, tokens: dict[str, str], session: Session) -> None:
    """Issue 19 for the REDCap API: who, from where, what (fields, records in scope,
    de-identified or not) and the X-Purpose header, logged before the first row is sent."""
    from cohort.models import ExportLog
    from cohort.vocab import Channel, ExportKind

    def logged() -> list[ExportLog]:
        session.expire_all()
        return list(session.exec(select(ExportLog).order_by(col(ExportLog.id))).all())

    before = len(logged())
    client.post("/api/", data={"token": tokens["statistician"], "content": "record",
                               "format": "csv", "fields": "record_id,inj_freq"},
                headers={"X-Purpose": "Retention model"})
    post(client, tokens["worker_b"], content="record", format="json",
         records=filled.pb.code)  # type: ignore[union-attr]
    post(client, tokens["admin"], content="metadata", format="json")  # design: not a record
    entries = logged()[before:]
    assert len(entries) == 2
    stat, worker = entries
    assert (stat.channel, stat.kind, stat.fmt) == (Channel.REDCAP_API, ExportKind.EXPORT, "csv")
    assert stat.actor_name == "stat" and stat.deidentified and not stat.free_text
    assert stat.purpose == "Retention model" and stat.centre_codes is None
    assert stat.fields[:1] == ["record_id"] and "inj_freq" in stat.fields
    assert stat.rows == 2  # both participants of the project, before filterLogic
    assert worker.rows == 1 and worker.centre_codes == ["C02"] and not worker.deidentified


def test_the_input_layer_guards_the_redcap_api_but_lets_a_file_of_records_through(
        client: TestClient, world: World, tokens: dict[str, str]) -> None:
    """NUL in any parameter is refused before the database sees it (issue 11); ``data``
    holds a whole file, so only the upload limit bounds it, not the form-field length."""
    nul = post(client, tokens["admin"], content="record", format="json", records="C01\x00")
    assert nul.status_code == 422
    assert nul.json()["errors"][0]["field"] == "records"
    big = post(client, tokens["admin"], content="record", format="json", returnFormat="json",
               data="[" + " " * 20_000)
    assert big.status_code == 400 and "error" in big.json()
