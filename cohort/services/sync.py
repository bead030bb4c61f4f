"""Entries made on a phone without network, applied here exactly once, by the same rules.

An outreach worker's phone keeps what they enter offline (enrolment, M0/M6/M12
questionnaires, AERLI sessions, status changes) and sends each entry later with an id it
made itself (a UUID). ``apply_entry`` applies one entry with the very services the online
forms use (``enrol``, ``save_questionnaire``, ``update_questionnaire``, ``log_session``,
``change_status``), inside one transaction that also writes a ``SyncReceipt`` keyed by that
id. So:

- a resend (the answer was lost on the way back, the page was killed mid-send) finds the
  receipt and answers what was saved the first time; two resends at once cannot both
  commit (the receipt's primary key stops the second, whose whole transaction is rolled
  back);
- a hard rule's refusal writes nothing and leaves no receipt: the phone keeps the entry
  on its "needs attention" list, the worker corrects it and it is sent again under the
  same id;
- a questionnaire someone else saved meanwhile is a *conflict*: the outcome carries their
  version, so the worker can keep theirs or send theirs corrected (``correction``).

An entry made for a participant enrolled on the same phone names the enrolment entry's id
(``after``) instead of a code, which only the server gives. An entry names the worker who
made it (``made_by``): on a shared phone, the next person to sign in cannot send a
colleague's entries in their own name (``sync.other_worker``).
"""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from cohort.db import violates
from cohort.dictionary import get_dictionary
from cohort.errors import (
    CohortError,
    DuplicateTimepoint,
    FieldError,
    ProtocolViolation,
    StaleVersion,
    ValidationFailed,
)
from cohort.messages import msg
from cohort.models import Deviation
from cohort.models_ops import SyncReceipt
from cohort.schedule import get_schedule
from cohort.services.context import Actor, batch, get_participant, require_scope
from cohort.services.enrolment import enrol, enrolment_from_answers
from cohort.services.participants import change_status
from cohort.services.questionnaires import (
    get_questionnaire,
    save_questionnaire,
    update_questionnaire,
)
from cohort.services.sessions import log_session, session_from_answers
from cohort.vocab import STATUS_CODES, Timepoint
from forms.i18n import _

Kind = Literal["enrolment", "questionnaire", "correction", "session", "status"]
#: Longest free-text reason a status change keeps (as the workbook import).
REASON_LENGTH = 500


class OfflineEntry(BaseModel):
    """One entry as the phone sends it: answers in the dictionary's codes."""

    model_config = ConfigDict(extra="forbid")

    uuid: str = Field(min_length=36, max_length=36)
    kind: Kind
    made_at: datetime | None = None
    participant: str | None = Field(default=None, max_length=32)
    after: str | None = Field(default=None, min_length=36, max_length=36)
    timepoint: Timepoint | None = None
    answers: dict[str, Any] = Field(default_factory=dict)
    staff_ids: list[int] = Field(default_factory=list, max_length=20)
    expected_version: int | None = Field(default=None, ge=1)
    #: The staff id of the worker signed in on the phone when the entry was made.
    made_by: int | None = Field(default=None, ge=1)


Outcome = Literal["saved", "already_saved", "refused", "waiting", "conflict"]


@dataclass
class EntryOutcome:
    """What became of one entry, for the phone: saved (again), or why not."""

    uuid: str
    outcome: Outcome
    message: str = ""
    participant_code: str | None = None
    record_id: int | None = None
    rule_id: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    deviations: list[str] = field(default_factory=list)
    theirs: dict[str, Any] | None = None

    @property
    def kept(self) -> bool:
        """Whether the entry is now stored here (the phone may forget it)."""
        return self.outcome in ("saved", "already_saved")

    def to_json(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "outcome": self.outcome, "message": self.message,
                "participant_code": self.participant_code, "record_id": self.record_id,
                "rule_id": self.rule_id, "errors": self.errors,
                "deviations": self.deviations, "theirs": self.theirs}


def _canonical(value: str) -> str:
    try:
        return str(uuid_module.UUID(value))
    except ValueError:
        raise ValidationFailed([FieldError("uuid", msg("sync.bad_uuid"))],
                               context="entry") from None


#: The receipt's primary key: an entry id saves once, whoever sent it.
RECEIPT_KEY = "sync_receipt_pkey"


