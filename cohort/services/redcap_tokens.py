"""REDCap API tokens: made and revoked by data managers, stored as digests, audited.

A statistician's PyCap or REDCapR script keeps working when only the URL and the token
change, so the token has REDCap's shape: 32 upper-case hexadecimal characters (PyCap checks
the length, REDCapR matches ``^[0-9A-F]{32}$``). It carries 128 random bits, so a SHA-256
digest is enough to store it (nothing to guess from the digest; no slow hash needed, and
every API call looks it up). The token is returned once, to be handed to its owner; the
database keeps only the digest, who made it and when it was revoked.

A token opens exactly what its account's staff member may see: their role and centres come
from the staff row at each request (``context.actor_for``), so changing someone's centre
or disabling the account takes effect at once. An account has one live token at most:
making a new one revokes the old one, like REDCap's "regenerate token".
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from cohort.models import Account, RedcapToken, Staff, utcnow
from cohort.services import audit
from cohort.services.accounts import get_account_by_username
from cohort.services.context import Actor, finish

TOKEN_PATTERN = re.compile(r"^[0-9A-F]{32}$")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _revoke_live(session: Session, actor: Actor, account_id: int) -> int:
    now = utcnow()
    count = 0
    for token in session.exec(select(RedcapToken).where(
            RedcapToken.account_id == account_id, col(RedcapToken.revoked_at).is_(None))):
        token.revoked_at = now
        session.add(token)
        assert token.id is not None  # noqa: S101
        audit.record_changes(session, actor, "redcap_token", token.id,
                             {"revoked_at": (None, now)})
        count += 1
    return count


def new_redcap_token(session: Session, *, actor: Actor, username: str) -> str:
    """A new token for this account (data managers, or the local command line), revoking
    the one it had. Returned once: only its digest is kept."""
    account, _ = get_account_by_username(session, actor=actor, username=username)
    assert account.id is not None  # noqa: S101
    _revoke_live(session, actor, account.id)
    token = secrets.token_hex(16).upper()
    row = RedcapToken(account_id=account.id, token_digest=_digest(token), created_by=actor.audit_id)
    session.add(row)
    session.flush()
    audit.record_create(session, actor, row)
    finish(session)
    return token


def revoke_redcap_token(session: Session, *, actor: Actor, username: str) -> int:
    """Revoke the account's live token (audited); how many were revoked (0 or 1)."""
    account, _ = get_account_by_username(session, actor=actor, username=username)
    assert account.id is not None  # noqa: S101
    count = _revoke_live(session, actor, account.id)
    finish(session)
    return count


_BY_DIGEST = (
    select(RedcapToken, Account, Staff)
    .join(Account, col(Account.id) == RedcapToken.account_id)
    .join(Staff, col(Staff.id) == Account.staff_id)
    .where(col(RedcapToken.token_digest) == bindparam("digest"))
)


def signed_in_by_redcap_token(session: Session, token: str) -> tuple[Account, Staff] | None:
    """The active account and staff member of a live token, else None (one query).

    A token that does not have REDCap's shape is refused without a look-up."""
    if not TOKEN_PATTERN.match(token):
        return None
    row = session.exec(_BY_DIGEST, params={"digest": _digest(token)}).first()
    if row is None:
        return None
    found, account, staff = row
    if found.revoked_at is not None or not account.active or not staff.active:
        return None
    return account, staff


def live_token_dates(session: Session, account_ids: list[int]) -> dict[int, datetime]:
    """Account id -> when its live token was made (the Accounts page; no token shown)."""
    if not account_ids:
        return {}
    rows = session.exec(select(RedcapToken.account_id, RedcapToken.created_at).where(
        col(RedcapToken.account_id).in_(account_ids), col(RedcapToken.revoked_at).is_(None)))
    return dict(rows.all())
