"""The signed-in person's own account page: which language their pages speak.

The choice is kept on the account (``Account.language``), so it follows the person to any
phone; it is also copied into the page session (``SESSION_LANGUAGE``), which
``api.app.ReaderLanguage`` reads before anything else, so the next page is already in it.
"As my browser" (no choice) leaves the browser's ``Accept-Language`` to decide.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import SESSION_LANGUAGE, CurrentUser, DbSession, SignedIn
from api.pages.common import flash, page_router, redirect, render
from cohort.services.account_admin import set_language
from forms.i18n import LANGUAGES, language_name, negotiate, use_language
from forms.i18n import gettext as _

router = page_router()
#: The form's value for "as my browser asks" (no language kept on the account).
BROWSER = ""


def _page(request: Request, user: SignedIn, *, error: str = "",
          status: int = 200) -> HTMLResponse:
    choices = [(lang, language_name(lang)) for lang in LANGUAGES]
    return render(request, "account.html",
                  {"choices": choices, "chosen": user.account.language or BROWSER,
                   "error": error}, user=user, status=status)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, user: CurrentUser) -> HTMLResponse:
    return _page(request, user)


@router.post("/account/language", response_model=None)
def change_language(request: Request, user: CurrentUser, session: DbSession,
                    language: Annotated[str, Form(max_length=16)] = BROWSER,
                    ) -> HTMLResponse | RedirectResponse:
    if language != BROWSER and language not in LANGUAGES:
        return _page(request, user, error=_("Please choose a language from the list."),
                     status=422)
    assert user.account.id is not None  # noqa: S101 (a signed-in account is stored)
    account = set_language(session, actor=user.actor, account_id=user.account.id,
                           language=language or None)
    if account.language:
        request.session[SESSION_LANGUAGE] = account.language
    else:
        request.session.pop(SESSION_LANGUAGE, None)
    # The confirmation is read on the next page, in the language just chosen.
    with use_language(account.language or negotiate(request.headers.get("accept-language"))):
        flash(request, _("Your language is saved."))
    return redirect("/account")
