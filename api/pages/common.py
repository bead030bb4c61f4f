"""Rendering helpers shared by the pages: templates, flash messages, CSRF, role labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.deps import SignedIn, check_csrf, csrf_token
from api.inputs import CheckedRoute
from cohort.errors import CohortError, ValidationFailed
from cohort.messages import LEGACY
from cohort.messages import render as render_message
from cohort.models import Deviation
from cohort.services.deviations import describe
from cohort.vocab import Role
from forms.i18n import (
    LANGUAGES,
    current_language,
    format_date,
    format_datetime,
    format_decimal,
    format_percent,
    gettext,
    language_name,
    ngettext,
    pgettext,
)

TEMPLATES = Jinja2Templates(env=Environment(
    loader=FileSystemLoader(Path(__file__).parent.parent / "templates"),
    autoescape=select_autoescape(), extensions=["jinja2.ext.i18n"]))
# Words in templates go through {% trans %} / _() to the reader's catalogue (forms.i18n);
# newstyle: {{ _("Saved %(n)s", n=3) }} formats after translating, and escapes.
TEMPLATES.env.install_gettext_callables(  # type: ignore[attr-defined]  # added by ext.i18n
    gettext, ngettext, newstyle=True, pgettext=pgettext)
TEMPLATES.env.policies["ext.i18n.trimmed"] = True
TEMPLATES.env.filters.update(date=format_date, datetime=format_datetime,
                             number=format_decimal, percent=format_percent)
TEMPLATES.env.globals.update(current_language=current_language, LANGUAGES=LANGUAGES,
                             language_name=language_name)
FLASH = "flash"

ROLE_LABELS = {
    Role.OUTREACH_WORKER: "Outreach worker",
    Role.RESEARCH_OFFICER: "Research officer",
    Role.STATISTICIAN: "Statistician",
    Role.ADMIN: "Data manager",
}
WINDOW_LABELS = {
    "upcoming": "Upcoming", "due": "In window now", "overdue": "Window closed",
    "complete": "Follow-up complete", "not_followed": "No longer followed",
}
STATUS_LABELS = {
    "active": "Active", "withdrawn": "Withdrew", "deceased": "Deceased",
    "lost_to_follow_up": "Not seen lately (lost to follow-up)", "returned": "Came back",
}
TEMPLATES.env.globals.update(ROLE_LABELS=ROLE_LABELS, WINDOW_LABELS=WINDOW_LABELS,
                             STATUS_LABELS=STATUS_LABELS, describe=describe)


def page_router() -> APIRouter:
    """A router for pages: left out of the OpenAPI schema; POSTs check the CSRF token."""
    return APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)],
                     route_class=CheckedRoute)


def flash(request: Request, text: str, kind: str = "ok") -> None:
    messages = list(request.session.get(FLASH, []))
    messages.append([kind, text])
    request.session[FLASH] = messages


def flash_saved(request: Request, what: str, deviations: list[Deviation]) -> None:
    """"Saved." — and, when a soft rule flagged the record, what it means in plain words."""
    if not deviations:
        flash(request, f"Saved: {what}.")
        return
    notes = " ".join(_reason(d) for d in deviations)
    flash(request, f"Saved: {what}. Please note: {notes} A research officer will review it; "
          "nothing more is needed from you now.", "note")


def _reason(deviation: Deviation, lang: str | None = None) -> str:
    """A deviation's reason without the participant's code (already shown on the page)."""
    if deviation.message_id == LEGACY:
        _, _, rest = deviation.message.partition(": ")
        return rest or deviation.message
    return render_message(deviation.message_id, deviation.message_params, lang)


def plain_error(error: CohortError) -> str:
    """An error for a page: each refused field named by its label, not its API name."""
    if isinstance(error, ValidationFailed) and error.problems:
        return " ".join(f"{p.label or p.field}: {p.message}" for p in error.problems)
    return error.message


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    user: SignedIn | None = None,
    status: int = 200,
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "user": user,
        "csrf_token": csrf_token(request),
        "messages": request.session.pop(FLASH, []),
    }
    ctx.update(context or {})
    return TEMPLATES.TemplateResponse(request, name, ctx, status_code=status)


def render_error(request: Request, *, status: int, title: str, detail: str) -> HTMLResponse:
    return render(request, "error.html", {"title": title, "detail": detail}, status=status)
