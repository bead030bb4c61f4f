"""Bearer tokens for the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request

from api.deps import CurrentUser, DbSession, bearer
from api.inputs import api_router
from api.problems import NotSignedIn, problems
from api.schemas import MeOut, TokenOut
from api.throttle import client_address, refuse_if_throttled, throttle_of
from cohort.services.accounts import DEFAULT_TOKEN_TTL, authenticate, issue_token, revoke_token

router = api_router(prefix="/auth", tags=["auth"])


class TokenForm:
    """OAuth2's password grant: what Swagger's "Authorize" sends (its other fields, such as
    ``grant_type`` and ``scope``, are ignored). A form field sent empty counts as not sent,
    hence ``min_length``."""

    def __init__(
        self,
        username: Annotated[str, Form(min_length=1, max_length=200)],
        password: Annotated[str, Form(min_length=1, max_length=200)],
    ) -> None:
        self.username = username
        self.password = password


@router.post("/token", response_model=TokenOut, responses=problems(401, 422, 429))
def token(request: Request, form: Annotated[TokenForm, Depends()],
          session: DbSession) -> TokenOut:
    """Exchange a username and password (form fields) for a bearer token."""
    refuse_if_throttled(request, form.username)
    throttle, address = throttle_of(request), client_address(request)
    account = authenticate(session, username=form.username, password=form.password)
    if account is None:
        raise NotSignedIn()  # counted as failed before the check (refuse_if_throttled)
    throttle.succeeded(form.username, address)
    value = issue_token(session, account=account, ttl=DEFAULT_TOKEN_TTL)
    return TokenOut(access_token=value, expires_in=int(DEFAULT_TOKEN_TTL.total_seconds()))


@router.get("/me", response_model=MeOut, responses=problems(401))
def me(user: CurrentUser) -> MeOut:
    """Who the token belongs to, and which centres they see."""
    ids = user.actor.centre_ids
    return MeOut(
        username=user.account.username, staff_id=user.actor.staff_id,
        display_name=user.staff.display_name, role=user.role, centre_id=user.staff.centre_id,
        centre_ids=sorted(ids) if ids is not None else None,
    )


@router.post("/revoke", status_code=204, responses=problems(401))
def revoke(user: CurrentUser, session: DbSession,
           value: Annotated[str | None, Depends(bearer)]) -> None:
    """Sign this token out."""
    del user
    if value:
        revoke_token(session, value)
