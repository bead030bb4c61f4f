"""Sign in and out with a session cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import CurrentUser, DbSession, cookie_account, start_page_session
from api.pages.common import page_router, redirect, render
from api.throttle import client_address, throttle_of, wait_words
from cohort.services.accounts import sign_in, sign_out
from cohort.vocab import Role
from forms.i18n import gettext as _

router = page_router()


def _home(role: Role) -> str:
    return "/participants" if role is Role.OUTREACH_WORKER else "/retention"


def _safe_next(target: str | None) -> str | None:
    """Only local paths: never redirect a signed-in person to another site."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


@router.get("/", response_class=RedirectResponse)
def home(user: CurrentUser) -> RedirectResponse:
    return redirect(_home(user.role))


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:  # noqa: A002
    return render(request, "login.html", {"next": _safe_next(next) or ""})


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "",  # noqa: A002
) -> HTMLResponse | RedirectResponse:
    throttle, address = throttle_of(request), client_address(request)
    wait = throttle.reserve(username, address)  # a failure counted unless it succeeds
    if wait:
        page = render(request, "login.html",
                      {"next": _safe_next(next) or "", "username": username,
                       "error": wait_words(wait)}, status=429)
        page.headers["Retry-After"] = str(wait)
        return page
    found = sign_in(session, username=username, password=password)
    if found is None:
        return render(request, "login.html",
                      {"next": _safe_next(next) or "", "username": username,
                       "error": _("That username and password do not match an active "
                                  "account.")},
                      status=401)
    throttle.succeeded(username, address)
    account, staff = found
    start_page_session(request, account)
    return redirect(_safe_next(next) or _home(staff.role))


@router.post("/logout", response_class=RedirectResponse)
def logout(request: Request, session: DbSession) -> RedirectResponse:
    """Ends this cookie and every copy of it (an already ended one just leaves).

    The cookie is cleared first: if the database cannot be reached below, the error page
    still carries the cleared cookie, so a shared phone is never left signed in."""
    ended = dict(request.session)
    request.session.clear()
    found = cookie_account(session, ended)
    if found is not None and found[0].id is not None:
        sign_out(session, account_id=found[0].id)
    return redirect("/login")
