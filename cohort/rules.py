"""The protocol rules, declared as data in one place.

Each rule has an id, a severity, a one-line message a research officer can read, and a
pure check over plain facts (no database, no web). Hard rules refuse a write by raising
the rule's named error; soft rules return the deviations to raise with the saved record;
time-based rules are evaluated by ``cohort check`` over the whole cohort.

``RULES`` is what ``cohort rules`` prints and what another study would edit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cohort.errors import (
    ActionNotAllowed,
    DateBeforeInclusion,
    DateInFuture,
    DuplicateTimepoint,
    GroupCrossingRefused,
    GroupLocked,
    NotEligible,
    OutsideCentreScope,
    ProtocolViolation,
    PurposeMissing,
    StudyLocked,
)
from cohort.import_rules import IMPORT_RULES
from cohort.messages import Message, msg
from cohort.rule_types import HARD, SOFT, TIME, Finding, Rule
from cohort.schedule import Schedule, Visit, get_schedule
from cohort.vocab import HIGH_RISK_SITES, Group, InjectionSite, Modality, Role, Severity, Timepoint

__all__ = ["HARD", "RULES", "RULES_BY_ID", "SOFT", "TIME", "Finding", "ProtocolConfig", "Rule",
           "Severity", "disqualifies_session", "enforce", "evaluate", "may", "rules_for"]


@dataclass(frozen=True)
class ProtocolConfig:
    """Protocol parameters a study may change; the visits and their windows (days after
    inclusion) are the study's schedule (``cohort.schedule``)."""

    min_age: int = 18
    min_trained_staff: int = 2
    session_deadline_days: int = 183
    schedule: Schedule = field(default_factory=get_schedule)

    def visit(self, timepoint: str) -> Visit:
        return self.schedule.get(timepoint)

    def target_day(self, timepoint: str) -> int:
        return self.visit(timepoint).target_day

    def window_width(self, timepoint: str) -> int:
        """Days after the target day the window stays open (each visit has its own)."""
        return self.visit(timepoint).after

    def window(self, timepoint: str, inclusion: date) -> tuple[date, date, date]:
        """(opens, target, closes) of a visit window, inclusive."""
        visit = self.visit(timepoint)
        target = inclusion + timedelta(days=visit.target_day)
        return (target - timedelta(days=visit.before), target,
                target + timedelta(days=visit.after))

    def follow_up_end(self, inclusion: date) -> date:
        """The day the last visit's window closes: sessions after it are off-protocol."""
        return self.window(self.schedule.last.name, inclusion)[2]

    def session_deadline(self, inclusion: date) -> date:
        return inclusion + timedelta(days=self.session_deadline_days)


# --------------------------------------------------------------------------- facts
@dataclass(frozen=True)
class EnrolmentFacts:
    age: int
    injected_past_month: bool
    wish_neck_groin: bool
    consent: bool
    consent_date: date | None
    inclusion_date: date
    today: date
    config: ProtocolConfig = field(default_factory=ProtocolConfig)


@dataclass(frozen=True)
class GroupChangeFacts:
    current: Group
    requested: Group
    has_m0: bool


@dataclass(frozen=True)
class DatedFacts:
    """Any dated write about a participant (visit, session, status change)."""

    when: date
    inclusion_date: date
    today: date
    what: str = "date"  # which date: date, visit, session or status (the message says it)


@dataclass(frozen=True)
class VisitFacts:
    timepoint: Timepoint
    visit_date: date
    inclusion_date: date
    existing_timepoints: frozenset[Timepoint]
    config: ProtocolConfig


@dataclass(frozen=True)
class SessionFacts:
    group: Group
    modality: Modality
    trained_staff: int
    injection_site: InjectionSite | None
    session_date: date
    inclusion_date: date
    config: ProtocolConfig


@dataclass(frozen=True)
class ScopeFacts:
    role: Role
    actor_centre_ids: frozenset[int] | None  # None: every centre
    record_centre_id: int
    action: str = "write"


@dataclass(frozen=True)
class LockFacts:
    """A write about to happen for ``centre_id`` (None: not tied to one centre)."""

    centre_id: int | None
    study_locked: bool
    locked_centre_ids: frozenset[int]


@dataclass(frozen=True)
class ExportFacts:
    full_cohort: bool  # every centre's records (no centre filter)
    purpose: str | None


@dataclass(frozen=True)
class ScheduleFacts:
    """A participant's follow-up as of a date, for the time-based rules."""

    group: Group
    inclusion_date: date
    as_of: date
    following: bool  # False once withdrawn or deceased
    done: frozenset[Timepoint]
    valid_session_dates: tuple[date, ...]
    config: ProtocolConfig


# --------------------------------------------------------------------------- checks
def _age(f: EnrolmentFacts) -> Message | None:
    if f.age < f.config.min_age:
        return msg("enrol.under_18", age=f.age, min_age=f.config.min_age)
    return None


def _recent_injection(f: EnrolmentFacts) -> Message | None:
    if not f.injected_past_month:
        return msg("enrol.no_recent_injection")
    return None


