"""The record of processing says what the code does: every column classified, the API and
export flags equal to the OpenAPI schema and the analysis extraction, readers from the
role rules."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from cohort import privacy
from cohort.vocab import Role
from tests.conftest import TODAY
from tests.factories import Factory

# Table -> the OpenAPI component that returns its rows.
API_SCHEMAS = {"participant": "ParticipantPublic", "questionnaire": "QuestionnairePublic",
               "aerli_session": "AerliSessionPublic", "status_change": "StatusChangePublic",
               "deviation": "DeviationPublic", "staff": "StaffOut", "account": "AccountOut",
               "centre": "CentrePublic", "audit_entry": "AuditOut", "job": "JobOut"}
# Table -> the analysis frame that reads it, and the frame's names for renamed columns.
FRAMES = {"participant": ("participants", {"participant_id": "id"}),
          "questionnaire": ("questionnaires", {}),
          "aerli_session": ("sessions", {"session_id": "id"}),
          "deviation": ("deviations", {"deviation_id": "id"}),
          "status_change": ("status_changes", {"status_change_id": "id"}),
          "screening": ("screening", {"screening_id": "id"})}


def test_every_column_of_the_schema_is_classified() -> None:
    assert privacy.unclassified() == []
    assert set(privacy.SCHEMA) == set(SQLModel.metadata.tables)


def test_api_flags_match_the_openapi_schema() -> None:
    from api.app import create_app
    from tests.api.conftest import fixed_key_settings

    components = create_app(fixed_key_settings()).openapi()["components"]["schemas"]
    for table, schema in API_SCHEMAS.items():
        columns = {c.name for c in SQLModel.metadata.tables[table].columns}
        shown = set(components[schema]["properties"]) & columns
        declared = {name for name, spec in privacy.SCHEMA[table].items() if spec.api}
        assert declared == shown, table
    others = set(privacy.SCHEMA) - set(API_SCHEMAS)
    assert not [t for t in others if any(s.api for s in privacy.SCHEMA[t].values())]


def test_export_flags_match_the_analysis_extraction(engine: Engine) -> None:
    from analysis.data import _extract

    with engine.connect() as connection:
        frames = _extract(connection, TODAY)
    for table, (frame, renamed) in FRAMES.items():
        columns = {c.name for c in SQLModel.metadata.tables[table].columns}
        read = {renamed.get(c, c) for c in frames[frame].columns} & columns
        declared = {name for name, spec in privacy.SCHEMA[table].items() if spec.export}
        assert declared == read, table


def test_statisticians_never_read_free_text_or_staff_names() -> None:
    rows = privacy.field_rows()
    free = [r for r in rows if r.category == privacy.Category.FREE_TEXT.value]
    assert {"aerli_session.note", "status_change.reason", "deviation.resolution_comment",
            "screening.reason"} <= {f"{r.table}.{r.field}" for r in free}
    assert any(r.field.startswith("answers.") for r in free)
    assert all(Role.STATISTICIAN.value not in r.read_by for r in free)
    name = next(r for r in rows if (r.table, r.field) == ("staff", "display_name"))
    assert "no names" in name.read_by[Role.STATISTICIAN.value]
    secrets = [r for r in rows if r.category == privacy.Category.CREDENTIAL.value]
    assert secrets and all(not r.read_by and "archive bundle" not in r.goes_to
                           for r in secrets)


@pytest.mark.parametrize("table", ["read_log", "export_log", "audit_entry", "study_lock"])
def test_logs_are_traces_read_by_officers_or_the_data_manager(table: str) -> None:
    rows = [r for r in privacy.field_rows() if r.table == table]
    assert rows and all(r.category == privacy.Category.TRACE.value for r in rows)
    assert all(Role.ADMIN.value in r.read_by and Role.STATISTICIAN.value not in r.read_by
               for r in rows)


def test_redcap_api_columns_are_those_its_rows_carry(factory: Factory) -> None:
    """Every value the REDCap API's flat rows carry is declared (and nothing else), so the
    record of processing lists the REDCap API wherever data leave through it."""
    from datetime import timedelta

    from cohort.models import StatusChange
    from cohort.redcap.values import session_values, status_values
    from cohort.services.enrolment import enrolment_answers
    from cohort.vocab import Status

    worker = factory.worker()
    person = factory.participant(worker)
    session_record = factory.aerli_session(worker, person, note="Spoke about water").record
    change = StatusChange(participant_id=person.id, status=Status.WITHDRAWN, reason="Moved",
                          effective_date=person.inclusion_date + timedelta(days=40),
                          recorded_by=worker.staff_id)
    enrolment_columns = {"age": "age_at_inclusion", "study_group": "group", "consent": None}
    carried = {
        "participant": {enrolment_columns.get(k, k) for k in enrolment_answers(person)}
        - {None} | {"code", "centre_id"},
        "aerli_session": {{"session_note": "note"}.get(k, k)
                          for k in session_values(session_record)},
        "status_change": {{"fu_status": "status", "fu_status_date": "effective_date",
                           "fu_reason": "reason"}[k] for k in status_values(change)},
    }
    for table, columns in carried.items():
        assert privacy.REDCAP_API[table] == columns, table
    rows = {r.table + "." + r.field: r for r in privacy.field_rows()}
    assert "REDCap API (POST /api/)" in rows["participant.code"].goes_to
    assert "REDCap API (POST /api/)" not in rows["participant.seq"].goes_to
