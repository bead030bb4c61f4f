"""The policy of imports, whatever the file: who a row is, what is already stored, what is
refused.

The Excel package (``cohort.excel``) reads cells and places problems on them; the decisions
are here, through the rules of :mod:`cohort.import_rules` (listed by ``cohort rules``):

- **participant matching**: a REDCap record maps to the participant it became
  (``ExternalRecord``), or to the participant whose study code it is (:func:`known_records`);
  a record moved over before links were kept is adopted when its enrolment matches one
  participant answer for answer (:func:`link_record`, :func:`adopt_record`);
- **duplicate detection**: an enrolment row equal to a participant already enrolled
  (:func:`same_enrolments`, rule ``import.duplicate_enrolment``), a session already stored
  (:func:`session_stored`);
- **refusals**: a status dated before a later stored change (``import.status_out_of_order``),
  an enrolment answer a known record sends differently (``import.enrolment_changed``), a row
  without a code (``import.no_code``), a session without its workers (``import.no_staff``,
  ``import.unknown_staff``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cohort import rules
from cohort.db import violates
from cohort.errors import CohortError, OutsideCentreScope, ProtocolViolation
from cohort.import_rules import (
    EnrolmentChangeFacts,
    RowFacts,
    StatusOrderFacts,
    TwinFacts,
)
from cohort.messages import msg
from cohort.models import (
    Account,
    AerliSession,
    Centre,
    ExternalRecord,
    Participant,
    StatusChange,
)
from cohort.services import audit
from cohort.services.context import Actor, get_participant, require_scope
from cohort.services.enrolment import EnrolmentCreate
from cohort.services.participants import change_status
from cohort.services.sessions import AerliSessionCreate
from cohort.vocab import Status

#: Record ids per ``IN (...)`` query; well under every engine's parameter limit.
CHUNK = 900
_STAFF_SPLIT = re.compile(r"[,;/\s]+")


# --------------------------------------------------------------------------- matching
def known_records(session: Session, actor: Actor, source: str, ids: Sequence[str]
                  ) -> tuple[dict[str, str], set[str]]:
    """Record id -> study code for the records already known here, and the records linked
    to participants of centres the actor does not work with (refused as a whole).

    A record is known by its link (``ExternalRecord`` of ``source``) or, failing that, when
    its id is a participant's study code.
    """
    codes: dict[str, str] = {}
    hidden: set[str] = set()
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        linked = session.exec(
            select(ExternalRecord.external_id, Participant.code, Participant.centre_id)
            .join(Participant, col(ExternalRecord.participant_id) == col(Participant.id))
            .where(ExternalRecord.source == source, col(ExternalRecord.external_id).in_(chunk)))
        for linked_id, code, centre_id in linked:
            if actor.can_see(centre_id):
                codes[linked_id] = code
            else:
                hidden.add(linked_id)
        named = session.exec(select(Participant.code).where(col(Participant.code).in_(chunk)))
        for code in named:
            if code not in hidden:
                codes.setdefault(code, code)
    return codes, hidden


#: The unique constraint that keeps one participant per record of a source.
LINK_CONSTRAINT = "uq_external_record_source_id"


def link_record(session: Session, actor: Actor, source: str, record: str,
                person: Participant) -> None:
    """Store that ``record`` of ``source`` is ``person`` (in the caller's SAVEPOINT).

    The record may be linked already although :func:`known_records` did not see it: by an
    import that committed meanwhile, or, on PostgreSQL, to a participant of a centre the
    actor does not work with (row-level security hides that link from them). The link is
    tried in a SAVEPOINT of its own, so that it can be looked up again after the refusal:
    one in reach was moved meanwhile (``import.record_moved_meanwhile``), any other is
    another centre's (rule ``scope.other_centre``, as :func:`known_records` would say).
    The caller's SAVEPOINT then undoes the enrolment: nothing of the record is written."""
    assert person.id is not None  # noqa: S101
    require_scope(actor, person.centre_id, session=session)
    entry = ExternalRecord(source=source, external_id=record, participant_id=person.id)
    try:
        with session.begin_nested():
            session.add(entry)
            session.flush()
    except IntegrityError as error:
        if not violates(error, "external_record", LINK_CONSTRAINT,
                        ("source", "external_id")):
            raise
        owner = session.exec(
            select(Participant.centre_id)
            .join(ExternalRecord, col(ExternalRecord.participant_id) == col(Participant.id))
            .where(ExternalRecord.source == source, ExternalRecord.external_id == record)
        ).first()
        if owner is None or not actor.can_see(owner):
            raise OutsideCentreScope("scope.other_centre",
                                   msg("import.other_centre_record", record=record)) from None
        raise CohortError(msg("import.record_moved_meanwhile", record=record)) from None
    audit.record_create(session, actor.audit_id, entry)


def adopt_record(session: Session, actor: Actor, source: str, record: str,
                 person: Participant) -> bool:
    """A record moved over before links were kept (migration 0003) whose enrolment matches
    ``person``: linked now, unless ``person`` already has a record of ``source``."""
    linked = session.exec(select(ExternalRecord.id).where(
        ExternalRecord.source == source, ExternalRecord.participant_id == person.id)).first()
    if linked is not None:
        return False
    link_record(session, actor, source, record, person)
    return True


# --------------------------------------------------------------------------- duplicates
def same_enrolments(session: Session, data: EnrolmentCreate, actor: Actor,
                    exclude: set[str] | None = None,
                    centre: str | None = None) -> list[Participant]:
    """Every visible participant (of ``centre``, when given) enrolled with the same
    answers, those in ``exclude`` last."""
    candidates = session.exec(select(Participant).where(
        Participant.inclusion_date == data.inclusion_date,
        Participant.age_at_inclusion == data.age)).all()
    centre_id = None
    if centre:
        centre_id = session.exec(select(Centre.id).where(
            Centre.code == centre.strip().upper())).first()
    candidates = sorted(candidates, key=lambda p: (p.code in (exclude or set()), p.code))
    return [person for person in candidates
            if actor.can_see(person.centre_id)
            and (centre_id is None or person.centre_id == centre_id)
            and (person.consent_date, person.year_of_birth, person.gender, person.group,
                 person.injected_past_month, person.wish_neck_groin, person.reached_via) == (
                data.consent_date, data.year_of_birth, data.gender, data.group,
                data.injected_past_month, data.wish_neck_groin, data.reached_via)]


def refuse_duplicate_enrolment(twin: str | None) -> None:
    """Rule ``import.duplicate_enrolment``: a new row equal to a stored participant."""
    rules.enforce("import.enrolment", TwinFacts(twin))


def session_stored(session: Session, actor: Actor, code: str,
                   data: AerliSessionCreate) -> bool:
    """Whether the participant already has this session (same day, setting, modality and
    content): importing the file again counts it unchanged."""
    person = get_participant(session, actor, code)
    stored = session.exec(select(AerliSession).where(
        AerliSession.participant_id == person.id,
        AerliSession.session_date == data.session_date,
        col(AerliSession.setting) == data.setting,
        col(AerliSession.modality) == data.modality)).all()
    return any(s.product == data.product and s.injection_site == data.injection_site
               and sorted(s.risks) == sorted(data.risks) and sorted(s.topics) == sorted(data.topics)
               and (s.note or None) == (data.note or None) for s in stored)


# --------------------------------------------------------------------------- refusals
def require_code(code: str | None) -> None:
    """Rule ``import.no_code``."""
    rules.enforce("import.row", RowFacts(code=code))


def staff_ids(session: Session, text: str | None) -> list[int]:
    """Staff ids or usernames, as typed in the 'workers present' column (rules
    ``import.no_staff`` and ``import.unknown_staff``)."""
    rules.enforce("import.session_staff", RowFacts(staff_text=text))
    ids: list[int] = []
    unknown: list[str] = []
    for token in (t for t in _STAFF_SPLIT.split(text or "") if t):
        if token.isdigit():
            ids.append(int(token))
            continue
        account = session.exec(select(Account).where(
            Account.username == token.strip().lower())).first()
        if account is None:
            unknown.append(token)
        else:
            ids.append(account.staff_id)
    rules.enforce("import.session_staff", RowFacts(staff_text=text,
                                                   unknown_staff=tuple(unknown)))
    return ids


def check_enrolment_answer(code: str, field: str, label: str, stored: str, sent: str) -> None:
    """Rule ``import.enrolment_changed``: enrolment answers are fixed at inclusion."""
    try:
        rules.enforce("import.enrolment_change",
                      EnrolmentChangeFacts(code, field, label, stored, sent))
    except ProtocolViolation as error:
        error.field = field  # the rule is the same for every enrolment field
        raise


def import_status(session: Session, *, actor: Actor, code: str, status: Status,
                  effective: date, reason: str | None, on: date | None) -> bool:
    """Add a follow-up status from an import; False when the history already says so on
    that date (nothing written). Refused (``import.status_out_of_order``) when a later
    change is stored: an import does not rewrite the order of someone's history."""
    person = get_participant(session, actor, code)
    history = session.exec(
        select(StatusChange).where(StatusChange.participant_id == person.id)
        .order_by(col(StatusChange.effective_date), col(StatusChange.id))).all()
    shown = [h for h in history if h.effective_date <= effective]
    if shown and shown[-1].status == status:
        return False
    later = [h for h in history if h.effective_date > effective]
    rules.enforce("import.status", StatusOrderFacts(
        code, effective, person.inclusion_date,
        later[-1].status.value if later else None,
        later[-1].effective_date if later else None))
    change_status(session, actor=actor, code=code, status=status, effective_date=effective,
                  reason=reason, on=on)
    return True
