"""PyCap, the REDCap client from PyPI, against a real server on SQLite and PostgreSQL.

A statistician's script changes only the URL and the token: ``redcap.Project(url, token)``
then the calls below, exactly as they would be made against REDCap.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import redcap
from sqlmodel import Session, select

from cohort.dictionary import get_dictionary
from cohort.models import Deviation, Participant, Questionnaire
from cohort.vocab import Timepoint
from tests.api.redcap_live import Live, live_server
from tests.conftest import BACKENDS
from tests.factories import questionnaire_answers


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    if request.param == "postgresql":
        request.getfixturevalue("pg_url")  # skips locally, fails in CI, when unreachable
    with live_server(request.param, tmp_path_factory.mktemp("live")) as server:
        yield server


def flat_answers(visit: date, timepoint: Timepoint, **overrides: str) -> dict[str, object]:
    """A complete questionnaire as REDCap flat columns (checkboxes as ``name___code``)."""
    return get_dictionary().expand_checkboxes(
        questionnaire_answers(visit, timepoint, **overrides))


def project(live: Live, who: str = "admin") -> redcap.Project:
    return redcap.Project(live.url, live.tokens[who])


def test_the_project_describes_itself_as_redcap_does(live: Live) -> None:
    proj = project(live)
    assert str(proj.export_version()) == "14.0.0"
    assert proj.def_field == "record_id"
    assert proj.is_longitudinal is True
    meta = proj.export_metadata(format_type="df")
    assert meta.index[0] == "record_id"
    assert list(meta.columns) == [
        "form_name", "section_header", "field_type", "field_label",
        "select_choices_or_calculations", "field_note",
        "text_validation_type_or_show_slider_number", "text_validation_min",
        "text_validation_max", "identifier", "branching_logic", "required_field",
        "custom_alignment", "question_number", "matrix_group_name", "matrix_ranking",
        "field_annotation"]
    assert meta.loc["products", "field_type"] == "checkbox"
    mapping = proj.export_instrument_event_mappings()
    assert {"arm_num": 1, "unique_event_name": "m6_arm_1", "form": "questionnaire"} in mapping
    assert {(m["unique_event_name"], m["form"]) for m in mapping} >= {
        ("ongoing_arm_1", "aerli_session"), ("ongoing_arm_1", "follow_up_status")}
    info = proj.export_project_info()
    assert info["is_longitudinal"] == 1 and info["has_repeating_instruments_or_events"] == 1
    assert [d["unique_group_name"] for d in proj.export_dags()] == ["c01", "c02"]
    names = proj.export_field_names()
    assert {"original_field_name": "products", "choice_value": "5",
            "export_field_name": "products___5"} in names
    repeating = proj.export_repeating_instruments_events()
    assert {r["form_name"] for r in repeating} == {"aerli_session", "follow_up_status"}


def test_records_as_a_data_frame(live: Live) -> None:
    df = project(live).export_records(format_type="df")
    one, two, four = live.codes["one"], live.codes["two"], live.codes["four"]
    assert df.index.names == ["record_id", "redcap_event_name"]
    assert (one, "m0_arm_1") in df.index and (one, "m6_arm_1") in df.index
    assert (four, "m0_arm_1") in df.index  # the admin sees both centres
    flat = df.reset_index()
    m0 = flat[(flat["record_id"] == two) & (flat["redcap_event_name"] == "m0_arm_1")].iloc[0]
    assert m0["study_group"] == 2 and m0["share_syringe"] == 1 and m0["age"] == 52
    session = flat[flat["redcap_repeat_instrument"] == "aerli_session"].iloc[0]
    assert (session["record_id"], session["redcap_event_name"]) == (one, "ongoing_arm_1")
    assert session["redcap_repeat_instance"] == 1 and session["aerli_session_complete"] == 2
    # Columns in metadata order after the plumbing: enrolment first, status form last.
    assert list(df.columns[:4]) == ["redcap_repeat_instrument", "redcap_repeat_instance",
                                    "age", "injected_past_month"]
    assert df.columns[-1] == "follow_up_status_complete"


def test_records_fields_forms_events_and_filter(live: Live) -> None:
    proj = project(live)
    one, two = live.codes["one"], live.codes["two"]
    rows = proj.export_records(records=[one], fields=["inj_freq"], events=["m6_arm_1"])
    assert [(r["record_id"], r["redcap_event_name"]) for r in rows] == [(one, "m6_arm_1")]
    assert set(rows[0]) == {"record_id", "redcap_event_name", "redcap_repeat_instrument",
                            "redcap_repeat_instance", "inj_freq"}
    sessions = proj.export_records(forms=["aerli_session"])
    assert [(r["record_id"], r["redcap_repeat_instrument"]) for r in sessions] == \
        [(one, "aerli_session")]
    assert "session_note" in sessions[0] and "inj_freq" not in sessions[0]
    comparison = proj.export_records(filter_logic="[m0_arm_1][study_group] = '2'",
                                     fields=["study_group"])
    assert {r["record_id"] for r in comparison} == {two, live.codes["four"]}
    labelled = proj.export_records(records=[two], events=["m0_arm_1"],
                                   fields=["study_group", "share_syringe", "products"],
                                   raw_or_label="label")
    assert labelled[0]["study_group"] == "Comparison (questionnaires only)"
    assert labelled[0]["share_syringe"] == "Yes"
    assert labelled[0]["redcap_event_name"] == "M0"
    assert labelled[0]["products___1"] in ("Checked", "Unchecked")


def test_roles_limit_what_a_token_opens(live: Live) -> None:
    worker = project(live, "worker.b").export_records()
    assert {r["record_id"] for r in worker} == {live.codes["four"]}
    stat = project(live, "stat").export_records(format_type="df")
    assert "questionnaire_note" not in stat.columns and "session_note" not in stat.columns
    assert "inj_freq" in stat.columns
    with pytest.raises(redcap.RedcapError, match="read-only"):
        project(live, "stat").import_records([{"record_id": live.codes["one"],
                                               "redcap_event_name": "m6_arm_1",
                                               "inj_freq": "1"}])


def test_import_records_round_trip(live: Live) -> None:
    proj = project(live, "worker.a")
    one = live.codes["one"]
    rows = proj.export_records(records=[one], events=["m6_arm_1"])
    rows[0]["inj_freq"] = "5"
    rows[0]["oat_type"] = ""  # blank: kept, overwriteBehavior is normal
    assert proj.import_records(rows) == {"count": 1}
    again = proj.export_records(records=[one], events=["m6_arm_1"])[0]
    assert again["inj_freq"] == "5" and again["oat_type"] == "1"

    new = [{"record_id": "900", "redcap_event_name": "m0_arm_1", "age": "40",
            "injected_past_month": "1", "wish_neck_groin": "0", "consent": "1",
            "consent_date": "2026-11-01", "inclusion_date": "2026-11-01",
            "reached_via": "1", "study_group": "2", "visit_date": "2026-11-01",
            "inj_freq": "2", "share_syringe": "0", "share_cooker": "0",
            "share_filter": "0", "share_water": "0", "reuse_own_syringe": "0",
            "swab_before": "1", "swab_after": "1", "rotate_sites": "1",
            "inject_outdoors_hurry": "0", "abscess": "0", "cellulitis": "0",
            "vein_damage": "0", "missed_hit": "0", "overdose": "0"}]
    assert proj.import_records(new, return_content="ids") == ["900"]
    with Session(live.engine) as session:
        person = session.exec(select(Participant).where(
            Participant.age_at_inclusion == 40)).one()
        assert person.code.startswith("C01-")
        assert session.exec(select(Questionnaire).where(
            Questionnaire.participant_id == person.id)).one().answers["inj_freq"] == "2"
    # The same rows again change nothing and still answer the count.
    assert proj.import_records(new) == {"count": 1}


def test_a_hard_rule_refuses_the_whole_import_and_names_record_event_and_field(
        live: Live) -> None:
    proj = project(live, "worker.a")
    one, three = live.codes["one"], live.codes["three"]
    with Session(live.engine) as session:
        before = len(session.exec(select(Questionnaire)).all())
    future = flat_answers(date(2030, 1, 1), Timepoint("M0"))
    rows = [{"record_id": three, "redcap_event_name": "m0_arm_1", **future},
            {"record_id": one, "redcap_event_name": "m6_arm_1", "inj_freq": "4"}]
    with pytest.raises(redcap.RedcapError) as refused:
        proj.import_records(rows)
    message = str(refused.value)
    assert f"record {three} (m0_arm_1), field 'visit_date'" in message
    assert "date.in_future" in message
    with Session(live.engine) as session:
        assert len(session.exec(select(Questionnaire)).all()) == before
    assert proj.export_records(records=[one], events=["m6_arm_1"],
                               fields=["inj_freq"])[0]["inj_freq"] != "4"


def test_a_soft_rule_saves_and_flags(live: Live) -> None:
    proj = project(live, "worker.a")
    two = live.codes["two"]  # included 300 days ago: M6 window closed at day 224
    late = {"record_id": two, "redcap_event_name": "m6_arm_1",
            **flat_answers(date(2026, 11, 20), Timepoint("M6"))}
    assert proj.import_records([late]) == {"count": 1}
    with Session(live.engine) as session:
        person = session.exec(select(Participant).where(Participant.code == two)).one()
        flagged = session.exec(select(Deviation).where(
            Deviation.participant_id == person.id,
            Deviation.rule_id == "visit.out_of_window")).all()
    assert len(flagged) == 1


def test_pycap_data_frame_with_text_columns_imports_back(live: Live,
                                                       tmp_path: Path) -> None:
    proj = project(live, "officer")
    df = proj.export_records(format_type="df", records=[live.codes["four"]],
                             df_kwargs={"dtype": str, "keep_default_na": False})
    assert isinstance(df, pd.DataFrame)
    assert proj.import_records(df.reset_index(), import_format="df") == {"count": 1}
