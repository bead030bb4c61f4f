"""Read queries for the web layer and other entry points, always scoped by the actor.

Records of a centre the actor may not see read exactly like records that do not exist
(``NotFound``), so a code typed by mistake and a code of another centre give the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, func, or_, select

from cohort.codes import compact, likely_codes
from cohort.errors import NotFound
from cohort.messages import msg
from cohort.models import (
    AerliSession,
    AuditEntry,
    Centre,
    Deviation,
    Participant,
    Questionnaire,
    Screening,
    SessionStaff,
    Staff,
    StatusChange,
)
from cohort.services.code_search import code_contains
from cohort.services.context import Actor, get_participant, require_role
from cohort.services.deid import redact_records
from cohort.services.monitoring import CentreStatus
from cohort.services.questionnaires import get_questionnaire as _get_questionnaire
from cohort.vocab import Role, Timepoint


def list_centres(session: Session, *, actor: Actor) -> list[Centre]:
    statement = select(Centre).order_by(col(Centre.code))
    if actor.centre_ids is not None:
        statement = statement.where(col(Centre.id).in_(actor.centre_ids))
    return list(session.exec(statement).all())


def get_centre(session: Session, *, actor: Actor, code: str) -> Centre:
    """A centre the actor may see; another centre reads as unknown."""
    centre = session.exec(select(Centre).where(Centre.code == code.strip().upper())).first()
    if centre is None or centre.id is None or not actor.can_see(centre.id):
        raise NotFound(msg("centre.not_found", code=code))
    return centre


def list_staff(session: Session, *, actor: Actor, centre_id: int | None = None) -> list[Staff]:
    """Staff of the centres the actor may see (national staff are listed to everyone
    who may see every centre)."""
    statement = select(Staff).order_by(col(Staff.centre_id), col(Staff.id))
    if actor.centre_ids is not None:
        statement = statement.where(col(Staff.centre_id).in_(actor.centre_ids))
    if centre_id is not None:
        statement = statement.where(Staff.centre_id == centre_id)
    return list(session.exec(statement).all())


def list_participants(
    session: Session,
    *,
    actor: Actor,
    centre_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Participant], int]:
    """Visible participants by code, with the total for paging."""
    statement = select(Participant)
    if actor.centre_ids is not None:
        statement = statement.where(col(Participant.centre_id).in_(actor.centre_ids))
    if centre_id is not None:
        statement = statement.where(Participant.centre_id == centre_id)
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    rows = session.exec(
        statement.order_by(col(Participant.code)).offset(offset).limit(limit)
    ).all()
    return list(rows), int(total)


def list_questionnaires(session: Session, *, actor: Actor, code: str) -> list[Questionnaire]:
    """A participant's questionnaires; statisticians get detached copies without the
    free-text answers (``deid``)."""
    participant = get_participant(session, actor, code)
    return redact_records(actor, session.exec(
        select(Questionnaire)
        .where(Questionnaire.participant_id == participant.id)
        .order_by(col(Questionnaire.visit_date))
    ).all())


def get_questionnaire(
    session: Session, *, actor: Actor, code: str, timepoint: Timepoint
) -> Questionnaire:
    """One questionnaire to read (with its ``version``); statisticians get a detached copy
    without the free-text answers. Writers load through ``questionnaires``."""
    found = _get_questionnaire(session, actor=actor, code=code, timepoint=timepoint)
    return redact_records(actor, [found])[0]


@dataclass(frozen=True)
class SessionRow:
    record: AerliSession
    staff_ids: list[int]


def list_sessions(session: Session, *, actor: Actor, code: str) -> list[SessionRow]:
    """A participant's AERLI sessions with the staff present; statisticians get detached
    copies without the free-text note."""
    participant = get_participant(session, actor, code)
    sessions = redact_records(actor, session.exec(
        select(AerliSession)
        .where(AerliSession.participant_id == participant.id)
        .order_by(col(AerliSession.session_date), col(AerliSession.id))
    ).all())
    ids = [s.id for s in sessions]
    staff: dict[int, list[int]] = {}
    for session_id, staff_id in session.exec(
        select(SessionStaff.session_id, SessionStaff.staff_id).where(
            col(SessionStaff.session_id).in_(ids)
        )
    ).all():
        staff.setdefault(session_id, []).append(staff_id)
    return [SessionRow(s, sorted(staff.get(int(s.id or 0), []))) for s in sessions]


def participant_deviations(session: Session, *, actor: Actor, code: str) -> list[Deviation]:
    participant = get_participant(session, actor, code)
    return redact_records(actor, session.exec(
        select(Deviation)
        .where(Deviation.participant_id == participant.id)
        .order_by(col(Deviation.raised_at), col(Deviation.id))
    ).all())


def participant_history(session: Session, *, actor: Actor, code: str) -> list[AuditEntry]:
    """Every audit entry about a participant and their records, oldest first.

    Audit values hold free text and staff ids, so statisticians (de-identified data only)
    are refused.
    """
    if actor.role is Role.STATISTICIAN:
        require_role(actor, "write")  # raises scope.role
    participant = get_participant(session, actor, code)
    pid = participant.id

    def ids(model: type[Questionnaire | AerliSession | StatusChange | Deviation | Screening],
            column: str = "participant_id") -> list[int]:
        rows = session.exec(select(model.id).where(getattr(model, column) == pid)).all()
        return [int(r) for r in rows if r is not None]

    wanted = [
        ("participant", [int(pid or 0)]),
        ("questionnaire", ids(Questionnaire)),
        ("aerli_session", ids(AerliSession)),
        ("status_change", ids(StatusChange)),
        ("deviation", ids(Deviation)),
        ("screening", ids(Screening)),
    ]
    conditions = [
        (col(AuditEntry.table_name) == table) & col(AuditEntry.record_id).in_(record_ids)
        for table, record_ids in wanted
        if record_ids
    ]
    return list(
        session.exec(
            select(AuditEntry).where(or_(*conditions)).order_by(col(AuditEntry.id))
        ).all()
    )


def participant_codes(session: Session, *, actor: Actor, ids: Iterable[int | None]
                      ) -> dict[int, str]:
    """Study codes of the participants with these ids that the actor may see (for lists of
    records that hold only the participant id, such as the deviations queue)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    statement = select(Participant.id, Participant.code).where(col(Participant.id).in_(wanted))
    if actor.centre_ids is not None:
        statement = statement.where(col(Participant.centre_id).in_(actor.centre_ids))
    return {int(i): code for i, code in session.exec(statement).all() if i is not None}


