"""The export log and the read log: who took what out of the system, who opened whose records.

Entry points call one function each, once per export or request:

* ``record_export`` for anything that leaves the system as a file or a page of records:
  ``cohort export``/``analyse``/``template``/``report``/``archive``, the dictionary and
  codebook commands, the web downloads, each page of an API list. Call it after the data
  are built and before they are handed over, so that nothing leaves unlogged. The REDCap
  API (``POST /api/``) calls it like any other entry point, for example::

      record_export(session, actor=user.actor, actor_name=user.account.username,
                    channel=Channel.REDCAP_API, client=request.client.host,
                    kind=ExportKind.EXPORT, fmt="csv", rows=len(records),
                    fields=sorted(fields), centre_codes=visible_codes(session, user.actor),
                    deidentified=user.deidentified, free_text=not user.deidentified)

  A full-cohort export (no centre filter) of records, a monitoring report or an archive
  asked by a person at the command line or on the web needs a ``purpose`` (rule
  ``export.no_purpose``).
* ``record_read`` once per request that shows one participant's records (participant page,
  history, questionnaires, sessions, on the pages and the API): one insert, committed at
  once, before the records are read.

Both logs are append-only (database triggers refuse UPDATE and DELETE, as on the audit
trail). Research officers review reads of their centres' participants; the data manager
and national research officers review everything, exports included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, insert
from sqlmodel import Session, col, select

from cohort import rules
from cohort.errors import ActionNotAllowed
from cohort.messages import msg
from cohort.models import Centre, ExportLog, Participant, ReadLog, Staff, utcnow
from cohort.rules import ExportFacts
from cohort.services.context import Actor, finish, in_batch, require_role
from cohort.vocab import Channel, ExportKind
from forms.i18n import N_

# Kinds of export whose full-cohort version needs a stated purpose when a person asks for
# it: participant-level records (an analysis report holds aggregates only).
PURPOSE_KINDS = frozenset({ExportKind.EXPORT, ExportKind.REPORT, ExportKind.ARCHIVE})
# Where a person can be asked (an API client cannot; it may send a purpose header).
ASKED_CHANNELS = frozenset({Channel.CLI, Channel.WEB})
# Purposes a person can pick; any other text may be typed. English, marked for the
# catalogue: a page shows each with ``_()`` (the log keeps what was picked, as shown).
PURPOSES = (N_("Statistical analysis"), N_("Monitoring of enrolment and retention"),
            N_("Data entry (offline workbook)"), N_("Data quality control"),
            N_("Report to the sponsor"), N_("End-of-study archive"))
_MAX_FIELDS = 2000


def visible_codes(session: Session, actor: Actor) -> list[str] | None:
    """The centre codes an actor's export covers: None for everyone's (a full cohort)."""
    if actor.centre_ids is None:
        return None
    return list(session.exec(select(Centre.code).where(col(Centre.id).in_(actor.centre_ids))
                             .order_by(col(Centre.code))).all())


def check_purpose(*, kind: ExportKind, channel: Channel, centre_codes: Sequence[str] | None,
                  purpose: str | None) -> None:
    """Rule ``export.no_purpose``, asked before building a full-cohort export."""
    full = centre_codes is None and kind in PURPOSE_KINDS and channel in ASKED_CHANNELS
    rules.enforce("export", ExportFacts(full, purpose))


def record_export(
    session: Session,
    *,
    actor: Actor,
    actor_name: str,
    channel: Channel,
    kind: ExportKind,
    fmt: str,
    rows: int,
    fields: Sequence[str] = (),
    shape: str | None = None,
    centre_codes: Sequence[str] | None = None,
    free_text: bool = False,
    deidentified: bool = False,
    purpose: str | None = None,
    client: str | None = None,
    target: str | None = None,
) -> ExportLog:
    """Log one export and commit (or flush inside a ``batch``).

    ``actor`` None is the command line without ``--as`` (``actor_name`` then names the
    operating-system account). ``centre_codes`` None: every centre. ``fields`` are the
    columns or variables handed over. Raises ``PurposeMissing`` (rule ``export.no_purpose``)
    when a full-cohort export asked by a person has no purpose: nothing is logged, and the
    caller must not hand the data over.
    """
    check_purpose(kind=kind, channel=channel, centre_codes=centre_codes, purpose=purpose)
    if not in_batch(session):
        session.commit()  # end the read transaction first (SQLite: no stale-snapshot write)
    entry = ExportLog(
        actor_id=actor.audit_id,
        actor_name=actor_name[:120], channel=channel, client=(client or None) and client[:120],
        kind=kind, fmt=fmt[:16], shape=shape, fields=list(fields)[:_MAX_FIELDS], rows=rows,
        centre_codes=sorted(centre_codes) if centre_codes is not None else None,
        free_text=free_text, deidentified=deidentified,
        purpose=(purpose or "").strip()[:500] or None, target=(target or None) and target[-255:])
    session.add(entry)
    finish(session)
    return entry


_READ_TABLE = ReadLog.__table__  # type: ignore[attr-defined]


def record_read(session: Session, *, actor: Actor, participant: Participant, channel: Channel,
                what: str, client: str | None = None) -> None:
    """Log that ``actor`` opened ``participant``'s records; one insert, committed now.

    Call it once per request, before reading anything else: the read transaction that
    found the participant is ended first, so that on SQLite the insert waits for the write
    lock like any writer instead of failing on a stale snapshot. A Core INSERT, not an ORM
    object: nothing reads the entry back in the request.
    """
    session.commit()
    session.connection().execute(insert(_READ_TABLE), {
        "at": utcnow(), "actor_id": actor.staff_id, "participant_id": participant.id,
        "centre_id": participant.centre_id, "channel": channel.value, "what": what[:120],
        "client": (client or None) and client[:120]})
    session.commit()


# --------------------------------------------------------------------------- review
@dataclass(frozen=True)
class ReadRow:
    at: datetime
    staff_id: int
    staff: str
    participant: str
    centre: str
    channel: str
    what: str
    client: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "staff_id": self.staff_id, "staff": self.staff,
                "participant": self.participant, "centre": self.centre,
                "channel": self.channel, "what": self.what, "client": self.client}


@dataclass(frozen=True)
class LogFilter:
    """What to review: a centre, a person (staff id), a participant, a period (inclusive)."""

    centre_id: int | None = None
    staff_id: int | None = None
    participant_code: str | None = None
    since: date | None = None
    until: date | None = None
    limit: int = 200
    offset: int = 0


def _period(column: Any, f: LogFilter) -> list[Any]:
    where = []
    if f.since is not None:
        where.append(column >= datetime.combine(f.since, time(), tzinfo=UTC))
    if f.until is not None:
        end = datetime.combine(f.until + timedelta(days=1), time(), tzinfo=UTC)
        where.append(column < end)
    return where


def list_reads(session: Session, *, actor: Actor, where: LogFilter = LogFilter()
               ) -> tuple[list[ReadRow], int]:
    """Reads of participants the actor may see (research officers: their centres), newest
    first, with the total for paging."""
    require_role(actor, "access_log")
    statement = (
        select(ReadLog, Participant.code, Centre.code, Staff.display_name)
        .join(Participant, col(ReadLog.participant_id) == col(Participant.id))
        .join(Centre, col(ReadLog.centre_id) == col(Centre.id))
        .join(Staff, col(ReadLog.actor_id) == col(Staff.id)))
    conditions = _period(col(ReadLog.at), where)
    if actor.centre_ids is not None:
        conditions.append(col(ReadLog.centre_id).in_(actor.centre_ids))
    if where.centre_id is not None:
        conditions.append(col(ReadLog.centre_id) == where.centre_id)
    if where.staff_id is not None:
        conditions.append(col(ReadLog.actor_id) == where.staff_id)
    if where.participant_code:
        conditions.append(col(Participant.code) == where.participant_code.strip().upper())
    statement = statement.where(*conditions)
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    rows = session.exec(statement.order_by(col(ReadLog.id).desc())
                        .offset(where.offset).limit(where.limit))
    return [ReadRow(entry.at, entry.actor_id, name, code, centre, entry.channel.value,
                    entry.what, entry.client)
            for entry, code, centre, name in rows], int(total)


@dataclass(frozen=True)
class ExportRow:
    entry: ExportLog
    staff: str

    def as_dict(self) -> dict[str, Any]:
        e = self.entry
        return {"at": e.at.isoformat(), "staff_id": e.actor_id, "staff": self.staff,
                "channel": e.channel.value, "client": e.client, "kind": e.kind.value,
                "format": e.fmt, "shape": e.shape, "rows": e.rows, "fields": e.fields,
                "centres": e.centre_codes if e.centre_codes is not None else "all",
                "free_text": e.free_text, "deidentified": e.deidentified,
                "purpose": e.purpose, "target": e.target}


def list_exports(session: Session, *, actor: Actor, where: LogFilter = LogFilter()
                 ) -> tuple[list[ExportRow], int]:
    """The export log, newest first: for the data manager and national research officers
    (an export may span centres an officer does not follow)."""
    require_role(actor, "access_log")
    if actor.centre_ids is not None:
        raise ActionNotAllowed("scope.role", msg("scope.role.export_log"))
    statement = select(ExportLog, Staff.display_name).join(
        Staff, col(ExportLog.actor_id) == col(Staff.id), isouter=True)
    conditions = _period(col(ExportLog.at), where)
    if where.staff_id is not None:
        conditions.append(col(ExportLog.actor_id) == where.staff_id)
    if where.centre_id is not None:
        code = session.get(Centre, where.centre_id)
        # Exports of every centre cover this one too; JSON lists are matched in Python.
        statement = statement.where(*conditions)
        rows = [ExportRow(e, n or e.actor_name)
                for e, n in session.exec(statement.order_by(col(ExportLog.id).desc()))
                if e.centre_codes is None or (code and code.code in e.centre_codes)]
        return rows[where.offset:where.offset + where.limit], len(rows)
    statement = statement.where(*conditions)
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    found = session.exec(statement.order_by(col(ExportLog.id).desc())
                         .offset(where.offset).limit(where.limit))
    return [ExportRow(e, n or e.actor_name) for e, n in found], int(total)
