"""Request and response bodies of the REST API (the tables' own families where they fit)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Field, SQLModel

from cohort.models import (
    AerliSessionPublic,
    Deviation,
    DeviationPublic,
    ParticipantPublic,
    QuestionnairePublic,
    StaffCreate,
)
from cohort.services.deviations import describe
from cohort.vocab import Group, Role, Status


class DeviationBrief(SQLModel):
    """A deviation a saved write raised: the record was kept, and flagged."""

    id: int
    rule_id: str
    message: str
    message_id: str
    message_params: dict[str, Any]


def briefs(deviations: list[Deviation]) -> list[DeviationBrief]:
    return [DeviationBrief(id=d.id or 0, rule_id=d.rule_id, message=describe(d),
                           message_id=d.message_id, message_params=d.message_params)
            for d in deviations]


class ParticipantSaved(SQLModel):
    participant: ParticipantPublic
    deviations: list[DeviationBrief] = []


class QuestionnaireIn(SQLModel):
    """Answers as the data dictionary codes them (choices as codes, checkboxes as lists)."""

    answers: dict[str, Any]


class QuestionnaireUpdate(QuestionnaireIn):
    version: int = Field(description="The version you loaded; a stale one answers 409.")


class QuestionnaireSaved(SQLModel):
    questionnaire: QuestionnairePublic
    deviations: list[DeviationBrief] = []


class QuestionnairesPublic(SQLModel):
    data: list[QuestionnairePublic]
    count: int


class SessionSaved(SQLModel):
    session: AerliSessionPublic
    deviations: list[DeviationBrief] = []


class SessionCorrected(SQLModel):
    """A corrected session, the deviations the correction cleared and those it raised."""

    session: AerliSessionPublic
    cleared: list[DeviationBrief] = []
    raised: list[DeviationBrief] = []


class SessionsPublic(SQLModel):
    data: list[AerliSessionPublic]
    count: int


class StatusIn(SQLModel):
    status: Status
    effective_date: date
    reason: str | None = Field(default=None, max_length=500)


class StatusChangePublic(SQLModel):
    id: int
    status: Status
    effective_date: date
    reason: str | None
    recorded_at: datetime


class GroupIn(SQLModel):
    group: Group


class ReviewIn(SQLModel):
    comment: str | None = Field(default=None, max_length=2000)


class DeviationsPublic(SQLModel):
    data: list[DeviationPublic]
    count: int


class TokenOut(SQLModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)
    expires_in: int


class MeOut(SQLModel):
    username: str
    staff_id: int
    display_name: str
    role: Role
    centre_id: int | None
    centre_ids: list[int] | None = Field(description="Centres visible; null means all.")


class StaffOut(SQLModel):
    """A staff member; ``display_name`` is null for statisticians (de-identified)."""

    id: int
    display_name: str | None
    role: Role
    centre_id: int | None
    aerli_trained_on: date | None
    active: bool


class StaffIn(StaffCreate):
    extra_centre_codes: list[str] = Field(
        default=[], description="Research officers limited to some centres: their codes."
    )


class StaffPatch(SQLModel):
    """Only the fields sent are changed."""

    aerli_trained_on: date | None = Field(
        default=None, description="Date AERLI training was completed (not in the future); "
                                  "null clears it.")
    active: bool | None = Field(default=None, description="false: no longer on the team "
                                                          "(their sign-ins end).")
    extra_centre_codes: list[str] | None = Field(
        default=None, description="Research officers: the centres they are limited to "
                                  "(codes); [] makes them national again.")


class AccountIn(SQLModel):
    staff_id: int
    username: str = Field(max_length=80)
    password: str = Field(min_length=1, max_length=200)


class AccountPatch(SQLModel):
    active: bool | None = None
    password: str | None = Field(default=None, max_length=200)


class AccountOut(SQLModel):
    id: int
    username: str
    staff_id: int
    role: Role
    centre_id: int | None
    active: bool
    last_sign_in_at: datetime | None


class AuditOut(SQLModel):
    id: int
    at: datetime
    actor_id: int | None
    actor_name: str | None = None
    action: str
    table_name: str
    record_id: int
    field: str | None
    old_value: str | None
    new_value: str | None


class RuleOut(SQLModel):
    id: str
    severity: str
    applies_to: str
    message: str
