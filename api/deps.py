"""Request dependencies: the database session, the signed-in person, CSRF, the clock.

``CurrentUser`` is the one dependency every protected route takes. API routes accept only a
bearer token and pages only the signed session cookie, so a page cookie can never be used
to call the API from another site (no CSRF surface on the API), and every page POST checks
the session-bound CSRF token.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.problems import NotSignedIn, is_api
from cohort.errors import ActionNotAllowed
from cohort.models import Account, Staff
from cohort.services.accounts import account_for_token
from cohort.services.context import Actor, actor_for
from cohort.vocab import Role

bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
SESSION_ACCOUNT = "account_id"
SESSION_CSRF = "csrf"


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _engine_for(request: Request) -> Engine:
    """The app's engine; on SQLite, writing requests take the write lock when they begin,
    so concurrent saves wait their turn (busy timeout) instead of failing as locked."""
    engine: Engine = request.app.state.engine
    if request.method in READ_METHODS or engine.dialect.name != "sqlite":
        return engine
    writer: Engine | None = getattr(request.app.state, "write_engine", None)
    if writer is None:
        writer = engine.execution_options(sqlite_begin="IMMEDIATE")
        request.app.state.write_engine = writer
    return writer


def get_session(request: Request) -> Iterator[Session]:
    """One database session per request; services commit, anything left is rolled back."""
    with Session(_engine_for(request), expire_on_commit=False) as session:
        try:
            yield session
        finally:
            session.rollback()


DbSession = Annotated[Session, Depends(get_session)]


def get_today(request: Request) -> date:
    """Today's date for rules and windows (tests pin it through ``app.state.today``)."""
    today: date = request.app.state.today()
    return today


Today = Annotated[date, Depends(get_today)]


@dataclass(frozen=True)
class SignedIn:
    """The person making the request, resolved from their account's staff row."""

    account: Account
    staff: Staff
    actor: Actor

    @property
    def role(self) -> Role:
        return self.staff.role

    @property
    def deidentified(self) -> bool:
        """Statisticians see de-identified data only (no staff names, no free text)."""
        return self.staff.role is Role.STATISTICIAN

    def require(self, *roles: Role) -> None:
        if self.staff.role not in roles:
            names = ", ".join(r.value.replace("_", " ") for r in roles)
            raise ActionNotAllowed("scope.role", f"This needs one of these roles: {names}.")


def signed_in(
    request: Request,
    session: DbSession,
    token: Annotated[str | None, Depends(bearer)],
) -> SignedIn:
    account: Account | None = None
    if is_api(request):
        if token:
            account = account_for_token(session, token)
    else:
        account_id = request.session.get(SESSION_ACCOUNT)
        if isinstance(account_id, int):
            account = session.get(Account, account_id)
            if account is not None and not account.active:
                account = None
    if account is None:
        raise NotSignedIn()
    staff = session.get(Staff, account.staff_id)
    if staff is None or not staff.active:
        raise NotSignedIn()
    return SignedIn(account, staff, actor_for(session, staff))


CurrentUser = Annotated[SignedIn, Depends(signed_in)]


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        request.session[SESSION_CSRF] = token
    return token


async def check_csrf(request: Request) -> None:
    """Every page POST carries the session's token in a hidden ``csrf_token`` field."""
    if request.method != "POST":
        return
    form = await request.form()
    sent = form.get("csrf_token")
    expected = request.session.get(SESSION_CSRF)
    if not isinstance(sent, str) or not isinstance(expected, str) or not secrets.compare_digest(
        sent, expected
    ):
        from fastapi import HTTPException

        raise HTTPException(
            status_code=403,
            detail="This form has expired. Please go back, reload the page and try again.",
        )
