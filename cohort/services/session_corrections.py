"""Correcting an AERLI session that was logged wrongly (a forgotten second worker, the
wrong modality or date).

A correction is judged exactly as a new session (``sessions.assess``): the soft rules are
evaluated again on the corrected facts. A deviation the correction makes untrue is
resolved, its comment naming what changed and the reason given; one it makes true is
raised; ``counts_for_protocol`` follows. Every changed field is audited old -> new with the
reason, in the same transaction. Nothing is deleted from the history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from cohort import rules
from cohort.codes import normalise_code
from cohort.errors import CohortError, NotFound
from cohort.messages import msg, render
from cohort.models import AerliSession, Deviation, Participant, SessionStaff, Staff, utcnow
from cohort.rules import DatedFacts, Finding
from cohort.services import audit
from cohort.services.context import Actor, finish, get_participant, require_scope, today
from cohort.services.deviations import audit_raised, new_deviation
from cohort.services.sessions import AerliSessionCreate, assess, checked, session_staff_ids
from cohort.vocab import DeviationStatus
from forms.i18n import _, format_date, ngettext

#: The session's own fields a correction may change (besides the workers present).
FIELDS = ("session_date", "setting", "modality", "product", "injection_site", "risks",
          "topics", "note")
ENTITY = "aerli_session"
MAX_REASON = 500


@dataclass
class Corrected:
    """The corrected session, the deviations the correction cleared and those it raised."""

    record: AerliSession
    cleared: list[Deviation]
    raised: list[Deviation]


def _why(rule_id: str, record: AerliSession, trained: int) -> str:
    """Why a rule no longer applies to the corrected session, in plain words (the reader's
    language: the comment is stored as written)."""
    words: dict[str, Callable[[], str]] = {
        "session.trained_staff": lambda: ngettext(
            "{count} AERLI-trained worker now listed as present",
            "{count} AERLI-trained workers now listed as present", trained).format(
                count=trained),
        "session.not_in_person": lambda: _("the session is now recorded as held {modality}")
        .format(modality=record.modality.value.replace("_", " ")),
        "session.high_risk_site": lambda: _(
            "the injection site is now recorded as {site}").format(
                site=record.injection_site.value if record.injection_site
                else _("not given")),
        "session.after_follow_up": lambda: _(
            "the session is now dated {date}, within follow-up").format(
                date=format_date(record.session_date)),
    }
    known = any(r.id == rule_id for r in rules.RULES)
    return words[rule_id]() if rule_id in words else _("'{rule}' no longer applies").format(
        rule=render(f"rule.{rule_id}") if known else rule_id)


def correct_session(
    session: Session,
    *,
    actor: Actor,
    session_id: int,
    data: AerliSessionCreate,
    reason: str,
    on: date | None = None,
    code: str | None = None,
) -> Corrected:
    """Correct a logged session; ``reason`` (required) says why, for the audit trail and
    for the comment on any deviation the correction clears. With ``code``, the session
    must be that participant's (a path naming someone else's session reads as unknown)."""
    record = session.get(AerliSession, session_id)
    owner = session.get(Participant, record.participant_id) if record is not None else None
    if record is None or owner is None or (
            code is not None and normalise_code(code) != owner.code):
        raise NotFound(msg("session.not_found", id=session_id))
    participant = get_participant(session, actor, owner.code)
    require_scope(actor, participant.centre_id, session=session)
    reason = " ".join((reason or "").split())
    if not reason:
        raise CohortError(msg("session.correction_reason_needed"))
    if len(reason) > MAX_REASON:
        raise CohortError(msg("session.correction_reason_too_long", limit=MAX_REASON))
    rules.enforce("dated", DatedFacts(data.session_date, participant.inclusion_date,
                                      on or today(), what="session"))
    data = checked(data)
    staff_ids, findings = assess(session, participant, data)
    assert record.id is not None  # noqa: S101
    before: dict[str, Any] = {name: getattr(record, name) for name in FIELDS}
    before_staff = session_staff_ids(session, record.id)
    before_counts = record.counts_for_protocol
    new = data.model_dump(exclude={"staff_ids"})
    if {n: new[n] for n in FIELDS} == before and staff_ids == before_staff:
        raise CohortError(msg("session.correction_unchanged"))
    for name in FIELDS:
        setattr(record, name, new[name])
    record.counts_for_protocol = not rules.disqualifies_session(findings)
    session.add(record)
    for gone in set(before_staff) - set(staff_ids):
        link = session.get(SessionStaff, (record.id, gone))
        if link is not None:
            session.delete(link)
    session.add_all([SessionStaff(session_id=record.id, staff_id=s)
                     for s in sorted(set(staff_ids) - set(before_staff))])
    changes: dict[str, tuple[Any, Any]] = {name: (before[name], new[name]) for name in FIELDS}
    changes["staff_ids"] = (before_staff, staff_ids)
    changes["counts_for_protocol"] = (before_counts, record.counts_for_protocol)
    changes["correction_reason"] = (None, reason)
    audit.record_changes(session, actor.staff_id, ENTITY, record.id, changes)
    trained = _trained(session, staff_ids, data.session_date)
    cleared = _clear(session, actor, record, findings, reason, trained, on or today())
    raised = _raise(session, record, participant, findings)
    finish(session)
    return Corrected(record, cleared, raised)


def _trained(session: Session, staff_ids: list[int], on: date) -> int:
    staff = session.exec(select(Staff).where(col(Staff.id).in_(staff_ids))).all()
    return sum(1 for s in staff if s.aerli_trained_on is not None and s.aerli_trained_on <= on)


def _open(session: Session, record_id: int) -> list[Deviation]:
    return list(session.exec(select(Deviation).where(
        Deviation.entity == ENTITY, Deviation.record_id == record_id,
        Deviation.status != DeviationStatus.RESOLVED).order_by(col(Deviation.id))).all())


def _clear(session: Session, actor: Actor, record: AerliSession, findings: list[Finding],
           reason: str, trained: int, day: date) -> list[Deviation]:
    """Resolve the session's open deviations whose rule no longer fires."""
    assert record.id is not None  # noqa: S101
    firing = {f.rule_id for f in findings}
    cleared = []
    for deviation in _open(session, record.id):
        if deviation.rule_id in firing:
            continue
        assert deviation.id is not None  # noqa: S101
        old = (deviation.status, deviation.resolution_comment, deviation.resolved_by)
        deviation.status = DeviationStatus.RESOLVED
        deviation.resolution_comment = _(
            "Cleared by a correction of the session on {date}: {why}. Reason given: "
            "{reason}").format(date=format_date(day), why=_why(deviation.rule_id, record, trained),
                               reason=reason)
        deviation.resolved_by = actor.staff_id
        deviation.resolved_at = utcnow()
        session.add(deviation)
        audit.record_changes(session, actor.staff_id, "deviation", deviation.id, {
            "status": (old[0], deviation.status),
            "resolution_comment": (old[1], deviation.resolution_comment),
            "resolved_by": (old[2], deviation.resolved_by)})
        cleared.append(deviation)
    return cleared


def _raise(session: Session, record: AerliSession, participant: Participant,
           findings: list[Finding]) -> list[Deviation]:
    """Raise what the corrected session breaks and is not already open (a deviation cleared
    earlier may be raised again: its history stays)."""
    assert record.id is not None  # noqa: S101
    still_open = {d.rule_id for d in _open(session, record.id)}
    raised = [new_deviation(f, entity=ENTITY, record_id=record.id, participant=participant)
              for f in findings if f.rule_id not in still_open]
    if raised:
        session.add_all(raised)
        session.flush()
        audit_raised(session, raised)
    return raised
