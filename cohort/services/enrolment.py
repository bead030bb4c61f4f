"""Screening and enrolment.

Every eligibility check is logged anonymously in the screening table (the flow
diagram's first box). ``enrol`` either writes the participant, its first status, its
screening line and the audit entries together, or refuses with the rule that failed and
writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, func, select

from cohort import rules
from cohort.codes import MAX_SEQUENCE, make_code
from cohort.dictionary import get_dictionary
from cohort.errors import CohortError, FieldError, NotEligible, NotFound, ValidationFailed
from cohort.messages import msg
from cohort.models import Centre, Participant, Screening, StatusChange
from cohort.rules import EnrolmentFacts
from cohort.services import audit
from cohort.services.context import Actor, finish, in_batch, protocol_config, require_scope, today
from cohort.services.results import Saved
from cohort.vocab import (
    GENDER_CODES,
    GROUP_CODES,
    REACHED_VIA_CODES,
    Gender,
    Group,
    Modality,
    ScreeningOutcome,
    Status,
    code_for,
)


class EnrolmentCreate(SQLModel):
    """What an outreach worker records at inclusion (no name, contact or birth date)."""

    centre_code: str | None = None
    age: int
    injected_past_month: bool
    wish_neck_groin: bool
    consent: bool
    consent_date: date | None = None
    inclusion_date: date
    year_of_birth: int | None = None
    gender: Gender | None = None
    reached_via: Modality = Modality.IN_PERSON
    group: Group


class ScreeningCreate(SQLModel):
    screened_on: date
    centre_code: str | None = None
    outcome: ScreeningOutcome
    reason: str | None = None
    reached_via: Modality = Modality.IN_PERSON


def _centre(session: Session, actor: Actor, centre_code: str | None) -> Centre:
    if centre_code is None:
        if actor.centre_id is None:
            raise CohortError(msg("enrol.centre_needed"))
        centre = session.get(Centre, actor.centre_id)
    else:
        centre = session.exec(
            select(Centre).where(Centre.code == centre_code.strip().upper())
        ).first()
    if centre is None or centre.id is None:
        raise NotFound(msg("centre.not_found", code=centre_code))
    return centre


def enrolment_from_answers(answers: Mapping[str, Any]) -> EnrolmentCreate:
    """Map the dictionary's ``enrolment`` form (codes) to an enrolment request.

    The dictionary checks types, ranges and branching first, so a web form or workbook
    row gets the same field-level messages as a questionnaire.
    """
    result = get_dictionary().validate("enrolment", answers)
    if not result.ok:
        raise ValidationFailed(
            [FieldError(p.field, p.message, p.label, p.code) for p in result.problems],
            context="enrolment_answers",
        )
    clean = result.clean

    def yes(name: str) -> bool:
        return str(clean.get(name, "0")) == "1"

    gender = clean.get("gender")
    consent_date = clean.get("consent_date")
    return EnrolmentCreate(
        age=int(str(clean["age"])),
        injected_past_month=yes("injected_past_month"),
        wish_neck_groin=yes("wish_neck_groin"),
        consent=yes("consent"),
        consent_date=date.fromisoformat(str(consent_date)) if consent_date else None,
        inclusion_date=date.fromisoformat(str(clean["inclusion_date"])),
        year_of_birth=int(str(clean["year_of_birth"])) if "year_of_birth" in clean else None,
        gender=GENDER_CODES[str(gender)] if gender is not None else None,
        reached_via=REACHED_VIA_CODES[str(clean.get("reached_via", "1"))],
        group=GROUP_CODES[str(clean["study_group"])],
    )


def _yes(flag: bool) -> str:
    return "1" if flag else "0"


def _form_values(*, age: int, injected_past_month: bool, wish_neck_groin: bool,
                 consent: bool, consent_date: date | None, reached_via: Modality, group: Group,
                 inclusion_date: date, year_of_birth: int | None, gender: Gender | None
                 ) -> dict[str, Any]:
    """Enrolment facts as the dictionary's ``enrolment`` form codes them."""
    values: dict[str, Any] = {
        "age": age,
        "injected_past_month": _yes(injected_past_month),
        "wish_neck_groin": _yes(wish_neck_groin),
        "consent": _yes(consent),
        "consent_date": consent_date.isoformat() if consent_date else None,
        "reached_via": code_for(dict(REACHED_VIA_CODES), reached_via),
        "study_group": code_for(dict(GROUP_CODES), group),
        "inclusion_date": inclusion_date.isoformat(),
    }
    if year_of_birth is not None:
        values["year_of_birth"] = year_of_birth
    if gender is not None:
        values["gender"] = code_for(dict(GENDER_CODES), gender)
    return values


