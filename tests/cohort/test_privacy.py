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

# Table -> the OpenAPI component that returns its rows.
API_SCHEMAS = {"participant": "ParticipantPublic", "questionnaire": "QuestionnairePublic",
               "aerli_session": "AerliSessionPublic", "status_change": "StatusChangePublic",
               "deviation": "DeviationPublic", "staff": "StaffOut", "account": "AccountOut",
               "centre": "CentrePublic", "audit_entry": "AuditOut"}
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
