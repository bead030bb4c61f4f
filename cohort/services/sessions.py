"""AERLI sessions: always saved (they happened), flagged when off-protocol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlmodel import Session, SQLModel, col, select

from cohort import rules
from cohort.dictionary import get_dictionary
from cohort.errors import CohortError, FieldError, NotFound, ValidationFailed
from cohort.messages import msg
from cohort.models import MAX_INTEGER, AerliSession, Participant, SessionStaff, Staff, utcnow
from cohort.rules import DatedFacts, Finding, SessionFacts
from cohort.services import audit
from cohort.services.context import (
    Actor,
    actor_for,
    finish,
    get_participant,
    protocol_config,
    require_scope,
    today,
)
from cohort.services.deviations import raise_findings
from cohort.services.results import Saved
from cohort.vocab import (
    INJECTION_SITE_CODES,
    MODALITY_CODES,
    SETTING_CODES,
    InjectionSite,
    Modality,
    Role,
    Setting,
    code_for,
)

#: The dictionary's names of the session fields the API names differently.
_API_NAMES = {"session_note": "note"}


class AerliSessionCreate(SQLModel):
    session_date: date
    setting: Setting
    modality: Modality
    product: str | None = None
    injection_site: InjectionSite | None = None
    risks: list[str] = []
    topics: list[str] = []
    note: str | None = None
    staff_ids: list[int] = []


def checked(data: AerliSessionCreate) -> AerliSessionCreate:
    """``data`` as the dictionary's ``aerli_session`` form takes it (choice codes, risks and
    topics, the note's length), or ``ValidationFailed`` naming each refused field.

    Every entry point (API, page, workbook, REDCap import) logs sessions through
    ``log_session``, which stores what this returns, so nothing the dictionary refuses is
    ever written and every stored session reads back."""
    answers: dict[str, Any] = {
        "session_date": data.session_date.isoformat(),
        "setting": code_for(SETTING_CODES, data.setting),  # type: ignore[arg-type]
        "modality": code_for(MODALITY_CODES, data.modality),  # type: ignore[arg-type]
        "product": data.product, "risks": data.risks, "topics": data.topics,
        "session_note": data.note,
        "injection_site": code_for(INJECTION_SITE_CODES, data.injection_site)  # type: ignore[arg-type]
        if data.injection_site is not None else None,
    }
    result = get_dictionary().validate("aerli_session", answers)
    if not result.ok:
        raise ValidationFailed(
            [FieldError(_API_NAMES.get(p.field, p.field), p.message, p.label, p.code)
             for p in result.problems], context="session")
    clean = result.clean
    return data.model_copy(update={
        "product": str(clean["product"]) if "product" in clean else None,
        "risks": _codes(clean.get("risks")), "topics": _codes(clean.get("topics")),
        "note": str(clean["session_note"]) if "session_note" in clean else None,
    })


def _working_at(session: Session, staff: Staff, centre_id: int) -> bool:
    """Whether a staff member may work at a centre: its own staff, and national or
    centre-limited research officers and data managers whose reach includes it.
    Statisticians work on de-identified data only, never at a session."""
    if staff.role is Role.STATISTICIAN:
        return False
    if staff.centre_id == centre_id:
        return True
    return staff.role is not Role.OUTREACH_WORKER and actor_for(session, staff).can_see(
        centre_id)


def session_from_answers(
    answers: Mapping[str, Any], staff_ids: list[int]
) -> AerliSessionCreate:
    """Map the dictionary's ``aerli_session`` form (codes) to a session request."""
    result = get_dictionary().validate("aerli_session", answers)
    if not result.ok:
        raise ValidationFailed(
            [FieldError(p.field, p.message, p.label, p.code) for p in result.problems],
            context="session_answers",
        )
    clean = result.clean
    site = clean.get("injection_site")
    return AerliSessionCreate(
        session_date=date.fromisoformat(str(clean["session_date"])),
        setting=SETTING_CODES[str(clean["setting"])],
        modality=MODALITY_CODES[str(clean["modality"])],
        product=str(clean["product"]) if "product" in clean else None,
        injection_site=INJECTION_SITE_CODES[str(site)] if site is not None else None,
        risks=_codes(clean.get("risks")),
        topics=_codes(clean.get("topics")),
        note=str(clean["session_note"]) if "session_note" in clean else None,
        staff_ids=staff_ids,
    )


def _codes(value: object) -> list[str]:
    """Checkbox answers arrive as a list of choice codes; anything else means none ticked."""
    if isinstance(value, list | tuple | set | frozenset):
        return [str(code) for code in value]
    return []


