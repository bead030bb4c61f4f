"""Sign-in accounts: Argon2 password hashes, bearer tokens stored as digests, demo accounts.

An account is the credential of one staff member; the role and the centres a person may
see come from the staff row (``context.actor_for``), never from the account, so changing
someone's centre needs no change here. Only the SHA-256 digest of a bearer token is stored:
a copy of the database does not let anyone sign in.

Page sessions are signed cookies kept by the browser, so the server cannot delete them.
Each carries the account's ``session_epoch`` from the moment of sign-in; raising the epoch
(sign-out, new password, account or staff member disabled) makes every cookie issued
before it worthless, wherever it was copied to.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from cohort.errors import CohortError, NotFound
from cohort.messages import Message, msg
from cohort.models import (
    Account,
    ApiToken,
    Centre,
    Staff,
    StaffCentreAccess,
    StaffCreate,
    utcnow,
)
from cohort.passwords import MIN_LENGTH, check_password, context_words
from cohort.services import audit
from cohort.services.context import Actor, batch, finish, in_batch, require_role
from cohort.services.setup import centre_by_code, centre_ids_for, create_staff
from cohort.vocab import Role

MIN_PASSWORD_LENGTH = MIN_LENGTH
DEFAULT_TOKEN_TTL = timedelta(hours=12)

_hasher = PasswordHasher()
# Verifying against a real hash when the username is unknown keeps the answer time the
# same, so response times do not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-only-for-timing")


@dataclass(frozen=True)
class DemoAccount:
    """A demo sign-in, returned once so the command line can print it."""

    username: str
    password: str
    role: Role
    centre_code: str | None
    staff_id: int


def _admin_id(actor: Actor | None) -> int | None:
    """``None`` is the local command line, trusted like a data manager."""
    if actor is None:
        return None
    require_role(actor, "admin")
    return actor.staff_id


def _check_password(session: Session, password: str, *, username: str,
                    staff: Staff | None = None, centre_code: str | None = None,
                    display_name: str | None = None) -> None:
    """NIST SP 800-63B's checks (``cohort.passwords``), with the person's username, name
    and centre and the study's words as the context a guesser would try first."""
    centre = None
    if staff is not None:
        display_name = display_name or staff.display_name
        centre = session.get(Centre, staff.centre_id) if staff.centre_id else None
    elif centre_code:
        centre = session.exec(select(Centre).where(
            Centre.code == centre_code.strip().upper())).first()
    check_password(password, context=context_words(
        username, display_name, centre_code, centre.code if centre else None,
        centre.name if centre else None, centre.city if centre else None))


def _clean_username(username: str) -> str:
    name = username.strip().lower()
    if not name or len(name) > 80 or not all(c.isalnum() or c in "._-" for c in name):
        raise CohortError(
            msg("account.bad_username", username=username)
        )
    return name


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_account(
    session: Session, *, actor: Actor | None, staff_id: int, username: str, password: str
) -> Account:
    """Give a staff member a sign-in. Only admins (or the local command line) may."""
    actor_id = _admin_id(actor)
    name = _clean_username(username)
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(msg("staff.not_found", staff_id=staff_id))
    _check_password(session, password, username=name, staff=staff)
    if session.exec(select(Account.id).where(Account.username == name)).first() is not None:
        raise CohortError(msg("account.username_taken", name=name))
    if session.exec(select(Account.id).where(Account.staff_id == staff_id)).first() is not None:
        raise CohortError(msg("account.exists", name=staff.display_name))
    account = Account(username=name, password_hash=hash_password(password), staff_id=staff_id)
    session.add(account)
    session.flush()
    assert account.id is not None  # noqa: S101
    audit.record_changes(session, actor_id, "account", account.id,
                         {"username": (None, name), "staff_id": (None, staff_id)})
    finish(session)
    return account


