"""One-line builders of valid records, written through the real services.

Randomness, where any, comes from a seeded generator so failures replay.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session

from cohort.models import Centre, CentreCreate, Participant, Staff, StaffCreate
from cohort.services.context import COMMAND_LINE, Actor, actor_for
from cohort.services.enrolment import EnrolmentCreate, enrol
from cohort.services.questionnaires import save_questionnaire
from cohort.services.results import Saved
from cohort.services.sessions import AerliSessionCreate, log_session
from cohort.services.setup import create_centre, create_staff
from cohort.vocab import Group, Modality, Role, Setting, Timepoint

_counter = itertools.count(1)


def questionnaire_answers(visit_date: date, timepoint: Timepoint = Timepoint("M0"),
                          **overrides: Any) -> dict[str, Any]:
    """A complete, valid answer set (as a form would send it: strings)."""
    answers: dict[str, Any] = {
        "visit_date": visit_date.isoformat(),
        "inj_freq": "3",
        "products": ["1", "5"],
        "inj_sites": ["1"],
        "share_syringe": "0",
        "share_cooker": "1",
        "share_filter": "0",
        "share_water": "0",
        "reuse_own_syringe": "1",
        "water_source": "1",
        "acidifier": "2",
        "swab_before": "1",
        "swab_after": "0",
        "rotate_sites": "1",
        "inject_outdoors_hurry": "0",
        "abscess": "0",
        "cellulitis": "0",
        "vein_damage": "1",
        "missed_hit": "0",
        "overdose": "0",
        "hcv_test_ever": "1",
        "hcv_last_result": "1",
        "hiv_test_ever": "0",
        "oat_current": "1",
        "oat_type": "1",
        "hr_services": ["1", "3"],
    }
    if timepoint == Timepoint("M0"):
        answers.update({"housing": "3", "income_source": "2", "education": "2",
                        "years_injecting": "8", "age_first_injection": "22",
                        "prison_ever": "0"})
    answers.update(overrides)
    return answers


@dataclass
class Factory:
    session: Session
    today: date
    _centres: dict[str, Centre] = field(default_factory=dict)

    def centre(self, code: str | None = None) -> Centre:
        code = code or f"C{next(_counter) % 900 + 10:02d}"
        if code not in self._centres:
            self._centres[code] = create_centre(
                self.session, actor=COMMAND_LINE,
                data=CentreCreate(code=code, name=f"Centre {code}", city="Lyon"),
            )
        return self._centres[code]

    def staff(self, *, role: Role = Role.OUTREACH_WORKER, centre: Centre | None = None,
              trained: bool = True, national: bool = False) -> Staff:
        centre = None if national else (centre or self.centre("C01"))
        return create_staff(
            self.session, actor=COMMAND_LINE,
            data=StaffCreate(
                display_name=f"{role.value} {next(_counter)}", role=role,
                centre_id=centre.id if centre else None,
                aerli_trained_on=date(2024, 1, 15) if trained else None,
            ),
        )

    def actor(self, staff: Staff) -> Actor:
        return actor_for(self.session, staff)

    def worker(self, centre: Centre | None = None) -> Actor:
        return self.actor(self.staff(centre=centre))

    def enrolment(self, **overrides: Any) -> EnrolmentCreate:
        inclusion = overrides.pop("inclusion_date", self.today - timedelta(days=400))
        data: dict[str, Any] = {
            "age": 34, "injected_past_month": True, "wish_neck_groin": False,
            "consent": True, "consent_date": inclusion, "inclusion_date": inclusion,
            "year_of_birth": inclusion.year - 34, "gender": "man",
            "reached_via": Modality.IN_PERSON, "group": Group.INTERVENTION,
        }
        data.update(overrides)
        return EnrolmentCreate.model_validate(data)

    def participant(self, actor: Actor | None = None, **overrides: Any) -> Participant:
        actor = actor or self.worker()
        return enrol(self.session, actor=actor, data=self.enrolment(**overrides),
                     on=self.today).record

    def questionnaire(self, actor: Actor, participant: Participant,
                      timepoint: Timepoint = Timepoint("M0"),
                      visit_date: date | None = None, **answers: Any) -> Saved[Any]:
        days = {Timepoint("M0"): 0, Timepoint("M6"): 182, Timepoint("M12"): 365}[timepoint]
        visit = visit_date or participant.inclusion_date + timedelta(days=days)
        return save_questionnaire(
            self.session, actor=actor, code=participant.code, timepoint=timepoint,
            answers=questionnaire_answers(visit, timepoint, **answers), on=self.today,
        )

    def aerli_session(self, actor: Actor, participant: Participant,
                      staff: list[Staff] | None = None, **overrides: Any) -> Saved[Any]:
        if staff is None:  # two trained workers of the participant's own centre
            home = self.session.get(Centre, participant.centre_id)
            staff = [self.staff(centre=home), self.staff(centre=home)]
        data: dict[str, Any] = {
            "session_date": participant.inclusion_date + timedelta(days=30),
            "setting": Setting.SQUAT, "modality": Modality.IN_PERSON,
            "product": "1", "injection_site": "arm", "risks": ["2"], "topics": ["1", "5"],
            "staff_ids": [s.id for s in staff],
        }
        data.update(overrides)
        return log_session(self.session, actor=actor, code=participant.code,
                           data=AerliSessionCreate.model_validate(data), on=self.today)


def config_with(**settings: Any) -> Any:
    """The protocol configuration the study's files give with these settings changed
    (``visit_window_days={"M6": 21}``, ``window_days=14``…)."""
    from cohort.dictionary import get_dictionary
    from cohort.rules import ProtocolConfig
    from cohort.schedule import build_schedule
    from cohort.settings import Settings

    return ProtocolConfig(schedule=build_schedule(get_dictionary().events, Settings(**settings)))
