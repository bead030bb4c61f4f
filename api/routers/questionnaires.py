"""Questionnaires per timepoint, with optimistic concurrency on updates."""

from __future__ import annotations

from api.access import LOGGED_READ
from api.deps import CurrentUser, DbSession, Today
from api.inputs import api_router
from api.problems import CONFLICTS
from api.schemas import (
    QuestionnaireIn,
    QuestionnaireSaved,
    QuestionnairesPublic,
    QuestionnaireUpdate,
    briefs,
)
from cohort.models import Questionnaire, QuestionnairePublic
from cohort.services import queries
from cohort.services.questionnaires import save_questionnaire, update_questionnaire
from cohort.vocab import Timepoint

router = api_router(prefix="/participants/{code}/questionnaires", tags=["questionnaires"])


def public(q: Questionnaire) -> QuestionnairePublic:
    """De-identification for statisticians is done by the read services."""
    return QuestionnairePublic.model_validate(q, from_attributes=True)


@router.get("", response_model=QuestionnairesPublic,
            dependencies=[LOGGED_READ])
def list_questionnaires(code: str, user: CurrentUser, session: DbSession) -> QuestionnairesPublic:
    rows = queries.list_questionnaires(session, actor=user.actor, code=code)
    return QuestionnairesPublic(data=[public(q) for q in rows], count=len(rows))


@router.get("/{timepoint}", response_model=QuestionnairePublic,
            dependencies=[LOGGED_READ])
def get(code: str, timepoint: Timepoint, user: CurrentUser,
        session: DbSession) -> QuestionnairePublic:
    """Includes ``version``: send it back with an update."""
    return public(queries.get_questionnaire(session, actor=user.actor, code=code,
                                            timepoint=timepoint))


@router.post("/{timepoint}", response_model=QuestionnaireSaved, status_code=201,
             responses=CONFLICTS)
def create(code: str, timepoint: Timepoint, body: QuestionnaireIn, user: CurrentUser,
           session: DbSession, today: Today) -> QuestionnaireSaved:
    """Validated by the data dictionary (422 with field errors); a second questionnaire
    for the same timepoint is refused (409, ``visit.duplicate``); a visit outside its
    window is saved and flagged (``visit.out_of_window`` in ``deviations``)."""
    saved = save_questionnaire(session, actor=user.actor, code=code, timepoint=timepoint,
                               answers=body.answers, on=today)
    return QuestionnaireSaved(questionnaire=public(saved.record),
                              deviations=briefs(saved.deviations))


@router.put("/{timepoint}", response_model=QuestionnaireSaved, responses=CONFLICTS)
def update(code: str, timepoint: Timepoint, body: QuestionnaireUpdate, user: CurrentUser,
           session: DbSession, today: Today) -> QuestionnaireSaved:
    """Replace the answers. A stale ``version`` answers 409 with ``current_version`` and
    overwrites nothing; every changed answer is audited with old and new value."""
    saved = update_questionnaire(session, actor=user.actor, code=code, timepoint=timepoint,
                                 answers=body.answers, expected_version=body.version, on=today)
    return QuestionnaireSaved(questionnaire=public(saved.record),
                              deviations=briefs(saved.deviations))
