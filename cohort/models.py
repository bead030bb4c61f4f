"""The study's tables, as SQLModel families (Base / Create / table / Public).

What the schema deliberately does not hold: names, contact details or full dates of birth
of participants (GDPR Art. 4(5) pseudonymisation: the study code is generated and the
year of birth is the finest date kept). Participants are never deleted: their status
history records withdrawal, death or loss to follow-up, and a database trigger refuses
``DELETE`` on the participant and audit tables (see ``cohort.guards``), and any rewrite of
the export log, the read log and the lock history.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import model_validator
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from cohort import columns
from cohort.columns import UTCDateTime, _ts
from cohort.messages import deviation_text
from cohort.vocab import (
    Channel,
    DeviationStatus,
    ExportKind,
    Gender,
    Group,
    InjectionSite,
    LockAction,
    Modality,
    Role,
    ScreeningOutcome,
    Setting,
    Severity,
    Status,
    Timepoint,
)

#: The range of an ``Integer`` column on PostgreSQL (SQLite holds more): ids and counts
#: from outside are checked against it before they reach a query.
#: Kept under their old names (``from cohort.models import utcnow`` is everywhere).
utcnow = columns.utcnow
JSONType = columns.JSONType

MIN_INTEGER = -(2**31)
MAX_INTEGER = 2**31 - 1


def _enum(enum_cls: type, name: str) -> sa.Enum:
    """Enums stored as their readable values, as plain strings (no native PG enum type)."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        values_callable=lambda e: [m.value for m in e],
        length=32,
        validate_strings=True,
    )


class TimepointType(TypeDecorator[Timepoint]):
    """A visit name stored as text (the schedule, not the schema, says which visits exist)
    and read back as a :class:`Timepoint`. Same column as the former non-native enum."""

    impl = sa.String(32)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Any) -> Timepoint | None:
        return None if value is None else Timepoint(value)


# --------------------------------------------------------------------------- centres
class CentreBase(SQLModel):
    code: str = Field(max_length=8, unique=True, index=True)
    name: str = Field(max_length=200)
    city: str = Field(max_length=100)
    active: bool = True


class CentreCreate(CentreBase):
    pass


class Centre(CentreBase, table=True):
    id: int | None = Field(default=None, primary_key=True)


class CentrePublic(CentreBase):
    id: int


# --------------------------------------------------------------------------- staff
class StaffBase(SQLModel):
    display_name: str = Field(max_length=120)
    role: Role = Field(sa_type=_enum(Role, "role"))
    centre_id: int | None = Field(default=None, foreign_key="centre.id", index=True)
    aerli_trained_on: date | None = None
    active: bool = True


class StaffCreate(StaffBase):
    pass