def set_password(
    session: Session, *, actor: Actor | None, account_id: int, password: str
) -> Account:
    """Reset a password (admins) and revoke the account's tokens."""
    actor_id = _admin_id(actor)
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(msg("account.not_found", account_id=account_id))
    _check_password(session, password, username=account.username,
                    staff=session.get(Staff, account.staff_id))
    account.password_hash = hash_password(password)
    session.add(account)
    _revoke_all(session, account_id)
    audit.record_changes(session, actor_id, "account", account_id,
                         {"password": ("(set)", "(reset)")})
    _end_page_sessions(session, actor_id, account)
    finish(session)
    return account


def set_active(
    session: Session, *, actor: Actor | None, account_id: int, active: bool
) -> Account:
    """Disable or re-enable a sign-in; disabling revokes its tokens at once."""
    actor_id = _admin_id(actor)
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(msg("account.not_found", account_id=account_id))
    if not active and actor_id is not None and account.staff_id == actor_id:
        raise CohortError(msg("account.cannot_disable_self"))
    old = account.active
    account.active = active
    session.add(account)
    audit.record_changes(session, actor_id, "account", account_id, {"active": (old, active)})
    if not active:
        _revoke_all(session, account_id)
        _end_page_sessions(session, actor_id, account)
    finish(session)
    return account


def sign_out(session: Session, *, account_id: int) -> None:
    """End every page session of this account (the cookie signed out and any copy of it).

    A signed cookie cannot be recalled, so signing out raises the account's epoch: every
    cookie signed before, on this device or another, is refused from now on. Bearer tokens
    are signed out on their own (``revoke_token``).
    """
    account = session.get(Account, account_id)
    if account is None:
        return
    _end_page_sessions(session, account.staff_id, account)
    finish(session)


def end_sign_ins_of_staff(session: Session, *, actor_id: int | None, staff_id: int) -> None:
    """A staff member left the team: revoke their tokens and end their page sessions, so
    that making them active again does not bring old sign-ins back. The caller commits."""
    account = session.exec(select(Account).where(Account.staff_id == staff_id)).first()
    if account is None or account.id is None:
        return
    _revoke_all(session, account.id)
    _end_page_sessions(session, actor_id, account)


def _end_page_sessions(session: Session, actor_id: int | None, account: Account) -> None:
    """Raise the account's session epoch (audited); the caller commits."""
    assert account.id is not None  # noqa: S101
    old = account.session_epoch
    account.session_epoch = old + 1
    session.add(account)
    audit.record_changes(session, actor_id, "account", account.id,
                         {"session_epoch": (old, account.session_epoch)})


def update_account(
    session: Session, *, actor: Actor | None, account_id: int,
    password: str | None = None, active: bool | None = None,
) -> Account:
    """Reset the password and/or disable or re-enable an account, in one commit: either
    every requested change is made or none (a refused change leaves the other undone)."""
    account = get_account(session, actor=actor, account_id=account_id)
    if password is None and active is None:
        return account
    with batch(session) if not in_batch(session) else nullcontext():
        if password is not None:
            account = set_password(session, actor=actor, account_id=account_id,
                                   password=password)
        if active is not None:
            account = set_active(session, actor=actor, account_id=account_id, active=active)
    return account