def _id_taken(uuid: str) -> EntryOutcome:
    return EntryOutcome(uuid, "refused", _("This entry id was already used by someone "
                                           "else's phone; nothing was saved."),
                        rule_id="sync.id_taken")


def _receipt_outcome(receipt: SyncReceipt, actor: Actor, uuid: str) -> EntryOutcome:
    if receipt.staff_id != actor.staff_id:
        return _id_taken(uuid)
    return EntryOutcome(uuid, "already_saved", _("Already saved earlier; nothing saved twice."),
                        participant_code=receipt.participant_code,
                        record_id=receipt.result.get("record_id"))


def _find_receipt(session: Session, uuid: str) -> SyncReceipt | None:
    return session.get(SyncReceipt, uuid, populate_existing=True)


def _resolve_code(session: Session, actor: Actor, entry: OfflineEntry) -> str | None:
    """The participant the entry is about: its code, or the code its enrolment got."""
    if entry.after:
        enrolled = _find_receipt(session, _canonical(entry.after))
        if enrolled is None or enrolled.staff_id != actor.staff_id:
            return None
        return enrolled.participant_code
    return entry.participant


def _status_change(answers: dict[str, Any]) -> tuple[Any, date, str | None]:
    """The dictionary's ``follow_up_status`` form as a status change."""
    dictionary = get_dictionary()
    result = dictionary.validate("follow_up_status", answers)
    problems = [FieldError(p.field, p.message, p.label, p.code) for p in result.problems]
    clean = result.clean
    for name in ("fu_status", "fu_status_date"):
        if name not in clean and not any(p.field == name for p in problems):
            label = dictionary.fields[name].plain_label
            problems.append(FieldError(name, msg("answer.required"), label, "required"))
    reason = str(clean["fu_reason"]) if clean.get("fu_reason") else None
    if reason is not None and len(reason) > REASON_LENGTH:
        problems.append(FieldError("fu_reason", msg("answer.too_long", limit=REASON_LENGTH),
                                   "", "too_long"))
    if problems:
        raise ValidationFailed(problems, context="status_answers")
    return (STATUS_CODES[str(clean["fu_status"])],
            date.fromisoformat(str(clean["fu_status_date"])), reason)


def _utc(moment: datetime | None) -> datetime | None:
    """The phone's clock as UTC (a time without zone is taken as UTC)."""
    if moment is None:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _timepoint(entry: OfflineEntry) -> Timepoint:
    if entry.timepoint is None:
        needed = msg("sync.visit_needed", visits=get_schedule().describe())
        raise ValidationFailed([FieldError("timepoint", needed)],
                               context="entry")
    return entry.timepoint


def _write(session: Session, actor: Actor, entry: OfflineEntry, code: str | None,
           on: date) -> tuple[str | None, int | None, list[Deviation]]:
    """Apply the entry through its service (inside the caller's batch)."""
    if entry.kind == "enrolment":
        data = enrolment_from_answers(entry.answers)
        data.centre_code = None  # the worker's own centre, whatever the phone says
        saved_p = enrol(session, actor=actor, data=data, on=on)
        return saved_p.record.code, saved_p.record.id, saved_p.deviations
    if code is None:
        raise ValidationFailed([FieldError("participant", msg("sync.participant_needed"))],
                               context="entry")
    if entry.kind == "questionnaire":
        saved_q = save_questionnaire(session, actor=actor, code=code,
                                     timepoint=_timepoint(entry), answers=entry.answers, on=on)
        return code, saved_q.record.id, saved_q.deviations
    if entry.kind == "correction":
        if entry.expected_version is None:
            raise ValidationFailed([FieldError("expected_version",
                                               msg("sync.version_needed"))],
                                   context="entry")
        saved_q = update_questionnaire(session, actor=actor, code=code,
                                       timepoint=_timepoint(entry), answers=entry.answers,
                                       expected_version=entry.expected_version, on=on)
        return code, saved_q.record.id, saved_q.deviations
    if entry.kind == "session":
        data_s = session_from_answers(entry.answers, list(entry.staff_ids))
        saved_s = log_session(session, actor=actor, code=code, data=data_s, on=on)
        return code, saved_s.record.id, saved_s.deviations
    status, effective, reason = _status_change(entry.answers)
    change = change_status(session, actor=actor, code=code, status=status,
                           effective_date=effective, reason=reason, on=on)
    return code, change.id, []


