"""Outreach workers' pages: my centre's participants, enrolment, one participant."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.access import LOGGED_READ
from api.deps import CurrentUser, DbSession, SignedIn, Today
from api.formview import FormPage, answers_from_form, form_page, locked_values
from api.pages.common import flash_saved, page_dictionary, page_router, redirect, render
from api.pages.gates import entry_refusal
from api.pages.history_view import history_rows, staff_ids
from api.problems import describe
from cohort.dictionary import get_dictionary
from cohort.errors import CohortError, ProtocolViolation, ValidationFailed
from cohort.models import Participant
from cohort.schedule import get_schedule
from cohort.services import queries
from cohort.services.context import may
from cohort.services.enrolment import enrol_screened, enrolment_from_answers
from cohort.services.lockstate import lock_refusal
from cohort.services.monitoring import participant_overview
from forms.i18n import gettext as _

router = page_router()

# Where a rule's refusal is shown on a dictionary form.
RULE_FIELDS = {"group": "study_group", "date": "inclusion_date"}


def field_errors(error: CohortError, renames: Mapping[str, str] = RULE_FIELDS,
                 ) -> tuple[dict[str, str], str]:
    """Per-field messages for inline display, and what is left for the top of the form.

    ``renames`` maps a rule's field (``date``) to the form's field (``visit_date``)."""
    if isinstance(error, ValidationFailed):
        return {p.field: p.text for p in error.problems}, (
            _("Some answers need correcting: see the messages next to them."))
    if isinstance(error, ProtocolViolation) and error.field:
        name = renames.get(error.field, error.field)
        return {name: error.message}, error.message
    return {}, error.message


PAGE_SIZE = 50


@router.get("/participants", response_class=HTMLResponse)
def participant_list(
    request: Request, user: CurrentUser, session: DbSession, today: Today,
    centre: Annotated[str | None, Query()] = None,
    state: Annotated[str | None, Query()] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    q: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """Next visit and window state of each participant (own centre for outreach workers),
    most urgent first, ``PAGE_SIZE`` to a page so that a phone never loads the whole cohort.
    ``q`` finds people by study code (see ``queries.find_codes``)."""
    centre_row = queries.get_centre(session, actor=user.actor, code=centre) if centre else None
    rows = participant_overview(session, actor=user.actor, as_of=today,
                                centre_id=centre_row.id if centre_row else None)
    search = queries.find_codes(session, actor=user.actor, query=q,
                                centre_id=centre_row.id if centre_row else None)
    if search.active:
        found = set(search.ids.values())
        rows = [r for r in rows if r.code in found]
    order = {"overdue": 0, "due": 1, "upcoming": 2, "complete": 3, "not_followed": 4}
    rows.sort(key=lambda r: (order.get(r.window_state, 9), r.next_closes or today, r.code))
    counts = {name: sum(1 for r in rows if r.window_state == name) for name in order}
    if state in order:
        rows = [r for r in rows if r.window_state == state]
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(page, pages)
    shown = rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    centres = queries.list_centres(session, actor=user.actor) \
        if may(user.actor, "choose_centre") else []
    return render(request, "participants.html",
                  {"rows": shown, "total": len(rows), "centre": centre_row, "counts": counts,
                   "today": today, "state": state if state in order else "",
                   "centres": centres, "page": page, "pages": pages, "search": search},
                  user=user)


def _enrol_fields() -> list[Any]:
    """The enrolment form's fields, worded in the reader's language."""
    return list(page_dictionary().forms["enrolment"].fields)


def _enrol_page(request: Request, user: SignedIn, session: DbSession, values: dict[str, Any],
                errors: dict[str, str], error: str = "", status: int = 200,
                centre_code: str = "", today: date | None = None) -> HTMLResponse:
    centres = queries.list_centres(session, actor=user.actor) \
        if may(user.actor, "choose_centre") else []
    page = _enrol_form(user, values, errors, today)
    return render(request, "enrol.html",
                  {"fields": page.fields, "form_env": page.env, "error": error,
                   "centres": centres, "centre_code": centre_code},
                  user=user, status=status)


def _enrol_form(user: SignedIn, values: dict[str, Any], errors: dict[str, str],
                today: date | None = None) -> FormPage:
    event = next(iter(get_dictionary().events.events_for("enrolment")), None)
    return form_page(_enrol_fields(), values, errors, dictionary=page_dictionary(), new=True,
                     event=event, context={"user-name": user.account.username,
                                           "user-role-name": user.role.value},
                     today=today, until_today=("inclusion_date", "consent_date"))


@router.get("/participants/new", response_class=HTMLResponse)
def enrol_form(request: Request, user: CurrentUser, session: DbSession,
               today: Today) -> HTMLResponse:
    refused = entry_refusal(request, user, _("Enrolment"))
    if refused is not None:
        return refused
    defaults = {"inclusion_date": today.isoformat(), "consent_date": today.isoformat()}
    return _enrol_page(request, user, session, defaults, {}, today=today)


@router.post("/participants/new", response_model=None)
async def enrol_submit(request: Request, user: CurrentUser, session: DbSession,
                       today: Today) -> HTMLResponse | RedirectResponse:
    form = await request.form()
    answers = answers_from_form(_enrol_fields(), form, locked_values(_enrol_form(user, {}, {})))
    centre_code = str(form.get("centre_code") or "") or None
    try:
        data = enrolment_from_answers(answers)
        if centre_code:
            data.centre_code = centre_code
        saved = enrol_screened(session, actor=user.actor, data=data, on=today)
    except CohortError as error:
        session.rollback()
        errors, message = field_errors(error)
        # The API's status for the same refusal (403 for another centre, 404 unknown).
        return _enrol_page(request, user, session, answers, errors, message,
                           describe(error)[0], centre_code or "", today)
    flash_saved(request, _("Saved: {code} is enrolled. Please write this code on their "
                           "card.").format(code=saved.record.code), saved.deviations)
    return redirect(f"/participants/{saved.record.code}")


@router.get("/participants/{code}", response_class=HTMLResponse)
def participant_page(code: str, request: Request, user: CurrentUser, session: DbSession,
                     today: Today, participant: Annotated[Participant, LOGGED_READ],
                     ) -> HTMLResponse:
    overview = next(r for r in participant_overview(session, actor=user.actor, as_of=today,
                                                    participant_id=participant.id)
                    if r.code == participant.code)
    questionnaires = {q.timepoint.value: q for q in
                      queries.list_questionnaires(session, actor=user.actor, code=code)}
    sessions = queries.list_sessions(session, actor=user.actor, code=code)
    deviations = queries.participant_deviations(session, actor=user.actor, code=code)
    names = queries.staff_names(session, actor=user.actor,
                                ids={d.resolved_by for d in deviations if d.resolved_by})
    locked = lock_refusal(session, participant.centre_id)
    may_write = may(user.actor, "write") and locked is None
    return render(request, "participant.html",
                  {"p": participant, "overview": overview, "questionnaires": questionnaires,
                   "timepoints": get_schedule().names, "sessions": sessions,
                   "deviations": deviations, "names": names, "may_write": may_write,
                   "locked": locked},
                  user=user)


@router.get("/participants/{code}/history", response_class=HTMLResponse)
def history_page(code: str, request: Request, user: CurrentUser, session: DbSession,
                 participant: Annotated[Participant, LOGGED_READ]) -> HTMLResponse:
    entries = queries.participant_history(session, actor=user.actor, code=code)
    names = queries.staff_names(session, actor=user.actor, ids=staff_ids(entries))
    rows = history_rows(entries, names=names, dictionary=page_dictionary())
    return render(request, "history.html", {"p": participant, "rows": rows}, user=user)
