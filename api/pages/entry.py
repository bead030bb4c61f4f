"""Data entry at a visit: questionnaires generated from the dictionary, AERLI sessions."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from api.deps import CurrentUser, DbSession, SignedIn, Today
from api.formview import answers_from_form, field_views
from api.pages.common import flash_saved, page_router, redirect, render
from api.pages.participants import field_errors
from cohort.dictionary import get_dictionary
from cohort.errors import CohortError, NotFound, StaleVersion
from cohort.models import Participant
from cohort.services import queries
from cohort.services.context import get_participant, require_scope
from cohort.services.questionnaires import (
    questionnaire_forms,
    save_questionnaire,
    update_questionnaire,
)
from cohort.services.sessions import log_session, session_from_answers
from cohort.vocab import Timepoint

router = page_router()
#: A version or staff id typed in a form: ASCII digits an Integer column holds.
_WHOLE = re.compile(r"[0-9]{1,9}")


def _fields(timepoint: Timepoint) -> list[Any]:
    dictionary = get_dictionary()
    return [f for name in questionnaire_forms(timepoint) for f in dictionary.forms[name].fields]


def _timepoint(value: str) -> Timepoint:
    try:
        return Timepoint(value.upper())
    except ValueError:
        raise NotFound(f"There is no timepoint '{value}'; use M0, M6 or M12.") from None


def _writable(session: Session, user: SignedIn, code: str) -> Participant:
    participant = get_participant(session, user.actor, code)
    require_scope(user.actor, participant.centre_id)
    return participant


@router.get("/participants/{code}/questionnaires/{tp}", response_class=HTMLResponse)
def questionnaire_form(code: str, tp: str, request: Request, user: CurrentUser,
                       session: DbSession, today: Today) -> HTMLResponse:
    timepoint = _timepoint(tp)
    participant = _writable(session, user, code)
    existing = {q.timepoint: q for q in
                queries.list_questionnaires(session, actor=user.actor, code=code)}
    record = existing.get(timepoint)
    values: dict[str, Any] = dict(record.answers) if record else {"visit_date": today.isoformat()}
    return _questionnaire_page(request, user, participant, timepoint, values, {},
                               version=record.version if record else None)


def _questionnaire_page(request: Request, user: SignedIn, participant: Participant,
                        timepoint: Timepoint, values: dict[str, Any], errors: dict[str, str],
                        *, version: int | None, error: str = "", status: int = 200,
                        stale: bool = False) -> HTMLResponse:
    return render(request, "questionnaire.html",
                  {"p": participant, "timepoint": timepoint.value,
                   "fields": field_views(_fields(timepoint), values, errors),
                   "version": version, "error": error, "stale": stale},
                  user=user, status=status)


@router.post("/participants/{code}/questionnaires/{tp}", response_model=None)
async def questionnaire_submit(code: str, tp: str, request: Request, user: CurrentUser,
                               session: DbSession,
                               today: Today) -> HTMLResponse | RedirectResponse:
    timepoint = _timepoint(tp)
    participant = _writable(session, user, code)
    form = await request.form()
    answers = answers_from_form(_fields(timepoint), form)
    raw_version = str(form.get("version") or "")
    version = int(raw_version) if _WHOLE.fullmatch(raw_version) else None
    try:
        if version is None:
            saved = save_questionnaire(session, actor=user.actor, code=participant.code,
                                       timepoint=timepoint, answers=answers, on=today)
        else:
            saved = update_questionnaire(session, actor=user.actor, code=participant.code,
                                         timepoint=timepoint, answers=answers,
                                         expected_version=version, on=today)
    except StaleVersion as error:
        session.rollback()
        return _questionnaire_page(request, user, participant, timepoint, answers, {},
                                   version=version, error=error.message, status=409,
                                   stale=True)
    except CohortError as error:
        session.rollback()
        errors, message = field_errors(error, {"date": "visit_date"})
        return _questionnaire_page(request, user, participant, timepoint, answers, errors,
                                   version=version, error=message, status=422)
    flash_saved(request, f"{timepoint.value} questionnaire of {participant.code}",
                saved.deviations)
    return redirect(f"/participants/{participant.code}")


def _session_fields() -> list[Any]:
    return list(get_dictionary().forms["aerli_session"].fields)


def _session_page(request: Request, user: SignedIn, session: Session, participant: Participant,
                  values: dict[str, Any], errors: dict[str, str], chosen: list[int],
                  error: str = "", status: int = 200) -> HTMLResponse:
    staff = [s for s in queries.list_staff(session, actor=user.actor,
                                           centre_id=participant.centre_id) if s.active]
    return render(request, "session.html",
                  {"p": participant, "fields": field_views(_session_fields(), values, errors),
                   "staff": staff, "chosen": chosen, "error": error},
                  user=user, status=status)


@router.get("/participants/{code}/sessions/new", response_class=HTMLResponse)
def session_form(code: str, request: Request, user: CurrentUser, session: DbSession,
                 today: Today) -> HTMLResponse:
    participant = _writable(session, user, code)
    chosen = [user.actor.staff_id]
    return _session_page(request, user, session, participant,
                         {"session_date": today.isoformat()}, {}, chosen)


@router.post("/participants/{code}/sessions/new", response_model=None)
async def session_submit(code: str, request: Request, user: CurrentUser, session: DbSession,
                         today: Today) -> HTMLResponse | RedirectResponse:
    participant = _writable(session, user, code)
    form = await request.form()
    answers = answers_from_form(_session_fields(), form)
    chosen = [int(str(v)) for v in form.getlist("staff_ids") if _WHOLE.fullmatch(str(v))]
    try:
        data = session_from_answers(answers, chosen)
        saved = log_session(session, actor=user.actor, code=participant.code, data=data,
                            on=today)
    except CohortError as error:
        session.rollback()
        errors, message = field_errors(error, {"date": "session_date"})
        return _session_page(request, user, session, participant, answers, errors, chosen,
                             message, 422)
    flash_saved(request, f"AERLI session with {participant.code}", saved.deviations)
    return redirect(f"/participants/{participant.code}")
