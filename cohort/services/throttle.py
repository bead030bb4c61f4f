"""Slowing down password guessing, with the failures kept in the database.

Two limits over a sliding window (``WINDOW``): a few failed sign-ins for one account from
one address (someone mistyping, or guessing one person's password), and more for one
address whatever the account (someone trying a password on every account). Keyed on the
address too, so that a person guessing cannot lock a colleague out from elsewhere.

The failures are rows of ``sign_in_failure``, so every server process, and a restarted
one, counts the same failures. Each function commits its own work: a failure must be
recorded even though the request that saw it ends in a refusal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from cohort.models import SignInFailure, utcnow

MAX_FAILURES = 5
MAX_ADDRESS_FAILURES = 30
WINDOW = timedelta(minutes=15)


def _name(username: str) -> str:
    return username.strip().lower()[:200]


def _address(address: str) -> str:
    return address[:64]


@dataclass(frozen=True)
class ThrottleRules:
    """The limits; tests and a deployment may choose others."""

    max_failures: int = MAX_FAILURES
    max_address_failures: int = MAX_ADDRESS_FAILURES
    window: timedelta = WINDOW
    clock: Callable[[], datetime] = field(default=utcnow)


def wait_seconds(session: Session, *, username: str, address: str,
                 rules: ThrottleRules | None = None) -> int:
    """0 when a sign-in may be tried now, else how many seconds to wait."""
    rules = rules or ThrottleRules()
    now = rules.clock()
    since = now - rules.window
    from_address = select(SignInFailure.at).where(
        SignInFailure.address == _address(address), col(SignInFailure.at) > since)
    waits = [0]
    for query, limit in (
        (from_address.where(SignInFailure.username == _name(username)), rules.max_failures),
        (from_address, rules.max_address_failures),
    ):
        # The failure that must leave the window before one more try is allowed.
        oldest = session.exec(query.order_by(col(SignInFailure.at).desc())
                              .offset(limit - 1).limit(1)).first()
        if oldest is not None:
            waits.append(max(1, math.ceil((oldest + rules.window - now).total_seconds())))
    return max(waits)


def record_failure(session: Session, *, username: str, address: str,
                   rules: ThrottleRules | None = None) -> None:
    """Count a failed sign-in (and forget failures older than the window)."""
    rules = rules or ThrottleRules()
    now = rules.clock()
    session.exec(delete(SignInFailure).where(col(SignInFailure.at) <= now - rules.window))
    session.add(SignInFailure(username=_name(username), address=_address(address), at=now))
    session.commit()


def clear_failures(session: Session, *, username: str, address: str) -> None:
    """A successful sign-in forgets that account's failures from that address."""
    session.exec(delete(SignInFailure).where(
        col(SignInFailure.username) == _name(username),
        col(SignInFailure.address) == _address(address)))
    session.commit()
