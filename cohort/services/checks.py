"""Time-based rules over the whole cohort (``cohort check``).

Idempotent by construction: each finding has a stable key (rule, participant, visit) and
at most one open or acknowledged deviation per key, so running the check twice raises
nothing new.

A time-based deviation is resolved automatically only for a reason found in the data:
the overdue questionnaire was entered, a valid session within six months was logged, or
the person is no longer followed (withdrawn, deceased, or no longer in the intervention
group). It is never resolved because ``as_of`` is earlier than the day it was raised:
looking back in time must not close what is still true today. The conditions are
evaluated as of ``as_of`` to raise and as of today to clear; both rules only become true
as days pass, so only new data can clear them.

A deviation the check resolved itself can be raised again if its condition returns (a
withdrawn person comes back, say). One a research officer resolved by hand stays
resolved: their comment is the decision, and the check does not reopen it every night.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from cohort import rules
from cohort.errors import FutureCheckDate
from cohort.messages import msg
from cohort.models import AerliSession, Deviation, Participant, Questionnaire, utcnow
from cohort.rules import Finding, ProtocolConfig, ScheduleFacts, overdue_timepoints
from cohort.services import audit
from cohort.services.bulk import insert_rows
from cohort.services.context import CHECKS, Actor, finish, protocol_config
from cohort.services.context import today as current_day
from cohort.services.deviations import audit_raised, deviation_values
from cohort.services.lockstate import read_lock_state, require_unlocked
from cohort.vocab import DeviationStatus, Group, Severity, Status, Timepoint
from forms.i18n import _, format_date

NO_SESSION = "time.no_session_6m"
OVERDUE = "time.visit_overdue"
NOT_FOLLOWED = (Status.WITHDRAWN, Status.DECEASED)


@dataclass
class CheckReport:
    as_of: date
    participants: int = 0
    raised: list[Deviation] = field(default_factory=list)
    auto_resolved: int = 0

    def by_rule(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for deviation in self.raised:
            counts[deviation.rule_id] += 1
        return dict(counts)


class _Person(NamedTuple):
    """The columns of a participant the checks read (not the whole record: the checks go
    through every participant)."""

    id: int
    code: str
    centre_id: int
    group: Group
    status: Status
    inclusion_date: date


_PERSON = sa_select(col(Participant.id), col(Participant.code), col(Participant.centre_id),
                    col(Participant.group), col(Participant.status),
                    col(Participant.inclusion_date))


def _findings(facts: ScheduleFacts) -> Iterator[tuple[str, Finding]]:
    """(key suffix, finding) for every time-based rule that fires on these facts."""
    check = rules.RULES_BY_ID[NO_SESSION].check
    no_session = check(facts) if check is not None else None
    if no_session is not None:
        yield "", Finding(NO_SESSION, Severity.TIME, no_session)
    for tp, closes in overdue_timepoints(facts):
        yield f":{tp.value}", Finding(OVERDUE, Severity.TIME,
                                      msg(OVERDUE, timepoint=tp, closes=closes))


def _key(rule_id: str, participant_id: int, suffix: str) -> str:
    return f"{rule_id}:participant:{participant_id}{suffix}"


def _cleared_because(deviation: Deviation, participant: _Person | None,
                     done: set[Timepoint]) -> str:
    """Why a deviation no longer holds, in words for the research officer (in the language
    of whoever runs the checks: the comment is stored as written)."""
    if participant is None:
        return _("the participant record is no longer there")
    if participant.status in NOT_FOLLOWED:
        return _("the participant is no longer followed ({status})").format(
            status=participant.status.value)
    if deviation.rule_id == OVERDUE:
        tp = deviation.dedupe_key.rsplit(":", 1)[-1]
        if tp in {t.value for t in done}:
            return _("the {timepoint} questionnaire has been entered").format(timepoint=tp)
    if deviation.rule_id == NO_SESSION and participant.group is not Group.INTERVENTION:
        return _("the participant is not in the intervention group")
    if deviation.rule_id == NO_SESSION:
        return _("a valid session within six months of inclusion has been logged")
    return _("its condition no longer holds")


def run_checks(
    session: Session, *, as_of: date, today: date | None = None, actor: Actor = CHECKS,
    config: ProtocolConfig | None = None,
) -> CheckReport:
    """Evaluate the time-based rules as of a date, raise what is new, clear what is not.

    ``as_of`` may be in the past (what was late then and still is), never in the future:
    a visit whose window has not closed yet is not overdue. ``today`` is the real date
    unless a caller builds data as of another day (the demo generator). ``actor`` is the
    system actor the audit trail names (the checks); ``config`` the protocol's parameters
    (default: from the settings, ``protocol_config()``).
    """
    now = today or current_day()
    if as_of > now:
        raise FutureCheckDate(msg("check.future_date", as_of=as_of, today=now))
    # A locked study takes no new deviation and clears none (rule study.locked); a locked
    # centre is left out, the others are checked.
    require_unlocked(session, None)
    frozen = sorted(read_lock_state(session).centres_since)
    config = config or protocol_config()
    report = CheckReport(as_of=as_of)
    done: dict[int, set[Timepoint]] = defaultdict(set)
    for pid, tp in session.exec(
        select(col(Questionnaire.participant_id), col(Questionnaire.timepoint))
    ):
        done[pid].add(Timepoint(tp))
    valid_sessions: dict[int, list[date]] = defaultdict(list)
    for pid, when in session.exec(
        select(col(AerliSession.participant_id), col(AerliSession.session_date)).where(
            col(AerliSession.counts_for_protocol)
        )
    ):
        valid_sessions[pid].append(when)
    # The latest deviation per key decides: open or acknowledged ones are not raised twice,
    # and one resolved by a person is not reopened.
    latest: dict[str, Deviation] = {}
    for deviation in session.exec(
        select(Deviation).where(Deviation.severity == Severity.TIME,
                                or_(col(Deviation.centre_id).is_(None),
                                    col(Deviation.centre_id).not_in(frozen)))
        .order_by(col(Deviation.id))
    ):
        latest[deviation.dedupe_key] = deviation

    still_true: set[str] = set()
    new: list[dict[str, Any]] = []  # values, written at the end in one INSERT
    people: dict[int, _Person] = {}
    for row in session.execute(_PERSON.where(
            col(Participant.centre_id).not_in(frozen)).order_by(col(Participant.id))):
        participant = _Person(*row)
        people[participant.id] = participant
        report.participants += 1
        facts = ScheduleFacts(
            group=participant.group,
            inclusion_date=participant.inclusion_date,
            as_of=as_of,
            following=participant.status not in NOT_FOLLOWED,
            done=frozenset(done[participant.id]),
            valid_session_dates=tuple(valid_sessions[participant.id]),
            config=config,
        )
        for suffix, finding in _findings(facts):
            key = _key(finding.rule_id, participant.id, suffix)
            still_true.add(key)
            previous = latest.get(key)
            if previous is not None and (
                previous.status is not DeviationStatus.RESOLVED or previous.resolved_by is not None
            ):
                continue
            new.append(deviation_values(finding, entity="participant",
                                        record_id=participant.id, participant=participant,
                                        key_suffix=suffix))
        if as_of < now:
            today_facts = replace(facts, as_of=now)
            still_true.update(_key(f.rule_id, participant.id, suffix)
                              for suffix, f in _findings(today_facts))

    for key, deviation in latest.items():
        if key in still_true or deviation.status is DeviationStatus.RESOLVED:
            continue
        assert deviation.id is not None  # noqa: S101
        person = people.get(deviation.participant_id or 0)
        reason = _cleared_because(deviation, person, done[person.id or 0] if person else set())
        old_status, old_comment = deviation.status, deviation.resolution_comment
        deviation.status = DeviationStatus.RESOLVED
        deviation.resolution_comment = _("Resolved automatically on {date}: {reason}.").format(
            date=format_date(now), reason=reason)
        deviation.resolved_at = utcnow()
        session.add(deviation)
        audit.record_changes(session, actor, "deviation", deviation.id,
                             {"status": (old_status, deviation.status),
                              "resolution_comment": (old_comment, deviation.resolution_comment)})
        report.auto_resolved += 1
    report.raised = insert_rows(session, Deviation, new)
    audit_raised(session, report.raised, actor)
    finish(session)
    return report

