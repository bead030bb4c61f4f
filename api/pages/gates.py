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

READ_ONLY_HINT = {
    Role.STATISTICIAN: ("Statisticians read de-identified data: enrolment, questionnaires "
                        "and workbooks for data entry are for outreach workers. You can "
                        "download the analysis data and the analysis report from the "
                        "Exports page (/jobs)."),
}


def entry_refusal(request: Request, user: SignedIn, what: str) -> HTMLResponse | None:
    """A 403 page if ``user`` may not write (rule ``scope.role``), else None."""
    if may(user.actor, "write"):
        return None
    detail = READ_ONLY_HINT.get(user.role, "Your role does not allow data entry.")
    # Rendered for the signed-in person: the menu stays, with what they can do instead.
    return render(request, "error.html", {"title": f"{what} is not available to you",
                                          "detail": detail}, user=user, status=403)
