"""Data managers' page: accounts (create, disable, reset password) and AERLI training."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import CurrentUser, DbSession, SignedIn, Today
from api.pages.common import flash, page_router, plain_error, redirect, render
from api.problems import describe
from cohort.errors import ActionNotAllowed, CohortError, NotFound
from cohort.services import accounts, queries, redcap_tokens, setup
from cohort.vocab import Role
from forms.i18n import _, format_date

router = page_router()


def _page(request: Request, user: SignedIn, session: DbSession, today: date, error: str = "",
          status: int = 200, new_token: tuple[str, str] | None = None) -> HTMLResponse:
    rows = accounts.list_accounts(session, actor=user.actor)
    tokens = redcap_tokens.live_token_dates(session, [int(a.id or 0) for a, _s in rows])
    centres = queries.list_centres(session, actor=user.actor)
    codes = {c.id: c.code for c in centres}
    reach = {staff_id: ", ".join(sorted(codes[i] for i in ids if i in codes))
             for staff_id, ids in accounts.centre_access(session, actor=user.actor).items()}
    return render(request, "accounts.html",
                  {"rows": rows, "roles": list(Role), "error": error, "centres": centres,
                   "codes": codes, "reach": reach, "today": today, "tokens": tokens,
                   "new_token": new_token},
                  user=user, status=status)


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(request: Request, user: CurrentUser, session: DbSession,
                  today: Today) -> HTMLResponse:
    return _page(request, user, session, today)


@router.post("/accounts", response_model=None)
def accounts_create(
    request: Request, user: CurrentUser, session: DbSession, today: Today,
    username: Annotated[str, Form()], password: Annotated[str, Form()],
    role: Annotated[Role, Form()], display_name: Annotated[str, Form()] = "",
    centre_code: Annotated[str, Form()] = "", aerli_trained: Annotated[bool, Form()] = False,
    limit_to: Annotated[list[str] | None, Form()] = None,
) -> HTMLResponse | RedirectResponse:
    try:
        accounts.create_staff_account(
            session, actor=user.actor, username=username, password=password, role=role,
            centre_code=centre_code or None, display_name=display_name or None,
            aerli_trained=aerli_trained, limit_to=limit_to or (),
        )
    except CohortError as error:
        session.rollback()
        if isinstance(error, ActionNotAllowed):
            raise
        return _page(request, user, session, today, plain_error(error), describe(error)[0])
    flash(request, _("Account '{username}' created.").format(username=username.strip().lower()))
    return redirect("/accounts")


@router.post("/accounts/{account_id}", response_class=RedirectResponse)
def accounts_update(
    account_id: int, request: Request, user: CurrentUser, session: DbSession,
    action: Annotated[str, Form()], password: Annotated[str, Form()] = "",
) -> RedirectResponse:
    try:
        if action == "password":
            accounts.set_password(session, actor=user.actor, account_id=account_id,
                                  password=password)
            flash(request, _("Password changed; the person's tokens were signed out."))
        else:
            accounts.set_active(session, actor=user.actor, account_id=account_id,
                                active=action == "enable")
            flash(request, _("Account enabled.") if action == "enable"
                  else _("Account disabled."))
    except CohortError as error:
        session.rollback()
        if isinstance(error, NotFound | ActionNotAllowed):
            raise
        flash(request, error.message, "error")
    return redirect("/accounts")


@router.post("/accounts/{account_id}/redcap-token", response_model=None)
def redcap_token_update(
    account_id: int, request: Request, user: CurrentUser, session: DbSession, today: Today,
    action: Annotated[str, Form()],
) -> HTMLResponse | RedirectResponse:
    """Make or revoke an account's REDCap API token. A new token is shown on this answer
    only (never put in the session cookie, never stored): the page says to copy it now."""
    account, _staff = accounts.account_with_staff(session, actor=user.actor, account_id=account_id)
    if action == "revoke":
        count = redcap_tokens.revoke_redcap_token(session, actor=user.actor,
                                                  username=account.username)
        flash(request, (_("REDCap API token of '{username}' revoked.") if count
                        else _("'{username}' had no REDCap API token."))
              .format(username=account.username))
        return redirect("/accounts")
    token = redcap_tokens.new_redcap_token(session, actor=user.actor, username=account.username)
    return _page(request, user, session, today, new_token=(account.username, token))


@router.post("/staff/{staff_id}/training", response_class=RedirectResponse)
def training_update(
    staff_id: int, request: Request, user: CurrentUser, session: DbSession, today: Today,
    action: Annotated[str, Form()], trained_on: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Record or clear the date someone completed AERLI training."""
    if action == "clear":
        when: date | None = None
    else:
        try:
            when = date.fromisoformat(trained_on.strip())
        except ValueError:
            flash(request, _("AERLI training date: please enter the date the training was "
                             "completed (for example 2026-01-15)."), "error")
            return redirect("/accounts")
    try:
        staff = setup.set_training(session, actor=user.actor, staff_id=staff_id,
                                   trained_on=when, on=today)
    except CohortError as error:
        session.rollback()
        if isinstance(error, NotFound | ActionNotAllowed):
            raise
        flash(request, plain_error(error), "error")
        return redirect("/accounts")
    flash(request, _("{name}: AERLI training recorded as completed on {day}.").format(
        name=staff.display_name, day=format_date(when)) if when else
        _("{name}: AERLI training date cleared.").format(name=staff.display_name))
    return redirect("/accounts")