def _high_risk_wish(f: EnrolmentFacts) -> Message | None:
    if f.wish_neck_groin:
        return msg("enrol.high_risk_site")
    return None


def _consent(f: EnrolmentFacts) -> Message | None:
    if not f.consent or f.consent_date is None:
        return msg("enrol.no_consent")
    if f.consent_date > f.inclusion_date:
        return msg("enrol.no_consent.after_inclusion", consent_date=f.consent_date,
                   inclusion_date=f.inclusion_date)
    return None


def _inclusion_in_future(f: EnrolmentFacts) -> Message | None:
    if f.inclusion_date > f.today:
        return msg("enrol.inclusion_in_future", inclusion_date=f.inclusion_date, today=f.today)
    return None


def _crossing(f: GroupChangeFacts) -> Message | None:
    if f.current is Group.COMPARISON and f.requested is Group.INTERVENTION:
        return msg("group.crossing")
    return None


def _locked(f: GroupChangeFacts) -> Message | None:
    if f.has_m0 and f.current is not f.requested:
        return msg("group.locked_after_m0")
    return None


def _before_inclusion(f: DatedFacts) -> Message | None:
    if f.when < f.inclusion_date:
        return msg(f"date.before_inclusion.{f.what}", when=f.when,
                   inclusion_date=f.inclusion_date)
    return None


def _future(f: DatedFacts) -> Message | None:
    if f.when > f.today:
        return msg(f"date.in_future.{f.what}", when=f.when, today=f.today)
    return None


def _duplicate(f: VisitFacts) -> Message | None:
    if f.timepoint in f.existing_timepoints:
        return msg("visit.duplicate", timepoint=f.timepoint)
    return None


def _other_centre(f: ScopeFacts) -> Message | None:
    if f.actor_centre_ids is not None and f.record_centre_id not in f.actor_centre_ids:
        return msg("scope.other_centre")
    return None


# The role table of rule ``scope.role``: actions only some roles may take, whatever the
# centre, and what the others are told. Any other action is a write, refused to
# statisticians (read-only).
# The refusal of an action is message ``scope.role.<action>``.
ACTION_ROLES: dict[str, frozenset[Role]] = {
    "review": frozenset({Role.RESEARCH_OFFICER, Role.ADMIN}),
    "admin": frozenset({Role.ADMIN}),
    # Choosing among centres (filters, enrolling for a centre): outreach workers work with
    # their own centre only.
    "choose_centre": frozenset({Role.RESEARCH_OFFICER, Role.ADMIN, Role.STATISTICIAN}),
    "lock": frozenset({Role.ADMIN}),
    # The offline app keeps one centre's list on a phone: outreach workers only.
    "offline_entry": frozenset({Role.OUTREACH_WORKER}),
    "access_log": frozenset({Role.RESEARCH_OFFICER, Role.ADMIN}),
}


def _role(f: ScopeFacts) -> Message | None:
    if f.action in ACTION_ROLES:
        return None if f.role in ACTION_ROLES[f.action] else msg(f"scope.role.{f.action}")
    if f.role is Role.STATISTICIAN:
        return msg("scope.role.read_only")
    return None


def may(role: Role, action: str) -> bool:
    """Whether rule ``scope.role`` lets this role take the action (any centre in reach):
    what a page asks before offering a button it would otherwise refuse."""
    return _role(ScopeFacts(role, None, 0, action)) is None


def _locked_study(f: LockFacts) -> Message | None:
    if f.study_locked:
        return msg("study.locked")
    if f.centre_id is not None and f.centre_id in f.locked_centre_ids:
        return msg("study.locked.centre")
    return None


def _no_purpose(f: ExportFacts) -> Message | None:
    if f.full_cohort and not (f.purpose and f.purpose.strip()):
        return msg("export.no_purpose")
    return None


