"""AERLI sessions: always saved (they happened), flagged when off-protocol."""

from __future__ import annotations

from sqlmodel import Field

from api.access import LOGGED_READ
from api.deps import CurrentUser, DbSession, Today
from api.inputs import api_router
from api.problems import CONFLICTS
from api.schemas import SessionCorrected, SessionSaved, SessionsPublic, briefs
from cohort.models import AerliSession, AerliSessionPublic
from cohort.services import queries
from cohort.services.session_corrections import MAX_REASON, correct_session
from cohort.services.sessions import AerliSessionCreate, log_session, session_staff_ids

router = api_router(prefix="/participants/{code}/sessions", tags=["AERLI sessions"])


def public(record: AerliSession, staff_ids: list[int]) -> AerliSessionPublic:
    """De-identification for statisticians is done by the read services."""
    return AerliSessionPublic.model_validate(record, from_attributes=True,
                                             update={"staff_ids": staff_ids})


@router.get("", response_model=SessionsPublic,
            dependencies=[LOGGED_READ])
def list_sessions(code: str, user: CurrentUser, session: DbSession) -> SessionsPublic:
    rows = queries.list_sessions(session, actor=user.actor, code=code)
    return SessionsPublic(data=[public(r.record, r.staff_ids) for r in rows],
                          count=len(rows))


@router.post("", response_model=SessionSaved, status_code=201, responses=CONFLICTS)
def create(code: str, body: AerliSessionCreate, user: CurrentUser, session: DbSession,
           today: Today) -> SessionSaved:
    """Log a session. Soft rules (comparison group, fewer than two trained workers, not in
    person, high-risk site, after follow-up) save it and list the deviations raised."""
    saved = log_session(session, actor=user.actor, code=code, data=body, on=today)
    return SessionSaved(session=public(saved.record, sorted(set(body.staff_ids))),
                        deviations=briefs(saved.deviations))


class SessionCorrection(AerliSessionCreate):
    """The whole session as it should read, and why it is corrected."""

    reason: str = Field(min_length=1, max_length=MAX_REASON)


@router.put("/{session_id}", response_model=SessionCorrected, responses=CONFLICTS)
def correct(code: str, session_id: int, body: SessionCorrection, user: CurrentUser,
            session: DbSession, today: Today) -> SessionCorrected:
    """Correct a logged session (a forgotten second worker, the wrong modality). Every
    changed field is audited with the reason; the soft rules are evaluated again: the
    deviations that no longer apply are resolved (``cleared``, the comment saying why) and
    the ones that now apply are raised (``raised``)."""
    done = correct_session(session, actor=user.actor, session_id=session_id, code=code,
                           data=AerliSessionCreate.model_validate(
                               body.model_dump(exclude={"reason"})),
                           reason=body.reason, on=today)
    assert done.record.id is not None  # noqa: S101
    return SessionCorrected(
        session=public(done.record, session_staff_ids(session, done.record.id)),
        cleared=briefs(done.cleared), raised=briefs(done.raised))