def _revoke_all(session: Session, account_id: int) -> None:
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
    try:
        if account is None:
            _hasher.verify(_DUMMY_HASH, password)
            return None
        _hasher.verify(account.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    staff = session.get(Staff, account.staff_id)
    if not account.active or staff is None or not staff.active:
        return None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    account.last_sign_in_at = utcnow()
    session.add(account)
    finish(session)
    return account, staff


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


# Built once: these run on every request, and composing a SELECT costs more than running it.
_BY_TOKEN = (
    select(ApiToken, Account, Staff)
    .join(Account, col(Account.id) == ApiToken.account_id)
    .join(Staff, col(Staff.id) == Account.staff_id)
    .where(col(ApiToken.token_digest) == bindparam("digest"))
)
_BY_ACCOUNT = (
    select(Account, Staff)
    .join(Staff, col(Staff.id) == Account.staff_id)
    .where(col(Account.id) == bindparam("account_id"))
)


def signed_in_by_token(session: Session, token: str) -> tuple[Account, Staff] | None:
    """The active account and active staff member of an unexpired, unrevoked token, in one
    query (it runs on every API request), else None."""
    row = session.exec(_BY_TOKEN, params={"digest": _digest(token)}).first()
    if row is None:
        return None
    api_token, account, staff = row
    if (api_token.revoked or api_token.expires_at <= utcnow() or not account.active
            or not staff.active):
        return None
    return account, staff


def signed_in_by_session(
    session: Session, account_id: int, epoch: int
) -> tuple[Account, Staff] | None:
    """The active account and staff member of a page session cookie, in one query, or None
    when the cookie was signed before the account's last sign-out, password reset or
    disabling (its epoch is no longer the account's)."""
    row = session.exec(_BY_ACCOUNT, params={"account_id": account_id}).first()
    if row is None:
        return None
    account, staff = row
    if account.session_epoch != epoch or not account.active or not staff.active:
        return None
    return account, staff


def revoke_token(session: Session, token: str) -> None:
    """Sign a token out (idempotent)."""
    api_token = session.exec(
        select(ApiToken).where(ApiToken.token_digest == _digest(token))
    ).first()
    if api_token is not None and not api_token.revoked:
        api_token.revoked = True
        session.add(api_token)
        finish(session)


def list_accounts(session: Session, *, actor: Actor | None) -> list[tuple[Account, Staff]]:
    """Every account with its staff member (admins only)."""
    _admin_id(actor)
    return [
        (account, staff)
        for account, staff in session.exec(
            select(Account, Staff)
            .join(Staff, col(Staff.id) == Account.staff_id)
            .order_by(col(Account.username))
        ).all()
    ]


def centre_access(session: Session, *, actor: Actor | None) -> dict[int, list[int]]:
    """Staff id -> the extra centres a research officer is limited to (admin page)."""
    _admin_id(actor)
    out: dict[int, list[int]] = {}
    for row in session.exec(select(StaffCentreAccess)).all():
        out.setdefault(row.staff_id, []).append(row.centre_id)
    return out


def _account_and_staff(session: Session, condition: Any, missing: Message
                       ) -> tuple[Account, Staff]:
    row = session.exec(
        select(Account, Staff).join(Staff, col(Staff.id) == Account.staff_id).where(condition)
    ).first()
    if row is None:
        raise NotFound(missing)
    return row[0], row[1]


def get_account_by_username(session: Session, *, actor: Actor | None, username: str
                            ) -> tuple[Account, Staff]:
    """An account and its staff member by sign-in name (admins, the command line)."""
    _admin_id(actor)
    return _account_and_staff(
        session, Account.username == username.strip().lower(),
        msg("account.unknown_username", username=username))


def account_with_staff(session: Session, *, actor: Actor | None, account_id: int
                       ) -> tuple[Account, Staff]:
    """An account and its staff member, for data managers (what the accounts list shows)."""
    _admin_id(actor)
    return _account_and_staff(session, Account.id == account_id,
                              msg("account.not_found", account_id=account_id))


def get_account(session: Session, *, actor: Actor | None, account_id: int) -> Account:
    _admin_id(actor)
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(msg("account.not_found", account_id=account_id))
    return account


def create_staff_account(
    session: Session,
    *,
    actor: Actor | None,
    username: str,
    password: str,
    role: Role,
    centre_code: str | None = None,
    display_name: str | None = None,
    aerli_trained: bool = False,
    limit_to: Sequence[str] = (),
) -> Account:
    """Create a staff member and their account together (``cohort user add``, admin page).

    Outreach workers need a centre; national staff have none. A research officer given a
    centre, or a list of centres in ``limit_to``, sees only those centres.
    """
    _admin_id(actor)
    name = _clean_username(username)
    _check_password(session, password, username=name, centre_code=centre_code,
                    display_name=display_name)
    if session.exec(select(Account.id).where(Account.username == name)).first() is not None:
        raise CohortError(msg("account.username_taken", name=name))
    centre_id = centre_by_code(session, centre_code).id if centre_code else None
    extra_ids = sorted(set(centre_ids_for(session, actor=actor, codes=limit_to)) - {centre_id})
    data = StaffCreate(display_name=display_name or name, role=role, centre_id=centre_id,
                       aerli_trained_on=utcnow().date() if aerli_trained else None)
    if in_batch(session):
        return _staff_and_account(session, actor, data, name, password, extra_ids)
    with batch(session):  # both rows, or neither
        return _staff_and_account(session, actor, data, name, password, extra_ids)


def _staff_and_account(
    session: Session, actor: Actor | None, data: StaffCreate, username: str, password: str,
    extra_centre_ids: list[int] | None = None,
) -> Account:
    staff = create_staff(session, actor=actor, data=data, extra_centre_ids=extra_centre_ids)
    assert staff.id is not None  # noqa: S101
    return create_account(session, actor=actor, staff_id=staff.id, username=username,
                          password=password)


def _demo_password() -> str:
    return "-".join(secrets.token_urlsafe(6) for _ in range(3))


def create_demo_accounts(session: Session) -> list[DemoAccount]:
    """One admin, one national research officer, one statistician, and an outreach worker
    for each of the first two centres, bound to existing staff where there is one.

    Idempotent: an existing demo username gets a fresh password. Passwords are random and
    only returned, so the caller prints them once.
    """
    centres = list(session.exec(select(Centre).order_by(col(Centre.code)).limit(2)).all())
    wanted: list[tuple[str, Role, Centre | None]] = [
        ("admin", Role.ADMIN, None),
        ("officer", Role.RESEARCH_OFFICER, None),
        ("statistician", Role.STATISTICIAN, None),
    ]
    wanted += [(f"worker.{c.code.lower()}", Role.OUTREACH_WORKER, c) for c in centres]
    out: list[DemoAccount] = []
    for username, role, centre in wanted:
        password = _demo_password()
        account = session.exec(select(Account).where(Account.username == username)).first()
        if account is not None:
            account.password_hash = hash_password(password)
            account.active = True
            session.add(account)
            _revoke_all(session, int(account.id or 0))
            _end_page_sessions(session, None, account)
            finish(session)
            staff = session.get(Staff, account.staff_id)
            assert staff is not None  # noqa: S101
        else:
            staff = _free_staff(session, role, centre)
            if staff is None:
                staff = create_staff(
                    session, actor=None,
                    data=StaffCreate(
                        display_name=f"Demo {role.value.replace('_', ' ')}", role=role,
                        centre_id=centre.id if centre else None,
                        aerli_trained_on=utcnow().date() if role is Role.OUTREACH_WORKER
                        else None,
                    ),
                )
            assert staff.id is not None  # noqa: S101
            create_account(session, actor=None, staff_id=staff.id, username=username,
                           password=password)
        assert staff.id is not None  # noqa: S101
        out.append(DemoAccount(username, password, role, centre.code if centre else None,
                               staff.id))
    return out


def _free_staff(session: Session, role: Role, centre: Centre | None) -> Staff | None:
    """An active staff member of this role (and centre; national for others) without an
    account yet."""
    has_account = select(Account.staff_id)
    statement = select(Staff).where(
        Staff.role == role,
        col(Staff.active).is_(True),
        col(Staff.id).not_in(has_account),
    )
    if centre is not None:
        statement = statement.where(Staff.centre_id == centre.id)
    elif role is Role.RESEARCH_OFFICER:
        # A national officer: no home centre and no extra-centre list.
        statement = statement.where(
            col(Staff.centre_id).is_(None),
            col(Staff.id).not_in(select(StaffCentreAccess.staff_id)),
        )
    return session.exec(statement.order_by(col(Staff.id))).first()
