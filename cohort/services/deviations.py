"""Raising deviations (idempotently) and reviewing them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from sqlmodel import Session, col, func, select

from cohort.errors import CohortError, NotFound
from cohort.messages import deviation_text, msg
from cohort.models import Deviation, Participant, utcnow
from cohort.rules import Finding
from cohort.services import audit
from cohort.services.code_search import code_contains
from cohort.services.context import PROTOCOL_RULES, Actor, finish, require_role, require_scope
from cohort.services.deid import redact_records
from cohort.vocab import DeviationStatus


def raise_findings(
    session: Session,
    *,
    findings: Iterable[Finding],
    entity: str,
    record_id: int,
    participant: Participant,
    key_suffix: str = "",
) -> list[Deviation]:
    """Add a deviation per finding unless the same one was raised before.

    Called inside the service's transaction, before it commits.
    """
    raised: list[Deviation] = []
    for finding in findings:
        deviation = new_deviation(finding, entity=entity, record_id=record_id,
                                  participant=participant, key_suffix=key_suffix)
        exists = session.exec(
            select(Deviation.id).where(Deviation.dedupe_key == deviation.dedupe_key)).first()
        if exists is not None:
            continue
        session.add(deviation)
        raised.append(deviation)
    if raised:
        session.flush()
        audit_raised(session, raised)
    return raised


def audit_raised(session: Session, deviations: Iterable[Deviation],
                 by: Actor = PROTOCOL_RULES) -> None:
    """Audit flushed deviations as created by a system actor (no staff member raised them:
    the soft rules did, or the time-based checks)."""
    audit.record_creates(session, by, list(deviations))


def new_deviation(
    finding: Finding,
    *,
    entity: str,
    record_id: int,
    participant: Participant,
    key_suffix: str = "",
) -> Deviation:
    """The deviation a finding raises on a record (not added to the session).

    A record created in the same transaction cannot have been flagged before, so bulk
    writers add these directly instead of going through ``raise_findings``'s look-up.
    """
    return Deviation(**deviation_values(finding, entity=entity, record_id=record_id,
                                        participant=participant, key_suffix=key_suffix))


class Named(Protocol):
    """What a deviation keeps of its participant: a ``Participant``, or a row of its
    columns (the time checks read every participant's few columns, not the records)."""

    @property
    def id(self) -> int | None: ...

    @property
    def code(self) -> str: ...

    @property
    def centre_id(self) -> int: ...


def deviation_values(
    finding: Finding,
    *,
    entity: str,
    record_id: int,
    participant: Named,
    key_suffix: str = "",
) -> dict[str, Any]:
    """``new_deviation``'s fields, for a writer that inserts rows (``bulk_writes``)."""
    params = {**finding.reason.params, "participant": participant.code}
    return {
        "rule_id": finding.rule_id,
        "severity": finding.severity,
        "entity": entity,
        "record_id": record_id,
        "participant_id": participant.id,
        "centre_id": participant.centre_id,
        "message": deviation_text(finding.reason.id, params)[:500],
        "message_id": finding.reason.id,
        "message_params": params,
        "dedupe_key": f"{finding.rule_id}:{entity}:{record_id}{key_suffix}",
        "raised_at": utcnow(),  # given: a default factory costs an inspection per call
    }


def describe(deviation: Deviation, lang: str | None = None) -> str:
    """The words of a stored deviation for a reader of ``lang``."""
    return deviation_text(deviation.message_id, deviation.message_params or {}, lang)


def list_deviations(
    session: Session,
    *,
    actor: Actor,
    centre_ids: Sequence[int] | None = None,
    rule_id: str | None = None,
    status: DeviationStatus | None = None,
    limit: int = 500,
    offset: int = 0,
    code_query: str | None = None,
) -> tuple[list[Deviation], int]:
    """Deviations the actor may see, newest first, with the total count (only those of
    participants whose code contains ``code_query``, as ``queries.find_codes`` reads it)."""
    statement = select(Deviation)
    if actor.centre_ids is not None:
        statement = statement.where(col(Deviation.centre_id).in_(actor.centre_ids))
    if centre_ids is not None:
        statement = statement.where(col(Deviation.centre_id).in_(centre_ids))
    if rule_id is not None:
        statement = statement.where(Deviation.rule_id == rule_id)
    if status is not None:
        statement = statement.where(Deviation.status == status)
    if code_query:
        matching = select(Participant.id).where(code_contains(code_query))
        statement = statement.where(col(Deviation.participant_id).in_(matching))
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    rows = session.exec(
        statement.order_by(col(Deviation.raised_at).desc(), col(Deviation.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return redact_records(actor, rows), int(total)


def get_deviation(session: Session, *, actor: Actor, deviation_id: int) -> Deviation:
    """One deviation the actor may see. A deviation tied to no centre is visible only to
    those who see every centre; any other reads as unknown (404)."""
    deviation = session.get(Deviation, deviation_id)
    if deviation is None or not _visible(actor, deviation):
        raise NotFound(msg("deviation.not_found", deviation_id=deviation_id))
    return redact_records(actor, [deviation])[0]


def _visible(actor: Actor, deviation: Deviation) -> bool:
    if deviation.centre_id is None:
        return actor.centre_ids is None
    return actor.can_see(deviation.centre_id)


def review(
    session: Session,
    *,
    actor: Actor,
    deviation_id: int,
    status: DeviationStatus,
    comment: str | None = None,
) -> Deviation:
    """Acknowledge or resolve a deviation; resolving needs a comment."""
    require_role(actor, "review")
    deviation = session.get(Deviation, deviation_id)
    if deviation is None or not _visible(actor, deviation):
        raise NotFound(msg("deviation.not_found", deviation_id=deviation_id))
    require_scope(actor, deviation.centre_id, "review", session=session)
    if status is DeviationStatus.OPEN:
        raise CohortError(msg("deviation.cannot_reopen"))
    if status is DeviationStatus.RESOLVED and not (comment and comment.strip()):
        raise CohortError(msg("deviation.comment_needed"))
    if deviation.status is DeviationStatus.RESOLVED:
        raise CohortError(msg("deviation.already_resolved"))
    before = {
        "status": deviation.status,
        "resolution_comment": deviation.resolution_comment,
        "resolved_by": deviation.resolved_by,
    }
    deviation.status = status
    if comment:
        deviation.resolution_comment = comment.strip()
    deviation.resolved_by = actor.staff_id
    deviation.resolved_at = utcnow()
    session.add(deviation)
    assert deviation.id is not None  # noqa: S101
    audit.record_changes(
        session,
        actor.staff_id,
        "deviation",
        deviation.id,
        {
            "status": (before["status"], deviation.status),
            "resolution_comment": (before["resolution_comment"], deviation.resolution_comment),
            "resolved_by": (before["resolved_by"], deviation.resolved_by),
        },
    )
    finish(session)
    return deviation