def _visit_window(f: VisitFacts) -> Message | None:
    opens, target, closes = f.config.window(f.timepoint, f.inclusion_date)
    if not opens <= f.visit_date <= closes:
        offset = (f.visit_date - target).days
        return msg("visit.out_of_window", timepoint=f.timepoint, visit_date=f.visit_date,
                   opens=opens, closes=closes, offset=offset)
    return None


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``1 worker``, ``0 workers``, ``2 workers`` (``nouns`` for an irregular plural)."""
    return f"{n} {noun if n == 1 else (nouns or noun + 's')}"


def _session_comparison(f: SessionFacts) -> Message | None:
    if f.group is Group.COMPARISON:
        return msg("session.comparison_group")
    return None


def _session_trained(f: SessionFacts) -> Message | None:
    if f.trained_staff < f.config.min_trained_staff:
        return msg("session.trained_staff", trained=f.trained_staff,
                   required=f.config.min_trained_staff)
    return None


def _session_remote(f: SessionFacts) -> Message | None:
    if f.modality is not Modality.IN_PERSON:
        return msg(f"session.not_in_person.{f.modality.value}")
    return None


def _session_site(f: SessionFacts) -> Message | None:
    if f.injection_site in HIGH_RISK_SITES:
        assert f.injection_site is not None  # noqa: S101 (narrowing for mypy)
        return msg(f"session.high_risk_site.{f.injection_site.value}")
    return None


def _session_after_follow_up(f: SessionFacts) -> Message | None:
    end = f.config.follow_up_end(f.inclusion_date)
    if f.session_date > end:
        return msg("session.after_follow_up", session_date=f.session_date, end=end)
    return None


def _no_session(f: ScheduleFacts) -> Message | None:
    if f.group is not Group.INTERVENTION or not f.following:
        return None
    deadline = f.config.session_deadline(f.inclusion_date)
    if f.as_of <= deadline:
        return None
    if any(d <= deadline for d in f.valid_session_dates):
        return None
    return msg("time.no_session_6m", deadline=deadline)


def overdue_timepoints(f: ScheduleFacts) -> list[tuple[Timepoint, date]]:
    """Follow-up visits whose window closed before ``as_of`` without a questionnaire."""
    if not f.following:
        return []
    late = []
    for visit in f.config.schedule.follow_ups:
        tp = Timepoint(visit.name)
        closes = f.config.window(tp, f.inclusion_date)[2]
        if tp not in f.done and f.as_of > closes:
            late.append((tp, closes))
    return late


def _overdue(f: ScheduleFacts) -> Message | None:
    """The first visit overdue (``cohort check`` raises one deviation per visit)."""
    late = overdue_timepoints(f)
    if not late:
        return None
    timepoint, closes = late[0]
    return msg("time.visit_overdue", timepoint=timepoint, closes=closes)


RULES: tuple[Rule[Any], ...] = (
    Rule("enrol.under_18", HARD, "enrolment", _age, NotEligible, "age"),
    Rule("enrol.no_recent_injection", HARD, "enrolment",
         _recent_injection, NotEligible, "injected_past_month"),
    Rule("enrol.high_risk_site", HARD, "enrolment",
         _high_risk_wish, NotEligible, "wish_neck_groin"),
    Rule("enrol.no_consent", HARD, "enrolment", _consent, NotEligible, "consent"),
    Rule("enrol.inclusion_in_future", HARD, "enrolment",
         _inclusion_in_future, DateInFuture, "inclusion_date"),
    Rule("group.crossing", HARD, "group_change", _crossing, GroupCrossingRefused, "group"),
    Rule("group.locked_after_m0", HARD, "group_change", _locked, GroupLocked, "group"),
    Rule("visit.duplicate", HARD, "questionnaire", _duplicate, DuplicateTimepoint, "timepoint"),
    Rule("date.before_inclusion", HARD, "dated", _before_inclusion, DateBeforeInclusion, "date"),
    Rule("date.in_future", HARD, "dated", _future, DateInFuture, "date"),
    Rule("scope.role", HARD, "scope", _role, ActionNotAllowed),
    Rule("scope.other_centre", HARD, "scope", _other_centre, OutsideCentreScope),
    Rule("study.locked", HARD, "lock", _locked_study, StudyLocked),
    Rule("export.no_purpose", HARD, "export", _no_purpose, PurposeMissing, "purpose"),
    Rule("session.comparison_group", SOFT, "session", _session_comparison),
    Rule("session.trained_staff", SOFT, "session", _session_trained),
    Rule("session.not_in_person", SOFT, "session", _session_remote),
    Rule("session.high_risk_site", SOFT, "session", _session_site),
    Rule("session.after_follow_up", SOFT, "session", _session_after_follow_up),
    Rule("visit.out_of_window", SOFT, "questionnaire_window", _visit_window),
    Rule("time.no_session_6m", TIME, "schedule", _no_session),
    Rule("time.visit_overdue", TIME, "schedule", _overdue),
    *IMPORT_RULES,
)

RULES_BY_ID: dict[str, Rule[Any]] = {r.id: r for r in RULES}

# Soft rules whose firing means the session does not count for per-protocol analyses
# (a high-risk site is flagged for follow-up but the session itself still happened).
SESSION_DISQUALIFIERS = frozenset(
    {
        "session.comparison_group",
        "session.trained_staff",
        "session.not_in_person",
        "session.after_follow_up",
    }
)


def rules_for(applies_to: str) -> list[Rule[Any]]:
    return [r for r in RULES if r.applies_to == applies_to]


def enforce(applies_to: str, facts: object) -> None:
    """Run the hard rules of a kind; raise the first refusal's named error."""
    for rule in rules_for(applies_to):
        if rule.severity is not HARD or rule.check is None:
            continue
        reason = rule.check(facts)
        if reason is not None:
            error = rule.error or ProtocolViolation
            raise error(rule.id, reason, field=rule.field)


def evaluate(applies_to: str, facts: object) -> list[Finding]:
    """Run the soft or time-based rules of a kind; return every one that fired."""
    return [
        Finding(rule.id, rule.severity, reason)
        for rule in rules_for(applies_to)
        if rule.severity is not HARD and rule.check is not None
        and (reason := rule.check(facts)) is not None
    ]


def disqualifies_session(findings: Iterable[Finding]) -> bool:
    return any(f.rule_id in SESSION_DISQUALIFIERS for f in findings)
