"""Signing in: Argon2 password hashes, bearer tokens stored as digests, page-session epochs.

Only the SHA-256 digest of a bearer token is stored: a copy of the database does not let
anyone sign in. Page sessions are signed cookies kept by the browser, so the server cannot
delete them. Each carries the account's ``session_epoch`` from the moment of sign-in;
raising the epoch (sign-out, new password, account or staff member disabled) makes every
cookie issued before it worthless, wherever it was copied to.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from cohort.models import Account, ApiToken, Staff, StaffCentreAccess, utcnow
from cohort.services import audit
from cohort.services.context import Actor, actor_of, finish, in_batch

DEFAULT_TOKEN_TTL = timedelta(hours=12)

_hasher = PasswordHasher()
# Verifying against a real hash when the username is unknown keeps the answer time the
# same, so response times do not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-only-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def sign_out(session: Session, *, account_id: int) -> None:
    """End every page session of this account (the cookie signed out and any copy of it).

    A signed cookie cannot be recalled, so signing out raises the account's epoch: every
    cookie signed before, on this device or another, is refused from now on. Bearer tokens
    are signed out on their own (``revoke_token``).
    """
    account = session.get(Account, account_id)
    if account is None:
        return
    end_page_sessions(session, account.staff_id, account)
    finish(session)


def end_sign_ins_of_staff(session: Session, *, actor_id: audit.Who, staff_id: int) -> None:
    """A staff member left the team: revoke their tokens and end their page sessions, so
    that making them active again does not bring old sign-ins back. The caller commits."""
    account = session.exec(select(Account).where(Account.staff_id == staff_id)).first()
    if account is None or account.id is None:
        return
    revoke_all(session, account.id)
    end_page_sessions(session, actor_id, account)


def end_page_sessions(session: Session, actor_id: audit.Who, account: Account) -> None:
    """Raise the account's session epoch (audited); the caller commits."""
    assert account.id is not None  # noqa: S101
    old = account.session_epoch
    account.session_epoch = old + 1
    session.add(account)
    audit.record_changes(session, actor_id, "account", account.id,
                         {"session_epoch": (old, account.session_epoch)})


def revoke_all(session: Session, account_id: int) -> None:
    for token in session.exec(
        select(ApiToken).where(ApiToken.account_id == account_id, col(ApiToken.revoked).is_(False))
    ):
        token.revoked = True
        session.add(token)


def authenticate(session: Session, *, username: str, password: str) -> Account | None:
    """The active account these credentials open, or None (same answer for every failure)."""
    found = sign_in(session, username=username, password=password)
    return found[0] if found else None


def sign_in(session: Session, *, username: str, password: str) -> tuple[Account, Staff] | None:
    """The active account these credentials open and its staff member, or None (the same
    answer for every failure). Records the time of sign-in."""
    account = session.exec(
        select(Account).where(Account.username == username.strip().lower())
    ).first()
    known = (account.id, account.password_hash) if account is not None else None
    if not in_batch(session):
        # The password is checked with no transaction open: on SQLite a writing request's
        # transaction holds the database's write lock, and its process's writer turn
        # (``api.deps``), and Argon2 takes a tenth of a second: every save of the process
        # waited behind each sign-in. Nothing is pending here (the throttle committed its
        # count before: ``throttle.reserve``).
        session.commit()
    # An unknown username is checked against a real hash too: the same time for both.
    if not _opens(known[1] if known else _DUMMY_HASH, password) or known is None:
        return None
    # Read again in the transaction that records the sign-in: a password changed, or an
    # account or staff member disabled, while the password was checked is seen.
    account = session.get(Account, known[0], populate_existing=True)
    if account is None:
        return None
    # Changed meanwhile: a new password (this one only if it is the new one), or the same
    # one hashed again by a sign-in at the same time (new parameters, new salt).
    if account.password_hash != known[1] and not _opens(account.password_hash, password):
        return None
    staff = session.get(Staff, account.staff_id, populate_existing=True)
    if not account.active or staff is None or not staff.active:
        return None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    account.last_sign_in_at = utcnow()
    session.add(account)
    finish(session)
    return account, staff


def _opens(stored: str, password: str) -> bool:
    """Whether ``password`` is the one ``stored`` was hashed from."""
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return True


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, *, account: Account, ttl: timedelta = DEFAULT_TOKEN_TTL) -> str:
    """A new bearer token; the caller sees it once, the database keeps its digest."""
    assert account.id is not None  # noqa: S101
    token = secrets.token_urlsafe(32)
    session.add(
        ApiToken(account_id=account.id, token_digest=_digest(token), expires_at=utcnow() + ttl)
    )
    finish(session)
    return token


def account_for_token(session: Session, token: str) -> Account | None:
    """The active account of an unexpired, unrevoked token, else None."""
    found = signed_in_by_token(session, token)
    return found[0] if found else None


class Person(NamedTuple):
    """Who signed in: their account, their staff row and what they may reach."""

    account: Account
    staff: Staff
    actor: Actor


# Built once: these run on every request, and composing a SELECT costs more than running it.
# Each reads the account, the staff member and an officer's extra centres (one row per
# centre, or one with none), so that a request needs one statement to know who asks.
_BY_TOKEN = (
    select(ApiToken, Account, Staff, StaffCentreAccess.centre_id)
    .join(Account, col(Account.id) == ApiToken.account_id)
    .join(Staff, col(Staff.id) == Account.staff_id)
    .outerjoin(StaffCentreAccess, col(StaffCentreAccess.staff_id) == Staff.id)
    .where(col(ApiToken.token_digest) == bindparam("digest"))
)
_BY_ACCOUNT = (
    select(Account, Staff, StaffCentreAccess.centre_id)
    .join(Staff, col(Staff.id) == Account.staff_id)
    .outerjoin(StaffCentreAccess, col(StaffCentreAccess.staff_id) == Staff.id)
    .where(col(Account.id) == bindparam("account_id"))
)


def signed_in_by_token(session: Session, token: str) -> Person | None:
    """The active account and active staff member of an unexpired, unrevoked token, in one
    query (it runs on every API request), else None."""
    rows = session.exec(_BY_TOKEN, params={"digest": _digest(token)}).all()
    if not rows:
        return None
    api_token, account, staff, _ = rows[0]
    if (api_token.revoked or api_token.expires_at <= utcnow() or not account.active
            or not staff.active):
        return None
    return Person(account, staff, actor_of(staff, _extra(rows)))


def signed_in_by_session(session: Session, account_id: int, epoch: int) -> Person | None:
    """The active account and staff member of a page session cookie, in one query, or None
    when the cookie was signed before the account's last sign-out, password reset or
    disabling (its epoch is no longer the account's)."""
    rows = session.exec(_BY_ACCOUNT, params={"account_id": account_id}).all()
    if not rows:
        return None
    account, staff, _ = rows[0]
    if account.session_epoch != epoch or not account.active or not staff.active:
        return None
    return Person(account, staff, actor_of(staff, _extra(rows)))


def _extra(rows: Sequence[Any]) -> list[int]:
    return [row[-1] for row in rows if row[-1] is not None]


def revoke_token(session: Session, token: str) -> None:
    """Sign a token out (idempotent)."""
    api_token = session.exec(
        select(ApiToken).where(ApiToken.token_digest == _digest(token))
    ).first()
    if api_token is not None and not api_token.revoked:
        api_token.revoked = True
        session.add(api_token)
        finish(session)