def _conflict(session: Session, actor: Actor, entry: OfflineEntry,
              code: str) -> EntryOutcome:
    """Their version of the questionnaire, so that the worker can compare and choose."""
    timepoint = _timepoint(entry)
    stored = get_questionnaire(session, actor=actor, code=code, timepoint=timepoint)
    message = _("Someone else saved {code}'s {timepoint} questionnaire while this entry "
                "waited on the phone. Compare the answers that differ, then keep theirs or "
                "send yours as a correction.").format(code=code, timepoint=timepoint.value)
    return EntryOutcome(
        entry.uuid, "conflict", message, participant_code=code, rule_id="sync.conflict",
        theirs={"answers": dict(stored.answers), "version": stored.version,
                "visit_date": stored.visit_date.isoformat(),
                "saved_at": (stored.updated_at or stored.created_at).isoformat()})


def _refused(uuid: str, error: CohortError, code: str | None) -> EntryOutcome:
    errors: dict[str, str] = {}
    rule_id = None
    if isinstance(error, ValidationFailed):
        errors = {p.field: p.text for p in error.problems}
        rule_id = "dictionary"
    elif isinstance(error, ProtocolViolation):
        rule_id = error.rule_id
        if error.field:
            errors[error.field] = error.message
    return EntryOutcome(uuid, "refused", error.message, participant_code=code,
                        rule_id=rule_id, errors=errors)


def apply_entry(session: Session, *, actor: Actor, entry: OfflineEntry,
                on: date) -> EntryOutcome:
    """Apply one entry from a phone, once: see the module's docstring.

    Never raises for what the entry says (refusals, conflicts and resends are outcomes);
    the whole write, receipt included, is one transaction."""
    uuid = _canonical(entry.uuid)
    receipt = _find_receipt(session, uuid)
    if receipt is not None:
        return _receipt_outcome(receipt, actor, uuid)
    if entry.made_by is not None and entry.made_by != actor.staff_id:
        # A shared phone: whoever signs in next must not send a colleague's entries in
        # their own name.
        return EntryOutcome(uuid, "refused", _("This entry was made on this phone by another "
                                               "worker: they need to sign in on it to send "
                                               "it."),
                            rule_id="sync.other_worker")
    code = _resolve_code(session, actor, entry)
    if entry.kind != "enrolment" and code is None:
        return EntryOutcome(uuid, "waiting", _("This entry is for a participant whose "
                                               "enrolment has not been saved yet: correct "
                                               "and send the enrolment first."),
                            rule_id="sync.after_enrolment")
    if code is not None and entry.kind != "enrolment":
        # The same 404 as online for another centre's or an unknown code.
        try:
            participant = get_participant(session, actor, code)
            require_scope(actor, participant.centre_id, session=session)
        except CohortError as error:
            session.rollback()
            return _refused(uuid, error, code)
    try:
        with batch(session):
            written_code, record_id, deviations = _write(session, actor, entry, code, on)
            session.add(SyncReceipt(
                entry_uuid=uuid, staff_id=actor.staff_id, kind=entry.kind,
                participant_code=written_code,
                result={"record_id": record_id, "deviations": len(deviations)},
                made_at=_utc(entry.made_at)))
            session.flush()
            messages = [d.message for d in deviations]
    except IntegrityError as error:
        again = _find_receipt(session, uuid)
        if again is not None:
            return _receipt_outcome(again, actor, uuid)
        if violates(error, "sync_receipt", RECEIPT_KEY, ("entry_uuid",)):
            # A receipt this person may not see (PostgreSQL's row-level security: another
            # centre's worker made it), so not theirs.
            return _id_taken(uuid)
        raise
    except (DuplicateTimepoint, StaleVersion):
        again = _find_receipt(session, uuid)
        if again is not None:  # our own first send, committed a moment ago
            return _receipt_outcome(again, actor, uuid)
        assert code is not None  # noqa: S101 (only questionnaires conflict)
        return _conflict(session, actor, entry, code)
    except CohortError as error:
        again = _find_receipt(session, uuid)
        if again is not None:
            return _receipt_outcome(again, actor, uuid)
        return _refused(uuid, error, code)
    return EntryOutcome(uuid, "saved", "Saved.", participant_code=written_code,
                        record_id=record_id, deviations=messages)
