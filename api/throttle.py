"""Slow down password guessing: the web side of ``cohort.services.throttle``.

``throttle_of(request)`` gives the request's ``SignInThrottle``; ``refuse_if_throttled``
answers 429 with ``Retry-After``. The failures live in the database (table
``sign_in_failure``), so several server processes share them: per account and address
(``MAX_FAILURES``) and per address whatever the account (``MAX_ADDRESS_FAILURES``), over
``WINDOW``. A throttle works on the request's own database session (``DbSession`` puts it
on ``request.state.db_session``) and commits there: call it before the request writes
anything else. Outside a request, give it a session.
"""

from __future__ import annotations

import math

from fastapi import HTTPException, Request
from sqlmodel import Session

from cohort.services import throttle as rules
from cohort.services.throttle import MAX_ADDRESS_FAILURES, MAX_FAILURES, WINDOW, ThrottleRules
from forms.i18n import ngettext

__all__ = ["MAX_ADDRESS_FAILURES", "MAX_FAILURES", "WINDOW", "SignInThrottle",
           "client_address", "refuse_if_throttled", "throttle_of", "wait_words"]


class SignInThrottle:
    """Failed sign-ins per (username, address) and per address, over a sliding window."""

    def __init__(self, session: Session, rules_: ThrottleRules | None = None) -> None:
        self.session = session
        self.rules = rules_ or ThrottleRules()

    def wait_seconds(self, username: str, address: str) -> int:
        """0 when a sign-in may be tried now, else how long to wait."""
        return rules.wait_seconds(self.session, username=username, address=address,
                                  rules=self.rules)

    def reserve(self, username: str, address: str) -> int:
        """The wait, or 0 and a failure counted before the password is checked
        (``rules.reserve``): ``succeeded`` forgets it."""
        return rules.reserve(self.session, username=username, address=address,
                             rules=self.rules)

    def failed(self, username: str, address: str) -> None:
        rules.record_failure(self.session, username=username, address=address,
                             rules=self.rules)

    def succeeded(self, username: str, address: str) -> None:
        rules.clear_failures(self.session, username=username, address=address)


def throttle_of(request: Request) -> SignInThrottle:
    """The throttle of this request, on its database session."""
    session = getattr(request.state, "db_session", None)
    if not isinstance(session, Session):
        raise RuntimeError("throttle_of needs the request's DbSession dependency first")
    chosen: ThrottleRules | None = getattr(request.app.state, "throttle_rules", None)
    return SignInThrottle(session, chosen)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def wait_words(wait: int) -> str:
    minutes = max(1, math.ceil(wait / 60))
    return ngettext("Too many sign-in attempts. Please wait about {n} minute and try again.",
                    "Too many sign-in attempts. Please wait about {n} minutes and try again.",
                    minutes).format(n=minutes)


def refuse_if_throttled(request: Request, username: str) -> None:
    """429 with Retry-After when this account, or this address, was tried too often;
    otherwise a failure is counted before the password is checked (``reserve``): the
    caller forgets it when the password was right (``succeeded``)."""
    wait = throttle_of(request).reserve(username, client_address(request))
    if wait:
        raise HTTPException(status_code=429, detail=wait_words(wait),
                            headers={"Retry-After": str(wait)})

