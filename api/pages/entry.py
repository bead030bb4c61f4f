"""Data entry at a visit: questionnaires generated from the dictionary, AERLI sessions."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from api.access import read_participant
from api.deps import CurrentUser, DbSession, SignedIn, Today
from api.formview import FormPage, answers_from_form, form_page, locked_values
from api.pages.common import flash_saved, page_dictionary, page_router, redirect, render
from api.pages.participants import field_errors
from cohort.errors import CohortError, NotFound, StaleVersion, StudyLocked
from cohort.messages import msg
from cohort.models import Participant
from cohort.schedule import get_schedule
from cohort.services import queries
from cohort.services.context import get_participant, protocol_config, require_scope
from cohort.services.questionnaires import (
    questionnaire_forms,
    record_answers,
    save_questionnaire,
    update_questionnaire,
)
from cohort.services.sessions import log_session, session_from_answers
from cohort.vocab import Timepoint
from forms.events import ONGOING_EVENT
from forms.i18n import gettext as _

router = page_router()
#: A version or staff id typed in a form: ASCII digits an Integer column holds.
WHOLE = re.compile(r"[0-9]{1,9}")
#: The questionnaire field the date rules (date.in_future, date.before_inclusion) check.
VISIT_DATE = "visit_date"


def _fields(timepoint: Timepoint) -> list[Any]:
    """The visit's fields, worded in the reader's language (names and logic unchanged)."""
    dictionary = page_dictionary()
    return [f for name in questionnaire_forms(timepoint) for f in dictionary.forms[name].fields]


def _timepoint(value: str) -> Timepoint:
    schedule = get_schedule()
    try:
        return Timepoint(schedule.parse(value))
    except ValueError:
        raise NotFound(msg("visit.unknown", value=value, visits=schedule.describe())) from None


def writable(session: Session, user: SignedIn, code: str) -> Participant:
    participant = get_participant(session, user.actor, code)
    require_scope(user.actor, participant.centre_id, session=session)
    return participant


def _context(user: SignedIn, participant: Participant | None) -> dict[str, str]:
    """What smart variables such as [record-name] and [user-name] are on a page."""
    out = {"user-name": user.account.username, "user-role-name": user.role.value}
    if participant is not None:
        out["record-name"] = participant.code
    return out


def _page(session: Session, user: SignedIn, participant: Participant, timepoint: Timepoint,
          values: dict[str, Any], errors: dict[str, str], *, today: Any) -> FormPage:
    """The questionnaire's fields, with the participant's other visits for the logic and
    piping that read them ([m0_arm_1][weight], [previous-event-name][weight])."""
    existing = {q.timepoint: q for q in
                queries.list_questionnaires(session, actor=user.actor, code=participant.code)}
    record = existing.get(timepoint)
    schedule = get_schedule()
    others = {schedule.event(tp): dict(q.answers) for tp, q in existing.items()
              if tp != timepoint}
    # The visit's date first: it is what the hard rules check, and the first thing known.
    fields = sorted(_fields(timepoint), key=lambda f: f.name != VISIT_DATE)
    return form_page(fields, values, errors, dictionary=page_dictionary(),
                     new=record is None, event=schedule.event(timepoint), others=others,
                     context=_context(user, participant), today=today,
                     record=record_answers(participant, timepoint),
                     until_today=(VISIT_DATE,))


@router.get("/participants/{code}/questionnaires/{tp}", response_class=HTMLResponse)
def questionnaire_form(code: str, tp: str, request: Request, user: CurrentUser,
                       session: DbSession, today: Today) -> HTMLResponse:
    """The entry form; once the study or the centre is locked, the answers read-only.
    Logged as a read once the person is known to be allowed to see it."""
    timepoint = _timepoint(tp)
    try:
        writable(session, user, code)
        locked = None
    except StudyLocked as refused:
        locked = refused.message
    participant = read_participant(request, code, user, session)
    existing = {q.timepoint: q for q in
                queries.list_questionnaires(session, actor=user.actor, code=code)}
    record = existing.get(timepoint)
    values: dict[str, Any] = dict(record.answers) if record else {"visit_date": today.isoformat()}
    return _questionnaire_page(request, user, session, participant, timepoint, values, {},
                               version=record.version if record else None, today=today,
                               locked=locked)


def _questionnaire_page(request: Request, user: SignedIn, session: Session,
                        participant: Participant, timepoint: Timepoint,
                        values: dict[str, Any], errors: dict[str, str], *,
                        version: int | None, today: Any, error: str = "", status: int = 200,
                        stale: bool = False, locked: str | None = None) -> HTMLResponse:
    page = _page(session, user, participant, timepoint, values, errors, today=today)
    return render(request, "questionnaire.html",
                  {"p": participant, "timepoint": timepoint.value, "fields": page.fields,
                   "form_env": page.env, "version": version, "error": error,
                   "stale": stale, "locked": locked},
                  user=user, status=status)


@router.post("/participants/{code}/questionnaires/{tp}", response_model=None)
async def questionnaire_submit(code: str, tp: str, request: Request, user: CurrentUser,
                               session: DbSession,
                               today: Today) -> HTMLResponse | RedirectResponse:
    timepoint = _timepoint(tp)
    participant = writable(session, user, code)
    form = await request.form()
    existing = {q.timepoint: q for q in
                queries.list_questionnaires(session, actor=user.actor, code=code)}
    stored = dict(existing[timepoint].answers) if timepoint in existing else {}
    shown = _page(session, user, participant, timepoint, stored, {}, today=today)
    answers = answers_from_form(_fields(timepoint), form, locked_values(shown))
    raw_version = str(form.get("version") or "")
    version = int(raw_version) if WHOLE.fullmatch(raw_version) else None
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
        return _questionnaire_page(request, user, session, participant, timepoint, answers,
                                   {}, version=version, today=today, error=error.message,
                                   status=409, stale=True)
    except CohortError as error:
        session.rollback()
        errors, message = field_errors(error, {"date": VISIT_DATE})
        return _questionnaire_page(request, user, session, participant, timepoint, answers,
                                   errors, version=version, today=today, error=message,
                                   status=422)
    flash_saved(request, _("Saved: {timepoint} questionnaire of {code}.").format(
        timepoint=timepoint.value, code=participant.code), saved.deviations)
    return redirect(f"/participants/{participant.code}")


def session_fields() -> list[Any]:
    return list(page_dictionary().forms["aerli_session"].fields)


def session_form_page(user: SignedIn, participant: Participant, values: dict[str, Any],
                  errors: dict[str, str], today: Any) -> FormPage:
    return form_page(session_fields(), values, errors, dictionary=page_dictionary(),
                     new=True, event=ONGOING_EVENT, context=_context(user, participant),
                     today=today, until_today=("session_date",))


def session_page(request: Request, user: SignedIn, session: Session, participant: Participant,
                 values: dict[str, Any], errors: dict[str, str], chosen: list[int],
                 error: str = "", status: int = 200, today: Any = None,
                 correcting: dict[str, Any] | None = None) -> HTMLResponse:
    """The session form: a new session, or (``correcting``: the session's id and the
    reason typed so far) the correction of a logged one."""
    staff = [s for s in queries.list_staff(session, actor=user.actor,
                                           centre_id=participant.centre_id) if s.active]
    # The signed-in worker first, then the AERLI-trained, then by name: the two ticks the
    # protocol asks for are usually at the top.
    staff.sort(key=lambda s: (s.id != user.actor.staff_id, s.aerli_trained_on is None,
                              s.display_name))
    page = session_form_page(user, participant, values, errors, today)
    return render(request, "session.html",
                  {"p": participant, "fields": page.fields, "form_env": page.env,
                   "staff": staff, "chosen": chosen, "error": error,
                   "me": user.actor.staff_id, "correcting": correcting,
                   "needed": protocol_config().min_trained_staff},
                  user=user, status=status)


@router.get("/participants/{code}/sessions/new", response_class=HTMLResponse)
def session_form(code: str, request: Request, user: CurrentUser, session: DbSession,
                 today: Today) -> HTMLResponse:
    participant = writable(session, user, code)
    chosen = [user.actor.staff_id]
    return session_page(request, user, session, participant,
                         {"session_date": today.isoformat()}, {}, chosen, today=today)


@router.post("/participants/{code}/sessions/new", response_model=None)
async def session_submit(code: str, request: Request, user: CurrentUser, session: DbSession,
                         today: Today) -> HTMLResponse | RedirectResponse:
    participant = writable(session, user, code)
    form = await request.form()
    answers = answers_from_form(session_fields(), form,
                                locked_values(session_form_page(user, participant, {}, {}, today)))
    chosen = [int(str(v)) for v in form.getlist("staff_ids") if WHOLE.fullmatch(str(v))]
    try:
        data = session_from_answers(answers, chosen)
        saved = log_session(session, actor=user.actor, code=participant.code, data=data,
                            on=today)
    except CohortError as error:
        session.rollback()
        errors, message = field_errors(error, {"date": "session_date"})
        return session_page(request, user, session, participant, answers, errors, chosen,
                             message, 422, today=today)
    flash_saved(request, _("Saved: AERLI session with {code}.").format(code=participant.code),
                saved.deviations)
    return redirect(f"/participants/{participant.code}")