def enrolment_answers(person: Participant) -> dict[str, Any]:
    """The inverse of ``enrolment_from_answers``: a participant's enrolment form as
    dictionary codes (everyone enrolled consented, on ``consent_date``)."""
    return _form_values(age=person.age_at_inclusion,
                        injected_past_month=person.injected_past_month,
                        wish_neck_groin=person.wish_neck_groin, consent=True,
                        consent_date=person.consent_date, reached_via=person.reached_via,
                        group=person.group, inclusion_date=person.inclusion_date,
                        year_of_birth=person.year_of_birth, gender=person.gender)


#: The dictionary's names of the enrolment fields the API names differently.
_API_NAMES = {"study_group": "group"}


def check_enrolment(data: EnrolmentCreate) -> None:
    """Refuse (``ValidationFailed``, naming each field) an enrolment the dictionary's
    ``enrolment`` form does not take: age 0-120, year of birth 1920-2010, … Every entry
    point enrols through ``enrol``, so the REST API is held to the same ranges as a page
    or a workbook. Eligibility and consent are the protocol rules' (checked first)."""
    answers = _form_values(age=data.age, injected_past_month=data.injected_past_month,
                           wish_neck_groin=data.wish_neck_groin, consent=data.consent,
                           consent_date=data.consent_date, reached_via=data.reached_via,
                           group=data.group, inclusion_date=data.inclusion_date,
                           year_of_birth=data.year_of_birth, gender=data.gender)
    result = get_dictionary().validate("enrolment", answers)
    if not result.ok:
        raise ValidationFailed(
            [FieldError(_API_NAMES.get(p.field, p.field), p.message, p.label, p.code)
             for p in result.problems], context="enrolment")


def check_eligible(data: EnrolmentCreate, on: date | None = None) -> None:
    """Every check of an enrolment that needs no database: the eligibility and consent
    rules (``NotEligible`` naming the rule), then the dictionary's ranges. Shared by
    ``enrol`` and the bulk writer (``bulk_writes.enrol_many``)."""
    rules.enforce(
        "enrolment",
        EnrolmentFacts(
            age=data.age,
            injected_past_month=data.injected_past_month,
            wish_neck_groin=data.wish_neck_groin,
            consent=data.consent,
            consent_date=data.consent_date,
            inclusion_date=data.inclusion_date,
            today=on or today(),
            config=protocol_config(),
        ),
    )
    assert data.consent_date is not None  # noqa: S101 (guaranteed by enrol.no_consent)
    check_enrolment(data)


def _next_seq(session: Session, centre: Centre) -> int:
    """The centre's next sequence number; a clear refusal once its codes are used up
    (``MAX_SEQUENCE``, 99,999 people per centre), never a ``ValueError`` from the code."""
    current = session.exec(
        select(func.max(Participant.seq)).where(Participant.centre_id == centre.id)
    ).one()
    return within_codes(centre, int(current or 0) + 1)


def within_codes(centre: Centre, seq: int) -> int:
    """``seq`` itself, or a clear refusal once the centre's codes are used up
    (``MAX_SEQUENCE``); shared with the bulk writer, which counts on from the first."""
    if seq > MAX_SEQUENCE:
        raise CohortError(
            msg("enrol.codes_used_up", code=centre.code, max=MAX_SEQUENCE))
    return seq


def new_participant(data: EnrolmentCreate, centre: Centre, seq: int, actor: Actor,
                    **stamps: Any) -> Participant:
    """The participant an eligible enrolment makes (``stamps``: timestamps the bulk
    writer gives, once for a whole batch)."""
    return Participant(**participant_values(data, centre, seq, actor, **stamps))


def participant_values(data: EnrolmentCreate, centre: Centre, seq: int, actor: Actor,
                       **stamps: Any) -> dict[str, Any]:
    """``new_participant``'s fields, for a writer that inserts rows (``bulk_writes``)."""
    assert centre.id is not None and data.consent_date is not None  # noqa: S101
    return dict(
        code=make_code(centre.code, seq), centre_id=centre.id, seq=seq,
        year_of_birth=data.year_of_birth, gender=data.gender,
        inclusion_date=data.inclusion_date, consent_date=data.consent_date,
        age_at_inclusion=data.age, injected_past_month=data.injected_past_month,
        wish_neck_groin=data.wish_neck_groin, reached_via=data.reached_via,
        group=data.group, enrolled_by=actor.staff_id, **stamps)


