"""Slowing down password guessing, with the failures kept in the database.

Two limits over a sliding window (``WINDOW``): a few failed sign-ins for one account from
one address (someone mistyping, or guessing one person's password), and more for one
address whatever the account (someone trying a password on every account). Keyed on the
address too, so that a person guessing cannot lock a colleague out from elsewhere. A
sign-in counts its failure before its password is checked (``reserve``) and forgets it
when the password was right.

The failures are rows of ``sign_in_failure``, so every server process, and a restarted
one, counts the same failures. Each function commits its own work: a failure must be
recorded even though the request that saw it ends in a refusal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, text
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


# PostgreSQL: the key of the transaction-scoped advisory lock that makes a throttle's
# check and its count one step for every process (on SQLite, the write lock does).
_CHECK_AND_COUNT = 0x5167_4E49  # "SgNI"


def reserve(session: Session, *, username: str, address: str,
            rules: ThrottleRules | None = None) -> int:
    """Before a password is checked: the wait (as ``wait_seconds``), and when there is
    none, a failure counted now, in the same step, and committed; the caller forgets it
    when the password was right (``clear_failures``).

    A password is checked with no transaction open (Argon2 takes a tenth of a second, and
    a writing transaction would hold every save of the process back: ``signin.sign_in``).
    Were the failure counted after the check, guesses sent at once would all find the
    count below the limit before any of them was counted: a review sent twelve at once,
    and twelve were checked instead of five."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHECK_AND_COUNT})
    wait = wait_seconds(session, username=username, address=address, rules=rules)
    if wait:
        session.rollback()
        return wait
    record_failure(session, username=username, address=address, rules=rules)
    return 0


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
