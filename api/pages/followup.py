"""Pages that change a participant's record after the fact: correcting a logged AERLI
session, and recording a follow-up status (withdrawn, deceased, lost to follow-up,
returned). The services decide; these pages translate forms to calls and back."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import CurrentUser, DbSession, Today
from api.formview import answers_from_form, locked_values
from api.pages.common import (
    deviation_reason,
    flash,
    marked,
    page_router,
    plain_error,
    redirect,
    render,
)
from api.pages.entry import (
    WHOLE,
    session_fields,
    session_form_page,
    session_page,
    writable,
)
from api.pages.participants import field_errors
from api.problems import describe
from cohort.errors import CohortError, NotFound
from cohort.models import AerliSession
from cohort.services import queries
from cohort.services.participants import allowed_statuses, change_status, status_history
from cohort.services.session_corrections import correct_session
from cohort.services.sessions import session_from_answers
from cohort.vocab import (
    INJECTION_SITE_CODES,
    MODALITY_CODES,
    SETTING_CODES,
    Status,
    code_for,
)
from forms.i18n import N_, format_date, ngettext
from forms.i18n import gettext as _

router = page_router()


def _answers(record: AerliSession) -> dict[str, Any]:
    """A stored session as the dictionary form's answers (choice codes)."""
    return {
        "session_date": record.session_date.isoformat(),
        "setting": code_for(SETTING_CODES, record.setting),  # type: ignore[arg-type]
        "modality": code_for(MODALITY_CODES, record.modality),  # type: ignore[arg-type]
        "product": record.product or "",
        "injection_site": code_for(INJECTION_SITE_CODES, record.injection_site)  # type: ignore[arg-type]
        if record.injection_site is not None else "",
        "risks": list(record.risks), "topics": list(record.topics),
        "session_note": record.note or "",
    }


def _session_of(session: DbSession, user: CurrentUser, code: str,
                session_id: int) -> tuple[Any, Any]:
    participant = writable(session, user, code)
    row = next((r for r in queries.list_sessions(session, actor=user.actor, code=code)
                if r.record.id == session_id), None)
    if row is None:
        raise NotFound(_("{code} has no AERLI session with id {id}.").format(
            code=participant.code, id=session_id))
    return participant, row


@router.get("/participants/{code}/sessions/{session_id}", response_class=HTMLResponse)
def correction_form(code: str, session_id: int, request: Request, user: CurrentUser,
                    session: DbSession, today: Today) -> HTMLResponse:
    participant, row = _session_of(session, user, code, session_id)
    return session_page(request, user, session, participant, _answers(row.record), {},
                        row.staff_ids, today=today,
                        correcting={"id": session_id, "reason": "", "error": ""})


@router.post("/participants/{code}/sessions/{session_id}", response_model=None)
async def correction_submit(code: str, session_id: int, request: Request, user: CurrentUser,
                            session: DbSession,
                            today: Today) -> HTMLResponse | RedirectResponse:
    participant, _row = _session_of(session, user, code, session_id)
    form = await request.form()
    answers = answers_from_form(session_fields(), form, locked_values(
        session_form_page(user, participant, {}, {}, today)))
    chosen = [int(str(v)) for v in form.getlist("staff_ids") if WHOLE.fullmatch(str(v))]
    reason = str(form.get("reason") or "")
    try:
        data = session_from_answers(answers, chosen)
        done = correct_session(session, actor=user.actor, session_id=session_id, data=data,
                               reason=reason, on=today, code=participant.code)
    except CohortError as error:
        session.rollback()
        errors, message = field_errors(error, {"date": "session_date"})
        why = message if error.message_id.startswith("session.correction_reason") else ""
        return session_page(request, user, session, participant, answers, errors, chosen,
                            message, describe(error)[0], today=today,
                            correcting={"id": session_id, "reason": reason, "error": why})
    note = _("Corrected: AERLI session of {code} on {date}.").format(
        code=participant.code, date=format_date(done.record.session_date))
    if done.cleared:
        note += " " + ngettext("{n} flag cleared: {comments}", "{n} flags cleared: {comments}",
                               len(done.cleared)).format(
            n=len(done.cleared),
            comments=" ".join(d.resolution_comment or "" for d in done.cleared))
    if done.raised:
        note += " " + _("Please note: {notes}").format(
            notes=" ".join(deviation_reason(d) for d in done.raised))
    flash(request, note, "note" if done.raised else "ok")
    return redirect(f"/participants/{participant.code}")


STATUS_WORDS = marked({
    Status.WITHDRAWN: N_("Withdrew (their own choice)"),
    Status.DECEASED: N_("Deceased"),
    Status.LOST_TO_FOLLOW_UP: N_("Not seen lately (lost to follow-up)"),
    Status.RETURNED: N_("Came back (returned to follow-up)"),
    Status.ACTIVE: N_("Active"),
})


def _status_page(request: Request, user: CurrentUser, session: DbSession, code: str,
                 today: date, *, values: dict[str, str] | None = None, error: str = "",
                 status: int = 200) -> HTMLResponse:
    participant = writable(session, user, code)
    history = status_history(session, actor=user.actor, code=code)
    names = queries.staff_names(session, actor=user.actor,
                                ids={h.recorded_by for h in history if h.recorded_by})
    return render(request, "status.html", {
        "p": participant, "history": history, "names": names, "today": today,
        "choices": [(s.value, STATUS_WORDS[s]) for s in allowed_statuses(participant.status)],
        "values": values or {"effective_date": today.isoformat()}, "error": error,
        "words": {s.value: w for s, w in STATUS_WORDS.items()}}, user=user, status=status)


@router.get("/participants/{code}/status", response_class=HTMLResponse)
def status_form(code: str, request: Request, user: CurrentUser, session: DbSession,
                today: Today) -> HTMLResponse:
    return _status_page(request, user, session, code, today)


@router.post("/participants/{code}/status", response_model=None)
def status_submit(
    code: str, request: Request, user: CurrentUser, session: DbSession, today: Today,
    status: Annotated[str, Form(max_length=40)] = "",
    effective_date: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse | RedirectResponse:
    values = {"status": status, "effective_date": effective_date, "reason": reason}
    try:
        wanted = Status(status)
    except ValueError:
        return _status_page(request, user, session, code, today, values=values,
                            error=_("Please choose the new status."), status=422)
    try:
        when = date.fromisoformat(effective_date)
    except ValueError:
        return _status_page(request, user, session, code, today, values=values,
                            error=_("Please give the date of this status (like "
                                    "2026-03-31)."),
                            status=422)
    try:
        change = change_status(session, actor=user.actor, code=code, status=wanted,
                               effective_date=when, reason=reason.strip() or None, on=today)
    except CohortError as error:
        session.rollback()
        if isinstance(error, NotFound):
            raise
        return _status_page(request, user, session, code, today, values=values,
                            error=plain_error(error), status=describe(error)[0])
    flash(request, _("Recorded: {status} from {date}.").format(
        status=STATUS_WORDS[change.status], date=format_date(change.effective_date)))
    return redirect(f"/participants/{code}")
