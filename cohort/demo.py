"""A realistic synthetic cohort, written through the same services that enforce the rules.

Calibrated on the published ANRS-AERLI figures (Roux et al., Addiction 2016): about 53%
intervention; 78% of intervention participants with at least one session; any HIV–HCV
at-risk practice 44% → 25% at M6 (intervention) vs 27% → 23% (comparison); any
injection-site complication 66% → 39% at M12 vs 56% → 62%. On top of that it adds what a
real study sees: attrition and returns, deaths, withdrawals, late and remote sessions,
sessions with one trained worker, sessions for comparison participants (contamination),
visits outside their window, refused screenings. Because everything goes through the
services, the deviations in the demo are real ones.

Deterministic for a seed: one ``random.Random`` drives every choice. No real person is
described anywhere: staff and centres get generic labels.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import NormalDist
from typing import Any, TypeVar

from sqlmodel import Session

from cohort.demo_writers import BatchWriter, DemoWriter, OneByOneWriter
from cohort.models import Centre, CentreCreate, Participant, Staff, StaffCreate
from cohort.services.checks import run_checks
from cohort.services.context import DEMO, Actor, actor_for, batch, protocol_config
from cohort.services.enrolment import EnrolmentCreate, ScreeningCreate
from cohort.services.lockstate import require_unlocked
from cohort.services.sessions import AerliSessionCreate
from cohort.services.setup import create_centre, create_staff
from cohort.vocab import (
    Gender,
    Group,
    InjectionSite,
    Modality,
    Role,
    ScreeningOutcome,
    Setting,
    Status,
    Timepoint,
)

CITIES = [
    "Paris", "Marseille", "Lyon", "Toulouse", "Nice", "Nantes", "Strasbourg", "Montpellier",
    "Bordeaux", "Lille", "Rennes", "Reims", "Saint-Étienne", "Toulon", "Le Havre",
    "Grenoble", "Dijon", "Angers", "Nîmes", "Clermont-Ferrand",
]

# Marginal prevalences per group at months 0, 6 and 12 after inclusion, from the
# published study. A visit of the schedule at another month takes the value interpolated
# between them (held at the last one beyond month 12).
RISK: dict[Group, tuple[tuple[int, float], ...]] = {
    Group.INTERVENTION: ((0, 0.44), (6, 0.25), (12, 0.25)),
    Group.COMPARISON: ((0, 0.27), (6, 0.23), (12, 0.23)),
}
COMPLICATION: dict[Group, tuple[tuple[int, float], ...]] = {
    Group.INTERVENTION: ((0, 0.66), (6, 0.50), (12, 0.39)),
    Group.COMPARISON: ((0, 0.56), (6, 0.59), (12, 0.62)),
}
# Intervention participants without a valid session improve little; those with one
# improve more, so that the intention-to-treat mix matches the published figures.
UNTREATED_SHIFT: tuple[tuple[int, float], ...] = ((0, 0.0), (6, -0.05), (12, -0.06))

P_INTERVENTION = 144 / 271
P_ANY_SESSION = 113 / 144
# Attendance at the first follow-up visit, and at each later one (then lower for people
# at higher risk, and P_RETURN for someone who missed the visit before).
P_M6 = 0.84
P_M12 = 0.76
P_RETURN = 0.35
WITHIN_PERSON_CORRELATION = 0.5
# Share of the latent (probit-scale) variance of each outcome that participants of one
# centre share: the centre's level, and the same share again for how much its
# intervention participants change (the centre delivers AERLI). 0 removes centres.
CENTRE_ICC = 0.05
# How much a person's risk latent moves their chance of missing M12 (probit scale): the
# M6 answers then predict who misses M12, as in the field.
M12_MISS_BY_RISK = 0.35

_NORMAL = NormalDist()
T = TypeVar("T")


def _pick(rng: random.Random, options: Sequence[T], weights: tuple[int, ...]) -> T:
    """``rng.choices(options, weights=weights)[0]``, the same draw from the same stream
    (``choices``' own bisection over the cumulative weights), without rebuilding those
    weights at every call: the demo draws hundreds of thousands of answers."""
    cum = _CUMULATIVE.get(weights)
    if cum is None:
        cum = _CUMULATIVE[weights] = list(itertools.accumulate(weights))
    return options[bisect.bisect(cum, rng.random() * (cum[-1] + 0.0), 0, len(options) - 1)]


_CUMULATIVE: dict[tuple[int, ...], list[int]] = {}


def at_month(curve: tuple[tuple[int, float], ...], month: float) -> float:
    """The curve's value at ``month``: linear between its points, flat outside them."""
    if month <= curve[0][0]:
        return curve[0][1]
    for (m0, v0), (m1, v1) in zip(curve, curve[1:], strict=False):
        if month == m1:
            return v1
        if month < m1:
            return v0 + (v1 - v0) * (month - m0) / (m1 - m0)
    return curve[-1][1]


@dataclass
class DemoSummary:
    centres: int = 0
    staff: int = 0
    screened: int = 0
    participants: int = 0
    questionnaires: int = 0
    sessions: int = 0
    status_changes: int = 0
    deviations: Counter[str] = field(default_factory=Counter)

    @property
    def rows(self) -> int:
        """Study records written (audit entries and link rows not counted)."""
        return (self.centres + self.staff + self.screened + self.participants
                + self.questionnaires + self.sessions + self.status_changes
                + sum(self.deviations.values()))


@dataclass
class _CentreTeam:
    centre: Centre
    workers: list[Staff]
    trained: list[Staff]
    untrained: list[Staff]
    actor: Actor


class _Generator:
    def __init__(self, session: Session, seed: int, as_of: date,
                 centre_icc: float = CENTRE_ICC, one_by_one: bool = False) -> None:
        if not 0.0 <= centre_icc <= (1 - WITHIN_PERSON_CORRELATION) / 2:
            raise ValueError(
                f"centre ICC {centre_icc} is outside 0 to "
                f"{(1 - WITHIN_PERSON_CORRELATION) / 2:g} (with a within-person correlation "
                f"of {WITHIN_PERSON_CORRELATION}, the centre can share at most that much)")
        self.session = session
        self.writer: DemoWriter = (OneByOneWriter(session, as_of) if one_by_one
                                   else BatchWriter(session, as_of))
        self.rng = random.Random(seed)
        self.as_of = as_of
        self.config = protocol_config()
        self.summary = DemoSummary()
        self.centre_icc = centre_icc
        # Per centre code: (level, intervention effect) latents for each of the two outcomes.
        self.centre_latent: dict[int, tuple[tuple[float, float], tuple[float, float]]] = {}

    # ------------------------------------------------------------------ set-up
    def teams(self) -> list[_CentreTeam]:
        teams = []
        start = self.as_of - timedelta(days=1100)
        for i, city in enumerate(CITIES, start=1):
            centre = create_centre(
                self.session, actor=DEMO,
                data=CentreCreate(code=f"C{i:02d}", name=f"Harm-reduction centre {city}",
                                  city=city),
            )
            assert centre.id is not None  # noqa: S101
            workers = []
            for j in range(self.rng.randint(3, 5)):
                trained = j < 3 or self.rng.random() < 0.3
                workers.append(create_staff(
                    self.session, actor=DEMO,
                    data=StaffCreate(
                        display_name=f"Outreach worker {centre.code}-{j + 1}",
                        role=Role.OUTREACH_WORKER, centre_id=centre.id,
                        aerli_trained_on=start - timedelta(days=self.rng.randint(0, 200))
                        if trained else None,
                    ),
                ))
            trained_staff = [w for w in workers if w.aerli_trained_on is not None]
            untrained = [w for w in workers if w.aerli_trained_on is None]
            teams.append(_CentreTeam(centre, workers, trained_staff, untrained,
                                     actor_for(self.session, workers[0])))
        for team in teams:
            self.centre_latent[int(team.centre.id or 0)] = (
                (self.rng.gauss(0, 1), self.rng.gauss(0, 1)),
                (self.rng.gauss(0, 1), self.rng.gauss(0, 1)))
        for role, n in ((Role.RESEARCH_OFFICER, 2), (Role.STATISTICIAN, 1), (Role.ADMIN, 1)):
            for k in range(n):
                create_staff(self.session, actor=DEMO, data=StaffCreate(
                    display_name=f"{role.value.replace('_', ' ').capitalize()} {k + 1}",
                    role=role))
        self.summary.centres = len(teams)
        self.summary.staff = sum(len(t.workers) for t in teams) + 4
        return teams

    # ------------------------------------------------------------------ people
    def screen_out(self, team: _CentreTeam, when: date) -> None:
        """A person screened but not enrolled: the rules refuse, the screening is kept."""
        rng = self.rng
        if rng.random() < 0.35:
            self.writer.screening(team.actor, ScreeningCreate(
                screened_on=when, outcome=ScreeningOutcome.DECLINED,
                reason="Did not wish to take part",
                reached_via=rng.choice(list(Modality))))
            self.summary.screened += 1
            return
        problem = rng.choice(["age", "injection", "site", "consent"])
        attempt = EnrolmentCreate(
            age=rng.randint(16, 17) if problem == "age" else rng.randint(19, 60),
            injected_past_month=problem != "injection",
            wish_neck_groin=problem == "site",
            consent=problem != "consent",
            consent_date=when if problem != "consent" else None,
            inclusion_date=when,
            group=Group.COMPARISON,
        )
        refusal = self.writer.refused(team.actor, attempt)
        if refusal is not None:
            outcome = (ScreeningOutcome.DECLINED if refusal.rule_id == "enrol.no_consent"
                       else ScreeningOutcome.NOT_ELIGIBLE)
            self.writer.screening(team.actor, ScreeningCreate(
                screened_on=when, outcome=outcome, reason=refusal.rule_id,
                reached_via=Modality.IN_PERSON))
            self.summary.screened += 1
            return
        raise AssertionError("an ineligible enrolment was accepted")  # pragma: no cover

    def enrol_one(self, team: _CentreTeam, inclusion: date) -> Participant:
        rng = self.rng
        age = max(18, min(70, int(rng.gauss(37, 9))))
        group = Group.INTERVENTION if rng.random() < P_INTERVENTION else Group.COMPARISON
        data = EnrolmentCreate(
            age=age, injected_past_month=True, wish_neck_groin=False, consent=True,
            consent_date=inclusion, inclusion_date=inclusion,
            year_of_birth=inclusion.year - age - rng.randint(0, 1),
            gender=_pick(rng, list(Gender), (22, 74, 2, 2)),
            reached_via=_pick(rng, list(Modality), (85, 10, 5)),
            group=group,
        )
        participant = self.writer.enrol(team.actor, team.centre, data)
        self.summary.participants += 1
        self.summary.screened += 1
        return participant

    # ------------------------------------------------------------------ answers
    def _binary(self, p: float, latent: float, centre: float = 0.0,
                centre_share: float = 0.0) -> bool:
        """Correlated draws with exact marginal ``p`` (Gaussian copula): a person's latent
        (share ``WITHIN_PERSON_CORRELATION``), the centre's (``centre_share``), noise."""
        rho = WITHIN_PERSON_CORRELATION
        z = (math.sqrt(rho) * latent + centre
             + math.sqrt(1 - rho - centre_share) * self.rng.gauss(0, 1))
        return z < _NORMAL.inv_cdf(min(max(p, 1e-6), 1 - 1e-6))

    def _centre_part(self, participant: Participant, tp: Timepoint, which: int
                     ) -> tuple[float, float]:
        """The centre's contribution to one outcome's latent, and its share of variance:
        its level at every visit, plus its own intervention effect at follow-up."""
        icc = self.centre_icc
        level, effect = self.centre_latent.get(participant.centre_id, ((0.0, 0.0), (0.0, 0.0)))
        value, share = math.sqrt(icc) * level[which], icc
        if participant.group is Group.INTERVENTION and tp != self.config.schedule.baseline.name:
            value, share = value + math.sqrt(icc) * effect[which], share + icc
        return value, share

    def answers(self, participant: Participant, tp: Timepoint, visit: date,
                treated: bool, latent: tuple[float, float]) -> dict[str, Any]:
        rng = self.rng
        month = self.config.visit(tp).month
        baseline = tp == self.config.schedule.baseline.name
        p_risk = at_month(RISK[participant.group], month)
        p_comp = at_month(COMPLICATION[participant.group], month)
        if participant.group is Group.INTERVENTION and not baseline:
            shift = at_month(UNTREATED_SHIFT, month)
            untreated_risk = at_month(RISK[Group.INTERVENTION], 0) + shift
            untreated_comp = at_month(COMPLICATION[Group.INTERVENTION], 0) + shift
            share = P_ANY_SESSION * 0.9
            if treated:
                p_risk = (p_risk - (1 - share) * untreated_risk) / share
                p_comp = (p_comp - (1 - share) * untreated_comp) / share
            else:
                p_risk, p_comp = untreated_risk, untreated_comp
        risk = self._binary(p_risk, latent[0], *self._centre_part(participant, tp, 0))
        comp = self._binary(p_comp, latent[1], *self._centre_part(participant, tp, 1))
        yn = {True: "1", False: "0"}
        shares = dict.fromkeys(
            ("share_syringe", "share_cooker", "share_filter", "share_water"), False)
        if risk:
            weights = {"share_syringe": 0.35, "share_cooker": 0.6, "share_filter": 0.45,
                       "share_water": 0.4}
            for name, w in weights.items():
                shares[name] = rng.random() < w
            if not any(shares.values()):
                shares[rng.choice(list(weights))] = True
        complications = dict.fromkeys(("abscess", "cellulitis", "vein_damage", "missed_hit"), False)
        if comp:
            weights = {"abscess": 0.3, "cellulitis": 0.25, "vein_damage": 0.7, "missed_hit": 0.45}
            for name, w in weights.items():
                complications[name] = rng.random() < w
            if not any(complications.values()):
                complications["vein_damage"] = True
        products = sorted(rng.sample(["1", "2", "3", "4", "5", "6", "7"], rng.randint(1, 3)))
        answers: dict[str, Any] = {
            "visit_date": visit.isoformat(),
            "inj_freq": _pick(rng, ["1", "2", "3", "4", "5"], (10, 10, 30, 25, 25)),
            "products": products,
            "inj_sites": sorted(rng.sample(["1", "2", "3", "4"], rng.randint(1, 2))),
            **{k: yn[v] for k, v in shares.items()},
            "reuse_own_syringe": yn[rng.random() < 0.45],
            "water_source": _pick(rng, ["1", "2", "3", "4"], (65, 10, 20, 5)),
            "acidifier": _pick(rng, ["1", "2", "3", "4", "5", "6"], (40, 40, 10, 6, 3, 1)),
            "swab_before": yn[rng.random() < 0.7],
            "swab_after": yn[rng.random() < 0.4],
            "rotate_sites": yn[rng.random() < 0.6],
            "inject_outdoors_hurry": yn[rng.random() < 0.35],
            **{k: yn[v] for k, v in complications.items()},
            "overdose": yn[rng.random() < 0.08],
            "hcv_test_ever": yn[hcv := rng.random() < 0.8],
            "hiv_test_ever": yn[hiv := rng.random() < 0.75],
            "oat_current": yn[oat := rng.random() < 0.55],
            "hr_services": sorted(rng.sample(["1", "2", "3", "4", "5", "6"], rng.randint(1, 3))),
        }
        if hcv:
            answers["hcv_last_result"] = _pick(rng, ["1", "2", "3"], (60, 30, 10))
        if hiv:
            answers["hiv_last_result"] = _pick(rng, ["1", "2", "3"], (90, 5, 5))
        if oat:
            answers["oat_type"] = _pick(rng, ["1", "2", "3"], (55, 40, 5))
        if baseline:
            years = rng.randint(1, 25)
            answers.update({
                "housing": _pick(rng, ["1", "2", "3", "4", "5", "6"], (30, 15, 20, 15, 15, 5)),
                "income_source": _pick(rng, ["1", "2", "3", "4"], (15, 60, 20, 5)),
                "education": _pick(rng, ["1", "2", "3"], (30, 55, 15)),
                "years_injecting": years,
                "age_first_injection": max(12, min(60, participant.age_at_inclusion - years)),
                "prison_ever": yn[rng.random() < 0.4],
            })
        return answers

    # ------------------------------------------------------------------ follow-up
    def visit_date(self, participant: Participant, tp: Timepoint) -> date:
        opens, target, closes = self.config.window(tp, participant.inclusion_date)
        if tp == self.config.schedule.baseline.name:
            return participant.inclusion_date + timedelta(days=self.rng.choice([0, 0, 0, 1, 3]))
        if self.rng.random() < 0.08:  # a visit outside its window
            days = self.config.window_width(tp) + self.rng.randint(3, 40)
            return target + timedelta(days=days if self.rng.random() < 0.7 else -days)
        return target + timedelta(days=int(self.rng.gauss(0, 14)))

    def sessions(self, team: _CentreTeam, participant: Participant) -> bool:
        """Log sessions; return True if one counts for the protocol within six months."""
        rng = self.rng
        if participant.group is Group.INTERVENTION:
            if rng.random() >= P_ANY_SESSION:
                return False
            count = 1 + min(4, int(rng.expovariate(1.0)))
        elif rng.random() < 0.05:  # contamination: a session offered as a service
            count = 1
        else:
            return False
        first = int(rng.expovariate(1 / 40))
        if rng.random() < 0.08:
            first = self.config.session_deadline_days + rng.randint(5, 90)  # late session
        day, valid_early = first, False
        for _ in range(count):
            when = participant.inclusion_date + timedelta(days=day)
            if rng.random() < 0.02:
                when = self.config.follow_up_end(participant.inclusion_date) + timedelta(
                    days=rng.randint(1, 40))
            if when > self.as_of:
                break
            one_trained = rng.random() < 0.08 and team.untrained
            present = ([rng.choice(team.trained), rng.choice(team.untrained)] if one_trained
                       else rng.sample(team.trained, 2))
            site = _pick(rng, list(InjectionSite), (70, 12, 8, 4, 3, 3, 0))
            counts = self.writer.session(
                team.actor, participant, team.workers, AerliSessionCreate(
                session_date=when,
                setting=_pick(rng, list(Setting), (30, 25, 15, 10, 10, 10)),
                modality=_pick(rng, list(Modality), (94, 4, 2)),
                product=rng.choice(["1", "2", "5", "6"]),
                injection_site=site,
                risks=sorted(rng.sample(["1", "2", "3", "4", "5"], rng.randint(1, 3))),
                topics=sorted(rng.sample([str(i) for i in range(1, 9)], rng.randint(2, 4))),
                staff_ids=[s.id for s in present if s.id is not None],
            ))
            self.summary.sessions += 1
            if counts and when <= self.config.session_deadline(
                participant.inclusion_date
            ):
                valid_early = True
            day += rng.randint(14, 90)
        return valid_early

    def follow(self, team: _CentreTeam, participant: Participant, latent: tuple[float, float],
               treated: bool) -> None:
        rng = self.rng
        events: list[tuple[date, str, Any]] = []
        death = None
        if rng.random() < 0.02:
            death = participant.inclusion_date + timedelta(days=rng.randint(30, 400))
        withdrawal = None
        if rng.random() < 0.03:
            withdrawal = participant.inclusion_date + timedelta(days=rng.randint(20, 350))
        stop = min(d for d in (death, withdrawal, date.max) if d is not None)
        visits = [Timepoint(v.name) for v in self.config.schedule.follow_ups]
        missed: list[bool] = []
        for at in range(len(visits)):
            if at == 0:
                missed.append(rng.random() > P_M6)
                continue
            # People at higher risk miss later visits more often (their answers show it).
            p_later = _NORMAL.cdf(_NORMAL.inv_cdf(P_M12 if not missed[-1] else P_RETURN)
                                  - M12_MISS_BY_RISK * latent[0])
            missed.append(rng.random() > p_later)
        for tp, skipped in zip(visits, missed, strict=True):
            if skipped:
                continue
            visit = self.visit_date(participant, tp)
            if visit <= self.as_of and visit < stop:
                events.append((visit, "visit", tp))
        if missed and missed[0]:
            closes = self.config.window(visits[0], participant.inclusion_date)[2]
            lost_on = closes + timedelta(days=rng.randint(1, 30))
            if lost_on <= self.as_of and lost_on < stop:
                events.append((lost_on, "status", Status.LOST_TO_FOLLOW_UP))
                came = next((tp for tp, skipped in zip(visits, missed, strict=True)
                             if not skipped), None)
                if came is not None:
                    later = [e for e in events if e[1] == "visit" and e[2] == came]
                    if later:
                        back = later[0][0] - timedelta(days=rng.randint(0, 10))
                        events.append((max(back, lost_on + timedelta(days=1)), "status",
                                       Status.RETURNED))
        if death is not None and death <= self.as_of:
            events.append((death, "status", Status.DECEASED))
        elif withdrawal is not None and withdrawal <= self.as_of:
            events.append((withdrawal, "status", Status.WITHDRAWN))
        for when, kind, what in sorted(events, key=lambda e: (e[0], e[1] == "visit")):
            if kind == "visit":
                self.writer.questionnaire(
                    team.actor, participant.code, what,
                    self.answers(participant, what, when, treated, latent))
                self.summary.questionnaires += 1
            else:
                self.writer.status(team.actor, participant.code, what, when,
                                   "Recorded by the outreach team")
                self.summary.status_changes += 1

    def _count(self, deviations: list[Any]) -> None:
        for d in deviations:
            self.summary.deviations[d.rule_id] += 1


def build_demo(
    session: Session,
    *,
    participants: int = 600,
    seed: int = 42,
    as_of: date | None = None,
    commit_every: int = 1000,  # a transaction per thousand people: fewer per-batch reads, commits
    centre_icc: float = CENTRE_ICC,
    one_by_one: bool = False,
) -> DemoSummary:
    """Create 20 centres, their staff and ``participants`` people followed up to ``as_of``.

    Runs in batches of ``commit_every`` participants; each batch is all-or-nothing.
    ``centre_icc`` is the share of each outcome's latent variance that a centre's
    participants share (and, again, of how much its intervention participants change);
    0 gives centres no effect at all. The records of a batch are written together
    through the bulk services (``demo_writers.BatchWriter``); ``one_by_one`` writes each
    at once through the one-by-one services instead (same rules, same rows, slower).
    """
    as_of = as_of or date.today()
    require_unlocked(session, None)  # study.locked: not even the centres and staff are made
    gen = _Generator(session, seed, as_of, centre_icc, one_by_one)
    baseline = Timepoint(gen.config.schedule.baseline.name)
    # Inclusions spread over twice the follow-up (at least 820 days), so that every visit
    # has people before, inside and after its window.
    earliest = max(820, 2 * gen.config.schedule.last.closes_day)
    with batch(session):
        teams = gen.teams()
    done = 0
    while done < participants:
        with batch(session):
            for _ in range(min(commit_every, participants - done)):
                team = gen.rng.choice(teams)
                inclusion = as_of - timedelta(days=gen.rng.randint(45, earliest))
                if gen.rng.random() < 0.25:
                    gen.screen_out(team, inclusion)
                participant = gen.enrol_one(team, inclusion)
                latent = (gen.rng.gauss(0, 1), gen.rng.gauss(0, 1))
                gen.writer.questionnaire(
                    team.actor, participant.code, baseline,
                    gen.answers(participant, baseline,
                                gen.visit_date(participant, baseline), False, latent))
                gen.summary.questionnaires += 1
                treated = gen.sessions(team, participant)
                gen.follow(team, participant, latent, treated)
                done += 1
            gen.writer.flush()
    with batch(session):
        report = run_checks(session, as_of=as_of)
    gen.summary.deviations.update(gen.writer.deviations)
    gen._count(report.raised)
    return gen.summary
