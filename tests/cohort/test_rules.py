"""Pure protocol-rule tests: facts in, decision out, no database.

Rules covered (ids from ``cohort.rules.RULES``): enrol.under_18, enrol.no_recent_injection,
enrol.high_risk_site, enrol.no_consent, enrol.inclusion_in_future,
group.crossing, group.locked_after_m0,
visit.duplicate, date.before_inclusion, date.in_future, scope.role, scope.other_centre,
session.comparison_group, session.trained_staff, session.not_in_person,
session.high_risk_site, session.after_follow_up, visit.out_of_window,
time.no_session_6m, time.visit_overdue.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cohort import rules
from cohort.errors import (
    ActionNotAllowed,
    DateBeforeInclusion,
    DateInFuture,
    DuplicateTimepoint,
    GroupCrossingRefused,
    GroupLocked,
    NotEligible,
    OutsideCentreScope,
)
from cohort.rules import (
    DatedFacts,
    EnrolmentFacts,
    GroupChangeFacts,
    ProtocolConfig,
    ScheduleFacts,
    ScopeFacts,
    SessionFacts,
    VisitFacts,
)
from cohort.vocab import Group, InjectionSite, Modality, Role, Severity, Timepoint

CFG = ProtocolConfig()
INCL = date(2025, 1, 10)
TODAY = date(2026, 11, 22)


def enrolment(**kw: object) -> EnrolmentFacts:
    base: dict[str, object] = {"age": 30, "injected_past_month": True, "wish_neck_groin": False,
                                   "consent": True, "consent_date": INCL, "inclusion_date": INCL,
                                   "today": TODAY}
    base.update(kw)
    return EnrolmentFacts(**base)  # type: ignore[arg-type]


def session_facts(**kw: object) -> SessionFacts:
    base: dict[str, object] = {"group": Group.INTERVENTION, "modality": Modality.IN_PERSON,
                                   "trained_staff": 2, "injection_site": InjectionSite.ARM,
                                   "session_date": INCL + timedelta(days=30),
                                   "inclusion_date": INCL,
                                   "config": CFG}
    base.update(kw)
    return SessionFacts(**base)  # type: ignore[arg-type]


def test_every_rule_has_unique_id_message_and_known_kind() -> None:
    ids = [r.id for r in rules.RULES]
    assert len(ids) == len(set(ids))
    kinds = {"enrolment", "group_change", "questionnaire", "dated", "scope", "session",
             "questionnaire_window", "schedule", "lock", "export", "import.status",
             "import.enrolment_change", "import.enrolment", "import.row",
             "import.session_staff", "import.file"}
    for rule in rules.RULES:
        assert rule.message.strip()
        assert rule.applies_to in kinds
        assert (rule.error is not None) == (rule.severity is Severity.HARD)


def test_eligible_enrolment_passes() -> None:
    rules.enforce("enrolment", enrolment())


@pytest.mark.parametrize(
    ("facts", "rule_id"),
    [
        (enrolment(age=17), "enrol.under_18"),
        (enrolment(injected_past_month=False), "enrol.no_recent_injection"),
        (enrolment(wish_neck_groin=True), "enrol.high_risk_site"),
        (enrolment(consent=False, consent_date=None), "enrol.no_consent"),
        (enrolment(consent_date=INCL + timedelta(days=1)), "enrol.no_consent"),
    ],
)
def test_ineligible_enrolment_is_refused_with_its_rule(facts: EnrolmentFacts, rule_id: str) -> None:
    with pytest.raises(NotEligible) as refused:
        rules.enforce("enrolment", facts)
    assert refused.value.rule_id == rule_id
    assert refused.value.message


def test_age_18_is_eligible() -> None:
    rules.enforce("enrolment", enrolment(age=18))


def test_minimum_age_comes_from_the_protocol_config() -> None:
    """enrol.under_18 uses ProtocolConfig.min_age, so another study can change it."""
    stricter = rules.ProtocolConfig(min_age=21)
    with pytest.raises(NotEligible) as refused:
        rules.enforce("enrolment", enrolment(age=19, config=stricter))
    assert refused.value.rule_id == "enrol.under_18" and "21 or over" in refused.value.message


def test_inclusion_in_the_future_is_its_own_rule_not_consent() -> None:
    """enrol.inclusion_in_future (DateInFuture), not enrol.no_consent."""
    later = TODAY + timedelta(days=3)
    with pytest.raises(rules.DateInFuture) as refused:
        rules.enforce("enrolment", enrolment(inclusion_date=later, consent_date=later,
                                             today=TODAY))
    assert refused.value.rule_id == "enrol.inclusion_in_future"
    assert refused.value.field == "inclusion_date"


def test_m6_and_m12_windows_can_differ() -> None:
    """visit.out_of_window: COHORT_VISIT_WINDOW_DAYS via the schedule."""
    from tests.factories import config_with

    config = config_with(visit_window_days={"M6": 21, "M12": 60})
    incl = date(2026, 1, 1)
    assert config.window(Timepoint("M6"), incl)[2] == incl + timedelta(days=182 + 21)
    assert config.window(Timepoint("M12"), incl)[0] == incl + timedelta(days=365 - 60)
    assert rules.ProtocolConfig().window_width(Timepoint("M6")) == 42


def test_comparison_to_intervention_is_refused_even_before_m0() -> None:
    with pytest.raises(GroupCrossingRefused) as refused:
        rules.enforce("group_change", GroupChangeFacts(Group.COMPARISON, Group.INTERVENTION,
                                                       has_m0=False))
    assert refused.value.rule_id == "group.crossing"


def test_any_group_change_after_m0_is_refused() -> None:
    with pytest.raises(GroupLocked) as refused:
        rules.enforce("group_change", GroupChangeFacts(Group.INTERVENTION, Group.COMPARISON,
                                                       has_m0=True))
    assert refused.value.rule_id == "group.locked_after_m0"


def test_intervention_to_comparison_before_m0_is_allowed() -> None:
    rules.enforce("group_change", GroupChangeFacts(Group.INTERVENTION, Group.COMPARISON,
                                                   has_m0=False))


def test_second_questionnaire_for_a_timepoint_is_refused() -> None:
    facts = VisitFacts(Timepoint("M6"), INCL, INCL,
                       frozenset({Timepoint("M0"), Timepoint("M6")}), CFG)
    with pytest.raises(DuplicateTimepoint):
        rules.enforce("questionnaire", facts)


def test_dates_before_inclusion_or_in_future_are_refused() -> None:
    with pytest.raises(DateBeforeInclusion):
        rules.enforce("dated", DatedFacts(INCL - timedelta(days=1), INCL, TODAY))
    with pytest.raises(DateInFuture):
        rules.enforce("dated", DatedFacts(TODAY + timedelta(days=1), INCL, TODAY))
    rules.enforce("dated", DatedFacts(TODAY, INCL, TODAY))
    rules.enforce("dated", DatedFacts(INCL, INCL, TODAY))


def test_scope_rules() -> None:
    with pytest.raises(OutsideCentreScope):
        rules.enforce("scope", ScopeFacts(Role.OUTREACH_WORKER, frozenset({1}), 2))
    with pytest.raises(ActionNotAllowed):
        rules.enforce("scope", ScopeFacts(Role.STATISTICIAN, None, 2))
    with pytest.raises(ActionNotAllowed):
        rules.enforce("scope", ScopeFacts(Role.OUTREACH_WORKER, frozenset({1}), 1, "review"))
    rules.enforce("scope", ScopeFacts(Role.OUTREACH_WORKER, frozenset({1}), 1))
    rules.enforce("scope", ScopeFacts(Role.RESEARCH_OFFICER, None, 7, "review"))


RO, ADMIN, OW, STAT = (Role.RESEARCH_OFFICER, Role.ADMIN, Role.OUTREACH_WORKER,
                       Role.STATISTICIAN)


@pytest.mark.parametrize(("action", "allowed"), [
    ("write", {RO, ADMIN, OW}),
    ("review", {RO, ADMIN}),
    ("admin", {ADMIN}),
    ("choose_centre", {RO, ADMIN, STAT}),
])
def test_may_answers_what_scope_role_enforces(action: str, allowed: set[Role]) -> None:
    """``rules.may`` (what pages ask) and rule scope.role (what services enforce) agree."""
    for role in Role:
        assert rules.may(role, action) is (role in allowed), (role, action)
        if role in allowed:
            rules.enforce("scope", ScopeFacts(role, None, 0, action))
        else:
            with pytest.raises(ActionNotAllowed) as refused:
                rules.enforce("scope", ScopeFacts(role, None, 0, action))
            assert refused.value.rule_id == "scope.role"


def fired(kind: str, facts: object) -> set[str]:
    return {f.rule_id for f in rules.evaluate(kind, facts)}


def test_on_protocol_session_raises_nothing() -> None:
    assert fired("session", session_facts()) == set()


@pytest.mark.parametrize(
    ("overrides", "rule_id"),
    [
        ({"group": Group.COMPARISON}, "session.comparison_group"),
        ({"trained_staff": 1}, "session.trained_staff"),
        ({"modality": Modality.PHONE}, "session.not_in_person"),
        ({"modality": Modality.ONLINE}, "session.not_in_person"),
        ({"injection_site": InjectionSite.NECK}, "session.high_risk_site"),
        ({"injection_site": InjectionSite.GROIN}, "session.high_risk_site"),
        ({"session_date": INCL + timedelta(days=365 + 43)}, "session.after_follow_up"),
    ],
)
def test_soft_session_rules(overrides: dict[str, object], rule_id: str) -> None:
    assert fired("session", session_facts(**overrides)) == {rule_id}


def test_session_on_last_day_of_follow_up_is_on_protocol() -> None:
    assert fired("session", session_facts(session_date=CFG.follow_up_end(INCL))) == set()


def test_high_risk_site_alone_does_not_disqualify_the_session() -> None:
    findings = rules.evaluate("session", session_facts(injection_site=InjectionSite.NECK))
    assert not rules.disqualifies_session(findings)
    findings = rules.evaluate("session", session_facts(trained_staff=1))
    assert rules.disqualifies_session(findings)


@pytest.mark.parametrize(("day", "outside"), [(182, False), (182 - 42, False), (182 + 42, False),
                                             (182 - 43, True), (182 + 43, True)])
def test_visit_window_edges(day: int, outside: bool) -> None:
    facts = VisitFacts(Timepoint("M6"), INCL + timedelta(days=day), INCL, frozenset(), CFG)
    assert (fired("questionnaire_window", facts) == {"visit.out_of_window"}) is outside


def test_window_is_configurable() -> None:
    from tests.factories import config_with

    narrow = config_with(window_days=14)
    facts = VisitFacts(Timepoint("M12"), INCL + timedelta(days=365 + 20), INCL, frozenset(), narrow)
    assert fired("questionnaire_window", facts) == {"visit.out_of_window"}


def schedule(**kw: object) -> ScheduleFacts:
    base: dict[str, object] = {"group": Group.INTERVENTION, "inclusion_date": INCL,
                                   "as_of": INCL + timedelta(days=200), "following": True,
                                   "done": frozenset({Timepoint("M0"), Timepoint("M6")}),
                                   "valid_session_dates": (), "config": CFG}
    base.update(kw)
    return ScheduleFacts(**base)  # type: ignore[arg-type]


def test_no_session_within_six_months() -> None:
    assert "time.no_session_6m" in fired("schedule", schedule())
    in_time = schedule(valid_session_dates=(INCL + timedelta(days=90),))
    assert "time.no_session_6m" not in fired("schedule", in_time)
    late = schedule(valid_session_dates=(INCL + timedelta(days=190),))
    assert "time.no_session_6m" in fired("schedule", late)
    before_deadline = schedule(as_of=INCL + timedelta(days=100))
    assert "time.no_session_6m" not in fired("schedule", before_deadline)
    assert "time.no_session_6m" not in fired("schedule", schedule(group=Group.COMPARISON))
    assert "time.no_session_6m" not in fired("schedule", schedule(following=False))


def test_overdue_visits() -> None:
    late = schedule(as_of=INCL + timedelta(days=182 + 43), done=frozenset({Timepoint("M0")}))
    assert rules.overdue_timepoints(late) == [(Timepoint("M6"), INCL + timedelta(days=224))]
    on_edge = schedule(as_of=INCL + timedelta(days=224), done=frozenset({Timepoint("M0")}))
    assert rules.overdue_timepoints(on_edge) == []
    both = schedule(as_of=INCL + timedelta(days=500), done=frozenset({Timepoint("M0")}))
    assert [tp for tp, _ in rules.overdue_timepoints(both)] == [Timepoint("M6"), Timepoint("M12")]
    assert rules.overdue_timepoints(schedule(as_of=INCL + timedelta(days=500),
                                             following=False)) == []


def test_a_full_cohort_export_needs_a_purpose() -> None:
    """Rule export.no_purpose: only exports of every centre need one; blanks do not count."""
    from cohort.errors import PurposeMissing
    from cohort.rules import ExportFacts

    rules.enforce("export", ExportFacts(full_cohort=False, purpose=None))
    rules.enforce("export", ExportFacts(full_cohort=True, purpose="Statistical analysis"))
    with pytest.raises(PurposeMissing) as refused:
        rules.enforce("export", ExportFacts(full_cohort=True, purpose="   "))
    assert (refused.value.rule_id, refused.value.field) == ("export.no_purpose", "purpose")
