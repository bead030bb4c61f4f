"""The protocol rules, declared as data in one place.

Each rule has an id, a severity, a one-line message a research officer can read, and a
pure check over plain facts (no database, no web). Hard rules refuse a write by raising
the rule's named error; soft rules return the deviations to raise with the saved record;
time-based rules are evaluated by ``cohort check`` over the whole cohort.

``RULES`` is what ``cohort rules`` prints and what another study would edit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Generic, TypeVar

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
from cohort.schedule import Schedule, Visit, get_schedule
from cohort.vocab import HIGH_RISK_SITES, Group, InjectionSite, Modality, Role, Severity, Timepoint

F = TypeVar("F")


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


@dataclass(frozen=True)
class Rule(Generic[F]):
    """A protocol rule. ``check`` returns None when the facts comply, else the reason."""

    id: str
    severity: Severity
    message: str
    applies_to: str
    check: Callable[[F], str | None]
    error: type[ProtocolViolation] | None = None
    field: str | None = None


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
    what: str = "This date"


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
def _age(f: EnrolmentFacts) -> str | None:
    if f.age < f.config.min_age:
        return (f"The person is {f.age}; the study enrols people aged "
                f"{f.config.min_age} or over.")
    return None


def _recent_injection(f: EnrolmentFacts) -> str | None:
    if not f.injected_past_month:
        return "The study enrols people who have injected in the past month."
    return None


def _high_risk_wish(f: EnrolmentFacts) -> str | None:
    if f.wish_neck_groin:
        return (
            "The protocol cannot include a person who wishes to inject in the neck or groin; "
            "please offer the usual harm-reduction support instead."
        )
    return None


def _consent(f: EnrolmentFacts) -> str | None:
    if not f.consent or f.consent_date is None:
        return "Consent has not been given; nobody is enrolled without consent."
    if f.consent_date > f.inclusion_date:
        return (
            f"Consent is dated {f.consent_date}, after inclusion on {f.inclusion_date}; "
            "consent must come first."
        )
    return None


def _inclusion_in_future(f: EnrolmentFacts) -> str | None:
    if f.inclusion_date > f.today:
        return (f"The inclusion date {f.inclusion_date} is in the future (today is {f.today}); "
                "please enter the day the person was included.")
    return None


def _crossing(f: GroupChangeFacts) -> str | None:
    if f.current is Group.COMPARISON and f.requested is Group.INTERVENTION:
        return (
            "A participant of the comparison group cannot move to the intervention group: "
            "their results would no longer be comparable. Sessions can still be offered "
            "as a service; they will be recorded as off-protocol."
        )
    return None


def _locked(f: GroupChangeFacts) -> str | None:
    if f.has_m0 and f.current is not f.requested:
        return "The group is fixed at M0 and cannot be changed once the M0 questionnaire exists."
    return None


def _before_inclusion(f: DatedFacts) -> str | None:
    if f.when < f.inclusion_date:
        return f"{f.what} ({f.when}) is before the participant's inclusion ({f.inclusion_date})."
    return None


def _future(f: DatedFacts) -> str | None:
    if f.when > f.today:
        return f"{f.what} ({f.when}) is in the future; today is {f.today}."
    return None


def _duplicate(f: VisitFacts) -> str | None:
    if f.timepoint in f.existing_timepoints:
        return (
            f"This participant already has an {f.timepoint.value} questionnaire; "
            "open it to correct it instead of entering a second one."
        )
    return None


def _other_centre(f: ScopeFacts) -> str | None:
    if f.actor_centre_ids is not None and f.record_centre_id not in f.actor_centre_ids:
        return "This participant belongs to another centre; you can only write for your own."
    return None


# The role table of rule ``scope.role``: actions only some roles may take, whatever the
# centre, and what the others are told. Any other action is a write, refused to
# statisticians (read-only).
ACTION_ROLES: dict[str, tuple[frozenset[Role], str]] = {
    "review": (frozenset({Role.RESEARCH_OFFICER, Role.ADMIN}),
               "Only research officers and data managers review deviations and download "
               "the monitoring report; please ask one of them."),
    "admin": (frozenset({Role.ADMIN}),
              "Only data managers (admins) manage centres, staff and accounts."),
    # Choosing among centres (filters, enrolling for a centre): outreach workers work with
    # their own centre only.
    "choose_centre": (frozenset({Role.RESEARCH_OFFICER, Role.ADMIN, Role.STATISTICIAN}),
                      "Outreach workers work with their own centre's participants only."),
    "lock": (frozenset({Role.ADMIN}),
             "Only the data manager locks or unlocks the study."),
    "access_log": (frozenset({Role.RESEARCH_OFFICER, Role.ADMIN}),
                   "Only research officers and data managers review who read and exported "
                   "participants' records."),
}


def _role(f: ScopeFacts) -> str | None:
    if f.action in ACTION_ROLES:
        roles, refusal = ACTION_ROLES[f.action]
        return None if f.role in roles else refusal
    if f.role is Role.STATISTICIAN:
        return "Statisticians have read-only access to de-identified data."
    return None


def may(role: Role, action: str) -> bool:
    """Whether rule ``scope.role`` lets this role take the action (any centre in reach):
    what a page asks before offering a button it would otherwise refuse."""
    return _role(ScopeFacts(role, None, 0, action)) is None


def _locked_study(f: LockFacts) -> str | None:
    if f.study_locked:
        return ("The study is locked: its data are final and nothing more can be saved. "
                "Reading and exporting still work; the data manager can unlock it.")
    if f.centre_id is not None and f.centre_id in f.locked_centre_ids:
        return ("This centre's data are locked: nothing more can be saved for its "
                "participants. Reading and exporting still work; the data manager can "
                "unlock it.")
    return None


def _no_purpose(f: ExportFacts) -> str | None:
    if f.full_cohort and not (f.purpose and f.purpose.strip()):
        return ("Please say what this export of the whole cohort is for (its purpose is "
                "kept in the export log).")
    return None


def _visit_window(f: VisitFacts) -> str | None:
    opens, target, closes = f.config.window(f.timepoint, f.inclusion_date)
    if not opens <= f.visit_date <= closes:
        offset = (f.visit_date - target).days
        return (
            f"{f.timepoint.value} visit on {f.visit_date} is outside its window "
            f"({opens} to {closes}; {offset:+d} days from target)."
        )
    return None


def _session_comparison(f: SessionFacts) -> str | None:
    if f.group is Group.COMPARISON:
        return (
            "Session delivered to a comparison-group participant: recorded as a service, "
            "off-protocol, not counted for the study."
        )
    return None


def _session_trained(f: SessionFacts) -> str | None:
    if f.trained_staff < f.config.min_trained_staff:
        return (
            f"Only {f.trained_staff} AERLI-trained worker(s) present; the protocol asks "
            f"for {f.config.min_trained_staff}."
        )
    return None


def _session_remote(f: SessionFacts) -> str | None:
    if f.modality is not Modality.IN_PERSON:
        return (
            f"Session held {f.modality.value.replace('_', ' ')}: AERLI needs the injection "
            "observed in person, so it does not count for the protocol."
        )
    return None


def _session_site(f: SessionFacts) -> str | None:
    if f.injection_site in HIGH_RISK_SITES:
        assert f.injection_site is not None  # noqa: S101 (narrowing for mypy)
        return (
            f"Injection observed in the {f.injection_site.value}, a high-risk site the "
            "protocol excludes; please discuss safer sites."
        )
    return None


def _session_after_follow_up(f: SessionFacts) -> str | None:
    end = f.config.follow_up_end(f.inclusion_date)
    if f.session_date > end:
        return f"Session on {f.session_date} is after the end of follow-up ({end})."
    return None


def _no_session(f: ScheduleFacts) -> str | None:
    if f.group is not Group.INTERVENTION or not f.following:
        return None
    deadline = f.config.session_deadline(f.inclusion_date)
    if f.as_of <= deadline:
        return None
    if any(d <= deadline for d in f.valid_session_dates):
        return None
    return f"No valid AERLI session within six months of inclusion (deadline {deadline})."


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


def _overdue(f: ScheduleFacts) -> str | None:
    late = overdue_timepoints(f)
    if not late:
        return None
    return "; ".join(f"{tp.value} overdue (window closed {closes})" for tp, closes in late)


HARD, SOFT, TIME = Severity.HARD, Severity.SOFT, Severity.TIME

RULES: tuple[Rule[Any], ...] = (
    Rule("enrol.under_18", HARD, "Enrolment refused: under 18.", "enrolment",
         _age, NotEligible, "age"),
    Rule("enrol.no_recent_injection", HARD, "Enrolment refused: no injection in the past month.",
         "enrolment", _recent_injection, NotEligible, "injected_past_month"),
    Rule("enrol.high_risk_site", HARD,
         "Enrolment refused: wishes to inject in the neck or groin.", "enrolment",
         _high_risk_wish, NotEligible, "wish_neck_groin"),
    Rule("enrol.no_consent", HARD, "Enrolment refused: no dated consent before inclusion.",
         "enrolment", _consent, NotEligible, "consent"),
    Rule("enrol.inclusion_in_future", HARD, "Enrolment refused: inclusion dated in the future.",
         "enrolment", _inclusion_in_future, DateInFuture, "inclusion_date"),
    Rule("group.crossing", HARD, "Comparison participant cannot move to the intervention group.",
         "group_change", _crossing, GroupCrossingRefused, "group"),
    Rule("group.locked_after_m0", HARD, "Group cannot change after M0.", "group_change",
         _locked, GroupLocked, "group"),
    Rule("visit.duplicate", HARD, "A second questionnaire for the same timepoint is refused.",
         "questionnaire", _duplicate, DuplicateTimepoint, "timepoint"),
    Rule("date.before_inclusion", HARD, "Visit or session dated before inclusion.", "dated",
         _before_inclusion, DateBeforeInclusion, "date"),
    Rule("date.in_future", HARD, "Visit or session dated in the future.", "dated",
         _future, DateInFuture, "date"),
    Rule("scope.role", HARD, "The person's role does not allow this write.", "scope",
         _role, ActionNotAllowed),
    Rule("scope.other_centre", HARD, "Writing for another centre's participant is refused.",
         "scope", _other_centre, OutsideCentreScope),
    Rule("study.locked", HARD, "The study (or this centre) is locked: every write is refused.",
         "lock", _locked_study, StudyLocked),
    Rule("export.no_purpose", HARD, "A full-cohort export needs a stated purpose.", "export",
         _no_purpose, PurposeMissing, "purpose"),
    Rule("session.comparison_group", SOFT, "AERLI session for a comparison participant.",
         "session", _session_comparison),
    Rule("session.trained_staff", SOFT, "Session with fewer than two AERLI-trained workers.",
         "session", _session_trained),
    Rule("session.not_in_person", SOFT, "Session not observed in person (online or phone).",
         "session", _session_remote),
    Rule("session.high_risk_site", SOFT, "Session observed an injection in the neck or groin.",
         "session", _session_site),
    Rule("session.after_follow_up", SOFT, "Session after the end of follow-up.", "session",
         _session_after_follow_up),
    Rule("visit.out_of_window", SOFT, "Questionnaire outside its visit window.",
         "questionnaire_window", _visit_window),
    Rule("time.no_session_6m", TIME,
         "Intervention participant without a valid session within six months.", "schedule",
         _no_session),
    Rule("time.visit_overdue", TIME, "A follow-up questionnaire is overdue.", "schedule", _overdue),
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
        if rule.severity is not HARD:
            continue
        reason = rule.check(facts)
        if reason is not None:
            error = rule.error or ProtocolViolation
            raise error(rule.id, reason, field=rule.field)


@dataclass(frozen=True)
class Finding:
    """A soft or time-based rule that fired: what to raise as a deviation."""

    rule_id: str
    severity: Severity
    message: str


def evaluate(applies_to: str, facts: object) -> list[Finding]:
    """Run the soft or time-based rules of a kind; return every one that fired."""
    return [
        Finding(rule.id, rule.severity, reason)
        for rule in rules_for(applies_to)
        if rule.severity is not HARD and (reason := rule.check(facts)) is not None
    ]


def disqualifies_session(findings: Iterable[Finding]) -> bool:
    return any(f.rule_id in SESSION_DISQUALIFIERS for f in findings)