class Staff(StaffBase, table=True):
    """A member of the study team; ``centre_id`` is empty for national staff."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _ts()


class StaffPublic(StaffBase):
    id: int


class StaffCentreAccess(SQLModel, table=True):
    """Extra centres a research officer may follow (national officers have none: all)."""

    __tablename__ = "staff_centre_access"
    staff_id: int = Field(foreign_key="staff.id", primary_key=True)
    centre_id: int = Field(foreign_key="centre.id", primary_key=True)


class Account(SQLModel, table=True):
    """Sign-in credentials of a staff member; the password is an Argon2 hash."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    staff_id: int = Field(foreign_key="staff.id", unique=True)
    active: bool = True
    created_at: datetime = _ts()
    last_sign_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Page sessions carry this number; raising it (sign-out, new password, account
    # disabled) ends every page session signed before, wherever the cookie was copied.
    session_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # The language the person chose on their account page ("fr", "en"); None: the
    # browser's Accept-Language, else COHORT_DEFAULT_LANGUAGE (forms.i18n).
    language: str | None = Field(default=None, max_length=8)


class ApiToken(SQLModel, table=True):
    """A bearer token; only its SHA-256 digest is stored."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    token_digest: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = _ts()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked: bool = False


class RedcapToken(SQLModel, table=True):
    """A REDCap API token (32 upper-case hex characters) of one account, for PyCap and
    REDCapR scripts; only its SHA-256 digest is stored, and it never expires by itself.

    An account has at most one live token (``revoked_at`` empty): a new one revokes the
    previous one, as REDCap's "regenerate token" does. Revoked rows are kept (history).
    """

    __tablename__ = "redcap_token"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    token_digest: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = _ts()
    created_by: int | None = Field(default=None, foreign_key="staff.id")
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

class SignInFailure(SQLModel, table=True):
    """A failed sign-in (the name tried, from which address, when), kept for the throttle's
    window and then deleted. In the database, so every server process sees every failure
    (``cohort.services.throttle``)."""

    __tablename__ = "sign_in_failure"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=200, index=True)
    address: str = Field(max_length=64, index=True)
    at: datetime = _ts(index=True)


# --------------------------------------------------------------------------- screening
class ScreeningBase(SQLModel):
    screened_on: date
    centre_id: int = Field(foreign_key="centre.id", index=True)
    staff_id: int = Field(foreign_key="staff.id")
    outcome: ScreeningOutcome = Field(sa_type=_enum(ScreeningOutcome, "screening_outcome"))
    reason: str | None = Field(default=None, max_length=200)
    reached_via: Modality = Field(sa_type=_enum(Modality, "modality"))


class Screening(ScreeningBase, table=True):
    """Every eligibility check, kept without any identifying detail (flow diagram box 1)."""

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int | None = Field(default=None, foreign_key="participant.id")
    created_at: datetime = _ts()


class ScreeningPublic(ScreeningBase):
    id: int
    participant_id: int | None


# --------------------------------------------------------------------------- participants
class ParticipantBase(SQLModel):
    year_of_birth: int | None = None
    gender: Gender | None = Field(default=None, sa_type=_enum(Gender, "gender"))
    inclusion_date: date
    consent_date: date
    age_at_inclusion: int
    injected_past_month: bool
    wish_neck_groin: bool
    reached_via: Modality = Field(sa_type=_enum(Modality, "modality"))
    group: Group = Field(sa_type=_enum(Group, "study_group"))


class Participant(ParticipantBase, table=True):
    __table_args__ = (
        sa.UniqueConstraint("centre_id", "seq", name="uq_participant_centre_seq"),
        # A centre's participants of one month (the retention figures counted again after
        # a save: ``retention_recount.count_cells``).
        sa.Index("ix_participant_centre_inclusion", "centre_id", "inclusion_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True, index=True)
    centre_id: int = Field(foreign_key="centre.id", index=True)
    seq: int
    status: Status = Field(default=Status.ACTIVE, sa_type=_enum(Status, "status"))
    enrolled_by: int = Field(foreign_key="staff.id")
    created_at: datetime = _ts()
    version: int = 1


class ParticipantPublic(ParticipantBase):
    id: int
    code: str
    centre_id: int
    status: Status
    version: int


class ParticipantsPublic(SQLModel):
    data: list[ParticipantPublic]
    count: int


class StatusChange(SQLModel, table=True):
    """One line of a participant's status history; the latest is the current status."""

    __tablename__ = "status_change"
    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    status: Status = Field(sa_type=_enum(Status, "status"))
    effective_date: date
    reason: str | None = Field(default=None, max_length=500)
    recorded_by: int = Field(foreign_key="staff.id")
    recorded_at: datetime = _ts()


# --------------------------------------------------------------------------- questionnaires
class QuestionnaireBase(SQLModel):
    timepoint: Timepoint = Field(sa_type=TimepointType)
    visit_date: date


class Questionnaire(QuestionnaireBase, table=True):
    """One questionnaire per participant and timepoint; answers as validated by the
    data dictionary (normalised codes, calc fields included)."""

    __table_args__ = (
        sa.UniqueConstraint("participant_id", "timepoint", name="uq_questionnaire_timepoint"),
    )
    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    staff_id: int = Field(foreign_key="staff.id")
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    completeness: float = 0.0
    in_window: bool = True
    version: int = 1
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class QuestionnairePublic(QuestionnaireBase):
    id: int
    participant_id: int
    staff_id: int
    answers: dict[str, Any]
    completeness: float
    in_window: bool
    version: int


# --------------------------------------------------------------------------- AERLI sessions
class AerliSessionBase(SQLModel):
    session_date: date
    setting: Setting = Field(sa_type=_enum(Setting, "setting"))
    modality: Modality = Field(sa_type=_enum(Modality, "modality"))
    product: str | None = Field(default=None, max_length=8)
    injection_site: InjectionSite | None = Field(
        default=None, sa_type=_enum(InjectionSite, "injection_site")
    )
    risks: list[str] = Field(default_factory=list, sa_type=JSONType)
    topics: list[str] = Field(default_factory=list, sa_type=JSONType)
    note: str | None = None


class AerliSession(AerliSessionBase, table=True):
    """An AERLI education session. ``counts_for_protocol`` is false when a soft rule
    flagged it (comparison participant, remote, < 2 trained staff, after follow-up)."""

    __tablename__ = "aerli_session"
    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    recorded_by: int = Field(foreign_key="staff.id")
    counts_for_protocol: bool = True
    created_at: datetime = _ts()


class SessionStaff(SQLModel, table=True):
    __tablename__ = "session_staff"
    session_id: int = Field(foreign_key="aerli_session.id", primary_key=True)
    staff_id: int = Field(foreign_key="staff.id", primary_key=True)


class AerliSessionPublic(AerliSessionBase):
    id: int
    participant_id: int
    counts_for_protocol: bool
    staff_ids: list[int] = []


# --------------------------------------------------------------------------- deviations
class Deviation(SQLModel, table=True):
    """A soft or time-based rule that fired; research officers acknowledge or resolve it.

    ``dedupe_key`` makes raising idempotent: the same rule for the same record (and, for
    time-based rules, the same visit) is open at most once. Only open or acknowledged
    deviations are unique per key, so a time-based deviation resolved because its
    condition cleared can be raised again if the condition returns (history is kept).
    """

    __table_args__ = (
        sa.Index("uq_deviation_dedupe_unresolved", "dedupe_key", unique=True,
                 sqlite_where=sa.text("status != 'resolved'"),
                 postgresql_where=sa.text("status != 'resolved'")),
    )
    id: int | None = Field(default=None, primary_key=True)
    rule_id: str = Field(max_length=40, index=True)
    severity: Severity = Field(sa_type=_enum(Severity, "severity"))
    entity: str = Field(max_length=40)
    record_id: int
    participant_id: int | None = Field(default=None, foreign_key="participant.id", index=True)
    centre_id: int | None = Field(default=None, foreign_key="centre.id", index=True)
    #: The English words, kept for older readers of the table; what a page shows is
    #: rendered from ``message_id`` and ``message_params`` in the reader's language.
    message: str = Field(max_length=500)
    #: Catalogue id of the reason (``cohort.messages``) and its parameters, with the
    #: participant's code as ``participant``.
    message_id: str = Field(default="legacy.text", max_length=80)
    message_params: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    raised_at: datetime = _ts()
    status: DeviationStatus = Field(
        default=DeviationStatus.OPEN, sa_type=_enum(DeviationStatus, "deviation_status"), index=True
    )
    resolution_comment: str | None = None
    resolved_by: int | None = Field(default=None, foreign_key="staff.id")
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    dedupe_key: str = Field(max_length=120, index=True)


class DeviationPublic(SQLModel):
    id: int
    rule_id: str
    severity: Severity
    entity: str
    record_id: int
    participant_id: int | None
    centre_id: int | None
    message: str
    message_id: str
    message_params: dict[str, Any]
    raised_at: datetime
    status: DeviationStatus
    resolution_comment: str | None
    resolved_by: int | None
    resolved_at: datetime | None

    @model_validator(mode="after")
    def _words(self) -> DeviationPublic:
        """``message`` is rendered from the id and parameters, in the reader's language
        (``forms.i18n.current_language``)."""
        self.message = deviation_text(self.message_id, self.message_params or {})
        return self


# --------------------------------------------------------------------------- audit
class AuditEntry(SQLModel, table=True):
    """Append-only: one row per changed field (or one per created record).

    Written in the same transaction as the change; triggers refuse UPDATE and DELETE.
    """

    __tablename__ = "audit_entry"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts()
    actor_id: int | None = Field(default=None, foreign_key="staff.id")
    # A system actor (``context.COMMAND_LINE``, ``CHECKS``, ``DEMO``) by name; None: a person.
    actor_system: str | None = Field(default=None, max_length=40)
    action: str = Field(max_length=16)
    table_name: str = Field(max_length=40, index=True)
    record_id: int = Field(index=True)
    field: str | None = Field(default=None, max_length=80)
    old_value: str | None = None
    new_value: str | None = None


# --------------------------------------------------------------------------- imports
class ImportBatch(SQLModel, table=True):
    """A workbook or CSV import that was written; the digest makes re-imports no-ops."""

    __tablename__ = "import_batch"
    id: int | None = Field(default=None, primary_key=True)
    file_digest: str = Field(max_length=64, index=True)
    filename: str = Field(max_length=255)
    kind: str = Field(max_length=40)
    actor_id: int | None = Field(default=None, foreign_key="staff.id")
    imported_at: datetime = _ts()
    rows_written: int = 0
    rows_skipped: int = 0


class ExternalRecord(SQLModel, table=True):
    """Which participant a record of another system (a REDCap ``record_id``) became.

    Kept so that a fresh export of the same project can be imported again: known records
    map to their study code instead of being enrolled twice.
    """

    __tablename__ = "external_record"
    __table_args__ = (
        sa.UniqueConstraint("source", "external_id", name="uq_external_record_source_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=40)
    external_id: str = Field(max_length=100)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    created_at: datetime = _ts()


# --------------------------------------------------------------------------- data protection
class ExportLog(SQLModel, table=True):
    """Append-only: one row per export or download that left the system (file, workbook,
    report, codebook, page of an API list), written by ``cohort.services.access``.

    ``actor_id`` is empty for the command line run without ``--as``; ``actor_name`` then
    holds the operating-system account. ``centre_codes`` null means every centre (a
    full-cohort export, which needs a ``purpose``); an empty list, none.
    """

    __tablename__ = "export_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    actor_id: int | None = Field(default=None, foreign_key="staff.id", index=True)
    actor_name: str = Field(max_length=120)
    channel: Channel = Field(sa_type=_enum(Channel, "channel"))
    client: str | None = Field(default=None, max_length=120)
    kind: ExportKind = Field(sa_type=_enum(ExportKind, "export_kind"))
    fmt: str = Field(max_length=16)
    shape: str | None = Field(default=None, max_length=16)
    fields: list[str] = Field(default_factory=list, sa_type=JSONType)
    rows: int = 0
    centre_codes: list[str] | None = Field(default=None, sa_type=JSONType)
    free_text: bool = False
    deidentified: bool = False
    purpose: str | None = Field(default=None, max_length=500)
    target: str | None = Field(default=None, max_length=255)


class ReadLog(SQLModel, table=True):
    """Append-only: who opened one participant's records, when, from where (one row per
    request, whatever the page shows)."""

    __tablename__ = "read_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts()
    actor_id: int = Field(foreign_key="staff.id", index=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    centre_id: int = Field(foreign_key="centre.id", index=True)
    channel: Channel = Field(sa_type=_enum(Channel, "channel"))
    what: str = Field(max_length=120)
    client: str | None = Field(default=None, max_length=120)


class StudyLock(SQLModel, table=True):
    """Append-only: each time the data manager locked or unlocked the study (no centre) or
    one centre. The latest row of a scope is its state; nothing is ever rewritten."""

    __tablename__ = "study_lock"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts()
    action: LockAction = Field(sa_type=_enum(LockAction, "lock_action"))
    centre_id: int | None = Field(default=None, foreign_key="centre.id")
    actor_id: int = Field(foreign_key="staff.id")
    reason: str = Field(max_length=500)


# Tables of the running service (jobs, shared values), registered on the same metadata.
from cohort import models_ops as _models_ops  # noqa: E402,F401
