"""Participants: enrolment, group and status, history."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from api.access import LOGGED_READ, log_download
from api.deps import CurrentUser, DbSession, Today
from api.inputs import api_router
from api.problems import CONFLICTS
from api.schemas import (
    AuditOut,
    DeviationsPublic,
    GroupIn,
    ParticipantSaved,
    StatusChangePublic,
    StatusIn,
    briefs,
)
from cohort.models import DeviationPublic, Participant, ParticipantPublic, ParticipantsPublic
from cohort.services import participants, queries
from cohort.services.enrolment import EnrolmentCreate, enrol_screened
from cohort.vocab import ExportKind

router = api_router(prefix="/participants", tags=["participants"])


@router.get("", response_model=ParticipantsPublic)
def list_participants(
    request: Request, user: CurrentUser, session: DbSession,
    centre: Annotated[str | None, Query(description="Centre code, e.g. C04.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ParticipantsPublic:
    """Participants of the centres you may see, by code. Each page is kept in the export
    log (send ``X-Purpose`` to say why)."""
    found = queries.get_centre(session, actor=user.actor, code=centre) if centre else None
    rows, total = queries.list_participants(session, actor=user.actor,
                                            centre_id=found.id if found else None,
                                            limit=limit, offset=offset)
    page = ParticipantsPublic(
        data=[ParticipantPublic.model_validate(p, from_attributes=True) for p in rows],
        count=total,
    )
    log_download(request, user, session, kind=ExportKind.API_PAGE, fmt="json", rows=len(rows),
                 fields=list(ParticipantPublic.model_fields),
                 centre_codes=[found.code] if found else None)
    return page


@router.post("", response_model=ParticipantSaved, status_code=201, responses=CONFLICTS)
def enrol_participant(body: EnrolmentCreate, user: CurrentUser, session: DbSession,
                      today: Today) -> ParticipantSaved:
    """Enrol a person: eligibility and consent are checked, the code generated, the
    group set. Refused enrolments answer 422 with the rule id and write nothing."""
    saved = enrol_screened(session, actor=user.actor, data=body, on=today)
    return ParticipantSaved(
        participant=ParticipantPublic.model_validate(saved.record, from_attributes=True),
        deviations=briefs(saved.deviations),
    )


@router.get("/{code}", response_model=ParticipantPublic)
def get(participant: Annotated[Participant, LOGGED_READ]) -> Participant:
    """Another centre's participant answers 404, like an unknown code."""
    return participant


@router.put("/{code}/group", response_model=ParticipantPublic, responses=CONFLICTS)
def change_group(code: str, body: GroupIn, user: CurrentUser, session: DbSession) -> Participant:
    """Only before M0, and never comparison → intervention (409 with the rule id)."""
    return participants.change_group(session, actor=user.actor, code=code, group=body.group)


@router.get("/{code}/status", response_model=list[StatusChangePublic],
            dependencies=[LOGGED_READ])
def status_history(code: str, user: CurrentUser, session: DbSession) -> list[StatusChangePublic]:
    return [StatusChangePublic.model_validate(s, from_attributes=True)
            for s in participants.status_history(session, actor=user.actor, code=code)]


@router.post("/{code}/status", response_model=StatusChangePublic, status_code=201,
             responses=CONFLICTS)
def change_status(code: str, body: StatusIn, user: CurrentUser, session: DbSession,
                  today: Today) -> StatusChangePublic:
    """Withdrawn, deceased, lost to follow-up, returned: history is appended, never erased."""
    change = participants.change_status(
        session, actor=user.actor, code=code, status=body.status,
        effective_date=body.effective_date, reason=body.reason, on=today,
    )
    return StatusChangePublic.model_validate(change, from_attributes=True)


@router.get("/{code}/deviations", response_model=DeviationsPublic,
            dependencies=[LOGGED_READ])
def deviations(code: str, user: CurrentUser, session: DbSession) -> DeviationsPublic:
    rows = queries.participant_deviations(session, actor=user.actor, code=code)
    return DeviationsPublic(
        data=[DeviationPublic.model_validate(d, from_attributes=True) for d in rows],
        count=len(rows),
    )


@router.get("/{code}/history", response_model=list[AuditOut],
            dependencies=[LOGGED_READ])
def history(code: str, user: CurrentUser, session: DbSession) -> list[AuditOut]:
    """The audit trail of the participant and their records: who, when, old → new."""
    entries = queries.participant_history(session, actor=user.actor, code=code)
    names = queries.staff_names(session, actor=user.actor,
                                ids={e.actor_id for e in entries if e.actor_id is not None})
    return [
        AuditOut.model_validate(e, from_attributes=True,
                                update={"actor_name": names.get(e.actor_id or -1)
                                        or e.actor_system})
        for e in entries
    ]