@dataclass
class CodeSearch:
    """Participants whose code matches a typed query, and likely codes when none does."""

    query: str
    ids: dict[int, str]
    suggestions: list[str]

    @property
    def active(self) -> bool:
        return bool(compact(self.query))


def find_codes(session: Session, *, actor: Actor, query: str,
               centre_id: int | None = None) -> CodeSearch:
    """Participants the actor may see whose code contains ``query``, ignoring case, spaces
    and dashes; when none does and the query's check character shows a slip, the visible
    codes it could have meant (``cohort.codes.likely_codes``)."""
    wanted = compact(query)
    if not wanted:
        return CodeSearch(query, {}, [])
    statement = select(Participant.id, Participant.code).where(code_contains(wanted))
    if actor.centre_ids is not None:
        statement = statement.where(col(Participant.centre_id).in_(actor.centre_ids))
    if centre_id is not None:
        statement = statement.where(Participant.centre_id == centre_id)
    found = {int(i): code for i, code in session.exec(statement).all() if i is not None}
    suggestions: list[str] = []
    likely = likely_codes(wanted)
    if not found and likely:
        near = select(Participant.code).where(col(Participant.code).in_(likely))
        if actor.centre_ids is not None:
            near = near.where(col(Participant.centre_id).in_(actor.centre_ids))
        suggestions = sorted(session.exec(near).all())
    return CodeSearch(query, found, suggestions)


def staff_names(session: Session, *, actor: Actor, ids: set[int]) -> dict[int, str]:
    """Display names for staff ids; statisticians get none (de-identified)."""
    if actor.role is Role.STATISTICIAN or not ids:
        return {}
    rows = session.exec(select(Staff.id, Staff.display_name).where(col(Staff.id).in_(ids)))
    return {int(i): name for i, name in rows.all() if i is not None}


def retention_summary(session: Session, *, actor: Actor, as_of: date) -> list[CentreStatus]:
    """``monitoring.centre_status``, remembered until the next write to the study, in the
    store every server process shares (``retention_cache``)."""
    from cohort.services.retention_cache import cached_centre_status

    return cached_centre_status(session, actor=actor, as_of=as_of)


def centre_retention(session: Session, *, actor: Actor, code: str, as_of: date
                     ) -> tuple[Centre, CentreStatus]:
    """One visible centre and its retention figures (another centre reads as unknown)."""
    centre = get_centre(session, actor=actor, code=code)
    for row in retention_summary(session, actor=actor, as_of=as_of):
        if row.centre_id == centre.id:
            return centre, row
    raise NotFound(msg("centre.not_found", code=code))