def enrolled_records(person: Participant, actor: Actor, now: datetime | None = None
                     ) -> tuple[StatusChange, Screening]:
    """What every enrolment writes beside the participant: the first status (active) and
    the screening that led to it. ``now``: one timestamp for a whole batch."""
    status, screening = enrolled_values(person, actor, now)
    return StatusChange(**status), Screening(**screening)


def enrolled_values(person: Participant, actor: Actor, now: datetime | None = None
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """``enrolled_records``' fields, for a writer that inserts rows (``bulk_writes``)."""
    assert person.id is not None  # noqa: S101
    recorded: dict[str, Any] = {} if now is None else {"recorded_at": now}
    created: dict[str, Any] = {} if now is None else {"created_at": now}
    status = dict(
        participant_id=person.id, status=Status.ACTIVE,
        effective_date=person.inclusion_date, reason="Enrolled",
        recorded_by=actor.staff_id, **recorded)
    screening = dict(
        screened_on=person.inclusion_date, centre_id=person.centre_id,
        staff_id=actor.staff_id, outcome=ScreeningOutcome.ENROLLED,
        reached_via=person.reached_via, participant_id=person.id, **created)
    return status, screening


def enrol(
    session: Session, *, actor: Actor, data: EnrolmentCreate, on: date | None = None
) -> Saved[Participant]:
    """Enrol one person; refuse with the named rule when not eligible (nothing written)."""
    centre = _centre(session, actor, data.centre_code)
    assert centre.id is not None  # noqa: S101
    require_scope(actor, centre.id, session=session)
    check_eligible(data, on)
    assert data.consent_date is not None  # noqa: S101 (guaranteed by enrol.no_consent)
    for attempt in range(5):
        seq = _next_seq(session, centre)
        participant = new_participant(data, centre, seq, actor)
        nested = session.begin_nested()
        session.add(participant)
        try:
            session.flush()
        except IntegrityError:
            nested.rollback()  # another worker took the number: try the next one
            if attempt == 4:
                raise
            continue
        nested.commit()
        break
    status, screening = enrolled_records(participant, actor)
    session.add_all([status, screening])
    session.flush()
    for record in (participant, status, screening):
        audit.record_create(session, actor.staff_id, record)
    finish(session)
    return Saved(participant)


def log_screening(session: Session, *, actor: Actor, data: ScreeningCreate) -> Screening:
    """Record an eligibility check that did not lead to enrolment (kept anonymous)."""
    centre = _centre(session, actor, data.centre_code)
    assert centre.id is not None  # noqa: S101
    require_scope(actor, centre.id, session=session)
    if data.outcome is ScreeningOutcome.ENROLLED:
        raise CohortError(msg("screening.enrolled_logged_by_enrolment"))
    screening = Screening(
        screened_on=data.screened_on,
        centre_id=centre.id,
        staff_id=actor.staff_id,
        outcome=data.outcome,
        reason=data.reason,
        reached_via=data.reached_via,
    )
    session.add(screening)
    session.flush()
    audit.record_create(session, actor.staff_id, screening)
    finish(session)
    return screening


def enrol_screened(
    session: Session, *, actor: Actor, data: EnrolmentCreate, on: date | None = None
) -> Saved[Participant]:
    """``enrol``, and when eligibility refuses it, log the refused check anonymously.

    Every eligibility check belongs in the screening log (the flow diagram's first box).
    The refusal rolls the enrolment back first, so the participant tables stay untouched;
    the screening line (outcome not eligible, reason = the rule id) is then written in its
    own transaction, and the refusal is raised again for the caller to show.
    """
    try:
        return enrol(session, actor=actor, data=data, on=on)
    except NotEligible as refusal:
        if in_batch(session):
            raise
        session.rollback()
        log_screening(session, actor=actor, data=ScreeningCreate(
            screened_on=data.inclusion_date, centre_code=data.centre_code,
            outcome=ScreeningOutcome.NOT_ELIGIBLE, reason=refusal.rule_id,
            reached_via=data.reached_via))
        raise
