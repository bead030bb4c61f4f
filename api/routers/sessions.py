"""AERLI sessions: always saved (they happened), flagged when off-protocol."""

from __future__ import annotations

from api.access import LOGGED_READ
from api.deps import CurrentUser, DbSession, Today
from api.inputs import api_router
from api.problems import CONFLICTS
from api.schemas import SessionSaved, SessionsPublic, briefs
from cohort.models import AerliSession, AerliSessionPublic
from cohort.services import queries
from cohort.services.sessions import AerliSessionCreate, log_session

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
