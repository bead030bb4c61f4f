"""Time-based rules over the whole cohort (``cohort check``).

Idempotent by construction: each finding has a stable key (rule, participant, visit),
so running the check twice raises nothing new. A time-based deviation whose condition
has cleared (the late M6 was finally entered) is resolved automatically, with a comment
saying so, rather than left for someone to close by hand.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, col, select

from cohort import rules
from cohort.models import AerliSession, Deviation, Participant, Questionnaire, utcnow
from cohort.rules import Finding, ScheduleFacts, overdue_timepoints
from cohort.services import audit
from cohort.services.context import finish, protocol_config
from cohort.services.deviations import raise_findings
from cohort.vocab import DeviationStatus, Severity, Status, Timepoint


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


def run_checks(session: Session, *, as_of: date) -> CheckReport:
    """Evaluate the time-based rules as of a date and raise what is new."""
    config = protocol_config()
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
    open_time = {
        d.dedupe_key: d
        for d in session.exec(
            select(Deviation).where(
                Deviation.severity == Severity.TIME,
                col(Deviation.status) != DeviationStatus.RESOLVED,
            )
        )
    }
    still_true: set[str] = set()
    for participant in session.exec(select(Participant).order_by(col(Participant.id))):
        assert participant.id is not None  # noqa: S101
        report.participants += 1
        facts = ScheduleFacts(
            group=participant.group,
            inclusion_date=participant.inclusion_date,
            as_of=as_of,
            following=participant.status not in (Status.WITHDRAWN, Status.DECEASED),
            done=frozenset(done[participant.id]),
            valid_session_dates=tuple(valid_sessions[participant.id]),
            config=config,
        )
        no_session = rules.RULES_BY_ID["time.no_session_6m"].check(facts)
        if no_session is not None:
            finding = Finding("time.no_session_6m", Severity.TIME, no_session)
            still_true.add(f"time.no_session_6m:participant:{participant.id}")
            report.raised += raise_findings(
                session, findings=[finding], entity="participant",
                record_id=participant.id, participant=participant,
            )
        for tp, closes in overdue_timepoints(facts):
            message = f"{tp.value} questionnaire overdue: its window closed on {closes}."
            suffix = f":{tp.value}"
            still_true.add(f"time.visit_overdue:participant:{participant.id}{suffix}")
            report.raised += raise_findings(
                session, findings=[Finding("time.visit_overdue", Severity.TIME, message)],
                entity="participant", record_id=participant.id, participant=participant,
                key_suffix=suffix,
            )
    for key, deviation in open_time.items():
        if key in still_true:
            continue
        assert deviation.id is not None  # noqa: S101
        old = deviation.status
        deviation.status = DeviationStatus.RESOLVED
        deviation.resolution_comment = f"Resolved automatically on {as_of}: condition cleared."
        deviation.resolved_at = utcnow()
        session.add(deviation)
        audit.record_changes(session, None, "deviation", deviation.id,
                             {"status": (old, deviation.status)})
        report.auto_resolved += 1
    finish(session)
    return report
