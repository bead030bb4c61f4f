"""The outreach worker's offline app: an installable page that works with no network.

``/offline/`` is an app shell (no study data in it) that a service worker (``/sw.js``,
root scope) keeps with the scripts and styles. Once signed in online, the phone fetches
``/offline/data``: the worker's own centre's participants (pseudonymous: code, group,
status, next visit), the centre's staff for the session form, and the dictionary's forms
rendered with their branching, so that enrolment, M0/M6/M12, AERLI sessions and status
changes can be entered offline (``static/offline/app.js`` keeps them in IndexedDB).
Entries come back one per request to ``/offline/entries`` and are applied by
``cohort.services.sync`` exactly once, under the same rules as the online forms.

These routes use the page session cookie (not a bearer token: nothing that could call the
API is kept on a shared phone) and the session's CSRF token, sent in the form body.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import ValidationError

from api.access import log_download
from api.deps import CurrentUser, DbSession, SignedIn, Today, csrf_token
from api.formview import form_page
from api.pages.common import TEMPLATES, page_dictionary, page_router, render
from cohort.errors import ActionNotAllowed
from cohort.schedule import get_schedule
from cohort.services import queries
from cohort.services.access import record_read
from cohort.services.context import get_participant, require_role
from cohort.services.monitoring import participant_overview
from cohort.services.questionnaires import questionnaire_forms
from cohort.services.sync import OfflineEntry, apply_entry
from cohort.vocab import Channel, ExportKind, Timepoint
from forms.i18n import N_, current_language
from forms.i18n import gettext as _

router = page_router()
STATIC = Path(__file__).resolve().parent.parent / "static"

def date_defaults() -> dict[str, list[str]]:
    """The date fields a new offline form fills with the phone's today (every visit of the
    schedule: its visit date)."""
    return {"enrolment": ["inclusion_date", "consent_date"],
            "session": ["session_date"], "status": ["fu_status_date"],
            **{name: ["visit_date"] for name in get_schedule().names}}

MANIFEST = {
    "name": N_("OUTSIDER offline entry"),
    "short_name": "OUTSIDER",
    "description": N_("Enrol participants and enter visits and AERLI sessions with no "
                      "network; entries are sent when the network comes back."),
    "start_url": "/offline/",
    "scope": "/",
    "display": "standalone",
    "background_color": "#ffffff",
    "theme_color": "#1f5f8b",
    "icons": [{"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png"},
              {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png",
               "purpose": "any maskable"}],
}


#: Every word static/offline/app.js writes (its ``t("...")`` calls, English with ``{name}``
#: placeholders), and the codes it shows in words (group, status); offline.html carries
#: them in the reader's language with the shell, so the phone keeps them offline.
OFFLINE_WORDS = (
    N_("(no answer)"),
    N_("(you)"),
    N_("AERLI session"),
    N_("AERLI-trained"),
    N_("Both versions give the same answers."),
    N_("Cancel"),
    N_("Correct"),
    N_("Correction of {timepoint}"),
    N_("Discard"),
    N_("Discard it and sign out"),
    N_("Discard them and sign out"),
    N_("Discard this entry? It was not saved and will be lost: {entry}"),
    N_("Enrol a participant"),
    N_("Follow-up complete"),
    N_("Follow-up status"),
    N_("Keep it and stay signed in"),
    N_("Keep on this phone"),
    N_("Keep theirs (discard mine)"),
    N_("Keep them and stay signed in"),
    N_("Kept on this phone: {entry}."),
    N_("My centre's participants ({n})"),
    N_("Needs attention ({n})"),
    N_("New participant (code given when sent)"),
    N_("Next: {timepoint} {opens} → {closes}"),
    N_("No network: entries wait on this phone."),
    N_("Not saved."),
    N_("Not sent yet"),
    N_("Nothing waiting."),
    N_("Offline: entries are kept on this phone and sent later."),
    N_("Online"),
    N_("Outreach workers present"),
    N_("Please sign in again to send."),
    N_("Saved by someone else on {time} (version {version}). Answers that differ:"),
    N_("Send mine as a correction"),
    N_("Send now"),
    N_("Sending…"),
    N_("Sign in again to send entries and refresh the list:"),
    N_("Sign in once with network to use this phone offline:"),
    N_("Sign out and clear this phone"),
    N_("Status"),
    N_("The offline copy was wiped: nobody signed in on this phone for too long. Connect and "
       "sign in again. Entries waiting to send are kept and will be sent after you sign in."),
    N_("The server could not take them now; they will be sent later."),
    N_("Theirs: {answer}"),
    N_("Waiting to send ({n})"),
    N_("Yours: {answer}"),
    N_("list of {date}, usable offline until {until}"),
    N_("made {time}"),
    N_("new participant"),
    N_("sign in"),
    N_("the person enrolled on this phone"),
    N_("{n} entries have not been sent. Signing out now discards them for good:"),
    N_("{n} entry has not been sent. Signing out now discards it for good:"),
    N_("{n} need attention."),
    N_("{n} saved with a note for a research officer to review; nothing more is needed from "
       "you."),
    N_("{n} sent."),
    N_("{timepoint} questionnaire"),
    N_("Enrolment"),
    N_("intervention"),
    N_("comparison"),
    N_("active"),
    N_("withdrawn"),
    N_("deceased"),
    N_("lost to follow up"),
    N_("returned"),
)


def _worker(user: SignedIn) -> SignedIn:
    """Offline entry is for outreach workers (rule scope.role), who work for one centre."""
    require_role(user.actor, "offline_entry")
    if user.actor.centre_id is None:
        raise ActionNotAllowed(
            "scope.role", _("Offline entry on a phone is for outreach workers of a centre."))
    return user


@router.get("/offline/", response_class=HTMLResponse)
def offline_shell(request: Request) -> HTMLResponse:
    """The app shell: the same for everyone, no study data (the worker's come as JSON);
    its words (``OFFLINE_WORDS``) in the reader's language."""
    return render(request, "offline.html", {"offline_words": OFFLINE_WORDS})


@router.get("/offline/manifest.webmanifest", response_model=None)
def manifest() -> Response:
    """The app's manifest, its name and description in the reader's language."""
    words = {**MANIFEST, "name": _(str(MANIFEST["name"])),
             "description": _(str(MANIFEST["description"])), "lang": current_language()}
    return Response(json.dumps(words), media_type="application/manifest+json")


@router.get("/sw.js", response_model=None)
def service_worker() -> FileResponse:
    """Served from the root so that its scope covers the shell and the static files."""
    return FileResponse(STATIC / "offline" / "sw.js", media_type="text/javascript",
                        headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"})


def _fields_html(fields: list[Any], env: str) -> dict[str, Any]:
    html = TEMPLATES.env.from_string(
        '{% from "_fields.html" import render_fields %}{{ render_fields(fields) }}'
    ).render(fields=fields)
    return {"html": html, "env": env}


def _forms(user: SignedIn, today: Any) -> dict[str, Any]:
    """Each form offline entry offers, rendered as the online pages render it (in the
    reader's language: the phone keeps the forms of whoever fetched them)."""
    dictionary = page_dictionary()
    context = {"user-name": user.account.username, "user-role-name": user.role.value}
    out: dict[str, Any] = {}

    def render_form(key: str, names: list[str], event: str | None) -> None:
        fields = [f for name in names for f in dictionary.forms[name].fields]
        page = form_page(fields, {}, {}, dictionary=dictionary, new=True, event=event,
                         context=context, today=today)
        out[key] = {**_fields_html(page.fields, page.env), "dates": date_defaults()[key]}

    render_form("enrolment", ["enrolment"],
                next(iter(dictionary.events.events_for("enrolment")), None))
    schedule = get_schedule()
    for name in schedule.names:
        tp = Timepoint(name)
        render_form(name, questionnaire_forms(tp), schedule.event(tp))
    render_form("session", ["aerli_session"], None)
    render_form("status", ["follow_up_status"], None)
    return out


@router.get("/offline/data", response_model=None)
def offline_data(request: Request, user: CurrentUser, session: DbSession,
                 today: Today) -> JSONResponse:
    """Everything the phone keeps for offline use, for the worker's own centre only.

    Logged as a download (export log): the list leaves the server and stays on the phone
    until the worker signs out or ``offline_days`` pass without signing in."""
    user = _worker(user)
    centre_id = user.actor.centre_id
    rows = participant_overview(session, actor=user.actor, as_of=today, centre_id=centre_id)
    staff = [s for s in queries.list_staff(session, actor=user.actor, centre_id=centre_id)
             if s.active]
    centre = next(c for c in queries.list_centres(session, actor=user.actor)
                  if c.id == centre_id)
    participants = [
        {"code": r.code, "group": r.group.value, "status": r.status.value,
         "inclusion_date": r.inclusion_date.isoformat(), "done": r.done,
         "next_timepoint": r.next_timepoint,
         "next_opens": r.next_opens.isoformat() if r.next_opens else None,
         "next_closes": r.next_closes.isoformat() if r.next_closes else None,
         "window_state": r.window_state} for r in rows]
    log_download(request, user, session, kind=ExportKind.TEMPLATE, fmt="offline",
                 rows=len(participants), fields=["code", "group", "status", "next_visit"],
                 centre_codes=[centre.code], target="/offline/data")
    body = {
        "worker": {"username": user.account.username, "staff_id": user.actor.staff_id,
                   "centre": centre.code, "centre_name": centre.name},
        "csrf": csrf_token(request),
        "today": today.isoformat(),
        "fetched_at": datetime.now(UTC).isoformat(),
        "offline_days": request.app.state.settings.offline_days,
        "participants": participants,
        "staff": [{"id": s.id, "name": s.display_name,
                   "trained": s.aerli_trained_on is not None
                   and s.aerli_trained_on <= today} for s in staff],
        "forms": _forms(user, today),
    }
    return JSONResponse(body)


def _problem(status: int, message: str, field: str = "entry") -> JSONResponse:
    return JSONResponse({"outcome": "invalid", "message": message, "errors": {field: message}},
                        status_code=status)


OUTCOME_STATUS = {"saved": 201, "already_saved": 200, "refused": 422, "waiting": 409,
                  "conflict": 409}


@router.post("/offline/entries", response_model=None)
async def offline_entry(request: Request, user: CurrentUser, session: DbSession,
                        today: Today) -> JSONResponse:
    """One entry from the phone (form field ``entry``, JSON), applied once."""
    user = _worker(user)
    form = await request.form()
    raw = form.get("entry")
    if not isinstance(raw, str):
        return _problem(400, _("The request has no entry (form field 'entry')."))
    try:
        entry = OfflineEntry.model_validate_json(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "entry"
        return _problem(422, f"{where}: {first['msg']}", where)
    outcome = apply_entry(session, actor=user.actor, entry=entry, on=today)
    if outcome.theirs is not None and outcome.participant_code:
        # The other version of a questionnaire is a read of the participant's record.
        participant = get_participant(session, user.actor, outcome.participant_code)
        record_read(session, actor=user.actor, participant=participant, channel=Channel.WEB,
                    what="/offline/entries (conflict)",
                    client=request.client.host if request.client else None)
    return JSONResponse(outcome.to_json(), status_code=OUTCOME_STATUS[outcome.outcome])
