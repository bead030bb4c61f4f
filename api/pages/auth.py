"""Sign in and out with a session cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import SESSION_ACCOUNT, CurrentUser, DbSession
from api.pages.common import page_router, redirect, render
from api.throttle import client_address, throttle_of
from cohort.models import Staff
from cohort.services.accounts import authenticate
from cohort.vocab import Role

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
    wait = throttle.wait_seconds(username, address)
    if wait:
        minutes = max(1, -(-wait // 60))
        return render(request, "login.html",
                      {"next": _safe_next(next) or "", "username": username,
                       "error": f"Too many sign-in attempts for this account. Please wait "
                                f"about {minutes} minute{'s' if minutes != 1 else ''} and "
                                "try again."},
                      status=429)
    account = authenticate(session, username=username, password=password)
    if account is None:
        throttle.failed(username, address)
        return render(request, "login.html",
                      {"next": _safe_next(next) or "", "username": username,
                       "error": "That username and password do not match an active account."},
                      status=401)
    throttle.succeeded(username, address)
    request.session.clear()  # a fresh session (and CSRF token) after signing in
    request.session[SESSION_ACCOUNT] = account.id
    staff = session.get(Staff, account.staff_id)
    role = staff.role if staff else Role.OUTREACH_WORKER
    return redirect(_safe_next(next) or _home(role))


@router.post("/logout", response_class=RedirectResponse)
def logout(request: Request) -> RedirectResponse:
    request.session.clear()
    return redirect("/login")
