"""Pages a role cannot use answer 403 with a clear page when opened, not a refusal after
the form is filled in (issue 15 point 10): a statistician opening the enrolment form
learns at once that it is not theirs, and what they can do instead."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.deps import SignedIn
from api.pages.common import render
from cohort.services.context import may
from cohort.vocab import Role
from forms.i18n import N_, _

READ_ONLY_HINT = {
    Role.STATISTICIAN: N_("Statisticians read de-identified data: enrolment, questionnaires "
                          "and workbooks for data entry are for outreach workers. You can "
                          "download the analysis data and the analysis report from the "
                          "Exports page (/jobs)."),
}


def entry_refusal(request: Request, user: SignedIn, what: str) -> HTMLResponse | None:
    """A 403 page if ``user`` may not write (rule ``scope.role``), else None. ``what`` is
    the page's name in English (marked with ``N_`` by the caller) or already translated."""
    if may(user.actor, "write"):
        return None
    hint = READ_ONLY_HINT.get(user.role)
    detail = _(hint) if hint else _("Your role does not allow data entry.")
    # Rendered for the signed-in person: the menu stays, with what they can do instead.
    return render(request, "error.html",
                  {"title": _("{what} is not available to you").format(what=_(what)),
                   "detail": detail}, user=user, status=403)
