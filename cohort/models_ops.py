"""Tables of the running service, not of the study: background jobs, shared values and
the receipts of entries sent from phones that were offline.

Kept apart from the study's tables (``cohort.models`` imports this module at its end so
that one ``SQLModel.metadata`` holds both). Nothing here is archived: a job's files are
copies of what the study tables and the export log already hold, and shared values are
caches and short-lived downloads (``cohort.shared``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from cohort.columns import JSONType, UTCDateTime, _ts


class Job(SQLModel, table=True):
    """Long work asked from the web (a large import, an export, the analysis report), run
    in the background (``cohort.jobs``). Its row is what pages and the API poll: status,
    progress and, once done, a summary and files to download."""

    __tablename__ = "job"
    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=20)
    status: str = Field(max_length=12, index=True)
    actor_id: int = Field(foreign_key="staff.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = _ts()
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
    progress_done: int = 0
    progress_total: int = 0
    progress_note: str = Field(default="", max_length=200)
    result: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    error: str | None = Field(default=None, max_length=2000)
    runner: str | None = Field(default=None, max_length=100)
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class JobFile(SQLModel, table=True):
    """A file a job reads (the uploaded workbook) or writes (an export, a marked copy),
    stored in parts so that neither writing nor downloading holds it whole in memory."""

    __tablename__ = "job_file"
    __table_args__ = (sa.UniqueConstraint("job_id", "role", "name", "part",
                                          name="uq_job_file_part"),)
    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="job.id", index=True, max_length=32)
    role: str = Field(max_length=8)
    name: str = Field(max_length=255)
    media_type: str = Field(max_length=100)
    part: int = 0
    data: bytes = Field(sa_type=sa.LargeBinary)


class SharedValue(SQLModel, table=True):
    """A value every server process sees (``cohort.shared``, when no Redis is configured):
    the annotated copy of an import waiting to be downloaded, a cached retention summary.
    Expired rows are ignored and swept."""

    __tablename__ = "shared_value"
    key: str = Field(primary_key=True, max_length=200)
    value: bytes = Field(sa_type=sa.LargeBinary)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


class SyncReceipt(SQLModel, table=True):
    """An entry made on a phone (offline) and applied here, by the id the phone gave it.

    Written in the same transaction as the entry itself, with the id as primary key: a
    resend (the network dropped before the answer arrived, two tabs sending at once) finds
    the receipt and answers what was saved the first time, and two concurrent first sends
    cannot both commit. Refused entries get no receipt: corrected, they are sent again
    under the same id. ``result`` holds the ids the entry created (participant code, record
    id), never answers."""

    __tablename__ = "sync_receipt"
    entry_uuid: str = Field(primary_key=True, max_length=36)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    kind: str = Field(max_length=20)
    participant_code: str | None = Field(default=None, max_length=32)
    result: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    made_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    received_at: datetime = _ts()