def assess(session: Session, participant: Participant,
           data: AerliSessionCreate, known: Mapping[int, Staff] | None = None,
           ) -> tuple[list[int], list[Finding]]:
    """The staff ids a session names (each one allowed to work at the participant's
    centre, or ``NotFound``) and the soft rules' findings on it: shared by logging a session
    and correcting one, so a correction is judged exactly as a new session. ``known``:
    staff rows already read by id (the bulk writer reads them all at once)."""
    staff_ids = sorted(set(data.staff_ids))
    storable = [i for i in staff_ids if 1 <= i <= MAX_INTEGER]
    if known is None:
        found: Sequence[Staff] = session.exec(
            select(Staff).where(col(Staff.id).in_(storable))).all()
    else:
        found = [known[i] for i in storable if i in known]
    # Another centre's staff are refused exactly like ids that do not exist: a session
    # counts only the workers who may work at the participant's centre, and the answer
    # does not tell which ids exist elsewhere.
    staff = [s for s in found if _working_at(session, s, participant.centre_id)]
    if len(staff) != len(staff_ids):
        missing = set(staff_ids) - {s.id for s in staff}
        raise NotFound(msg("staff.unknown_workers", workers=', '.join(map(str, sorted(missing)))))
    if not staff_ids:
        raise CohortError(msg("session.workers_needed"))
    trained = sum(
        1
        for s in staff
        if s.aerli_trained_on is not None and s.aerli_trained_on <= data.session_date
    )
    findings = rules.evaluate(
        "session",
        SessionFacts(
            group=participant.group,
            modality=data.modality,
            trained_staff=trained,
            injection_site=data.injection_site,
            session_date=data.session_date,
            inclusion_date=participant.inclusion_date,
            config=protocol_config(),
        ),
    )
    return staff_ids, findings


def check_session(
    session: Session,
    actor: Actor,
    participant: Participant,
    data: AerliSessionCreate,
    on: date | None = None,
    known: Mapping[int, Staff] | None = None,
) -> tuple[AerliSession, list[int], list[Finding]]:
    """Every check of a new session (scope, dates, dictionary, its workers, soft rules):
    the record to add, its staff ids and the findings. Shared by ``log_session`` and the
    bulk writer, so both judge a session alike."""
    values, staff_ids, findings = session_values(session, actor, participant, data, on,
                                                 known)
    return AerliSession(**values), staff_ids, findings


def session_values(
    session: Session,
    actor: Actor,
    participant: Participant,
    data: AerliSessionCreate,
    on: date | None = None,
    known: Mapping[int, Staff] | None = None,
) -> tuple[dict[str, Any], list[int], list[Finding]]:
    """``check_session`` with the record's fields rather than the record, for a writer
    that inserts rows (``bulk_writes``)."""
    require_scope(actor, participant.centre_id, session=session)
    assert participant.id is not None  # noqa: S101
    rules.enforce(
        "dated",
        DatedFacts(data.session_date, participant.inclusion_date, on or today(),
                   what="session"),
    )
    data = checked(data)
    staff_ids, findings = assess(session, participant, data, known)
    values = dict(
        participant_id=participant.id,
        recorded_by=actor.staff_id,
        counts_for_protocol=not rules.disqualifies_session(findings),
        created_at=utcnow(),  # given: a default factory costs an inspection per call
        **data.model_dump(exclude={"staff_ids"}),
    )
    return values, staff_ids, findings


def log_session(
    session: Session,
    *,
    actor: Actor,
    code: str,
    data: AerliSessionCreate,
    on: date | None = None,
) -> Saved[AerliSession]:
    """Record a session; soft rules flag it and may mark it as not counting."""
    participant = get_participant(session, actor, code)
    record, staff_ids, findings = check_session(session, actor, participant, data, on)
    session.add(record)
    session.flush()
    assert record.id is not None  # noqa: S101
    session.add_all([SessionStaff(session_id=record.id, staff_id=s) for s in staff_ids])
    audit.record_create(session, actor.staff_id, record)
    audit.record_changes(session, actor.staff_id, "aerli_session", record.id,
                         {"staff_ids": (None, staff_ids)})
    deviations = raise_findings(
        session, findings=findings, entity="aerli_session", record_id=record.id,
        participant=participant,
    )
    finish(session)
    return Saved(record, deviations)


def session_staff_ids(session: Session, session_id: int) -> list[int]:
    rows = session.exec(
        select(SessionStaff.staff_id).where(SessionStaff.session_id == session_id)
    ).all()
    return sorted(rows)
