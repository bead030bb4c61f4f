"""Account administration: giving staff a sign-in, resetting passwords, disabling accounts.

An account is the credential of one staff member; the role and the centres a person may
see come from the staff row (``context.actor_for``), never from the account, so changing
someone's centre needs no change here. Only data managers (or the local command line,
a system actor) administer accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from sqlmodel import Session, col, select

from cohort.errors import CohortError, NotFound
from cohort.messages import Message, msg
from cohort.models import Account, Centre, Staff, StaffCentreAccess, StaffCreate, utcnow
from cohort.passwords import MIN_LENGTH, check_password, context_words
from cohort.services import audit
from cohort.services.context import Actor, batch, finish, in_batch, require_role
from cohort.services.setup import centre_by_code, centre_ids_for, create_staff
from cohort.services.signin import end_page_sessions, hash_password, revoke_all
from cohort.vocab import Role
from forms.i18n import LANGUAGES
from forms.i18n import gettext as _

MIN_PASSWORD_LENGTH = MIN_LENGTH


def _admin_id(actor: Actor) -> Actor:
    """Administration is for data managers and system actors (the local command line, the
    demo generator), which are trusted like one. The actor is what the audit records."""
    if actor.system is None:
        require_role(actor, "admin")
    return actor


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


def create_account(
    session: Session, *, actor: Actor, staff_id: int, username: str, password: str
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


def _account(session: Session, account_id: int) -> Account:
    """The account with this id, or ``NotFound`` naming the id."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(msg("account.not_found", account_id=account_id))
    return account


def set_password(
    session: Session, *, actor: Actor, account_id: int, password: str
) -> Account:
    """Reset a password (admins) and revoke the account's tokens."""
    actor_id = _admin_id(actor)
    account = _account(session, account_id)
    _check_password(session, password, username=account.username,
                    staff=session.get(Staff, account.staff_id))
    account.password_hash = hash_password(password)
    session.add(account)
    revoke_all(session, account_id)
    audit.record_changes(session, actor_id, "account", account_id,
                         {"password": ("(set)", "(reset)")})
    end_page_sessions(session, actor_id, account)
    finish(session)
    return account


def set_active(
    session: Session, *, actor: Actor, account_id: int, active: bool
) -> Account:
    """Disable or re-enable a sign-in; disabling revokes its tokens at once."""
    actor_id = _admin_id(actor)
    account = _account(session, account_id)
    if not active and account.staff_id == actor_id.audit_id:
        raise CohortError(msg("account.cannot_disable_self"))
    old = account.active
    account.active = active
    session.add(account)
    audit.record_changes(session, actor_id, "account", account_id, {"active": (old, active)})
    if not active:
        revoke_all(session, account_id)
        end_page_sessions(session, actor_id, account)
    finish(session)
    return account


def update_account(
    session: Session, *, actor: Actor, account_id: int,
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


def list_accounts(session: Session, *, actor: Actor) -> list[tuple[Account, Staff]]:
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


def centre_access(session: Session, *, actor: Actor) -> dict[int, list[int]]:
    """Staff id -> the extra centres a research officer is limited to (admin page)."""
    _admin_id(actor)
    out: dict[int, list[int]] = {}
    for row in session.exec(select(StaffCentreAccess)).all():
        out.setdefault(row.staff_id, []).append(row.centre_id)
    return out


def _account_and_staff(session: Session, condition: Any, missing: Message) -> tuple[Account, Staff]:
    row = session.exec(
        select(Account, Staff).join(Staff, col(Staff.id) == Account.staff_id).where(condition)
    ).first()
    if row is None:
        raise NotFound(missing)
    return row[0], row[1]


def get_account_by_username(session: Session, *, actor: Actor, username: str
                            ) -> tuple[Account, Staff]:
    """An account and its staff member by sign-in name (admins, the command line)."""
    _admin_id(actor)
    return _account_and_staff(
        session, Account.username == username.strip().lower(),
        msg("account.unknown_username", username=username))


def account_with_staff(session: Session, *, actor: Actor, account_id: int
                       ) -> tuple[Account, Staff]:
    """An account and its staff member, for data managers (what the accounts list shows)."""
    _admin_id(actor)
    return _account_and_staff(session, Account.id == account_id,
                              msg("account.not_found", account_id=account_id))


def get_account(session: Session, *, actor: Actor, account_id: int) -> Account:
    _admin_id(actor)
    account = _account(session, account_id)
    return account


def create_staff_account(
    session: Session,
    *,
    actor: Actor,
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
    session: Session, actor: Actor, data: StaffCreate, username: str, password: str,
    extra_centre_ids: list[int] | None = None,
) -> Account:
    staff = create_staff(session, actor=actor, data=data, extra_centre_ids=extra_centre_ids)
    assert staff.id is not None  # noqa: S101
    return create_account(session, actor=actor, staff_id=staff.id, username=username,
                          password=password)


def set_language(
    session: Session, *, actor: Actor, account_id: int, language: str | None
) -> Account:
    """The language of a person's pages: ``fr``, ``en``, or None for "as my browser asks"
    (``Accept-Language``). Each person chooses their own; data managers (and the local
    command line) may set anyone's. Audited like every other change to an account.

    ``language`` must be one the system speaks (``forms.i18n.LANGUAGES``) or None: the
    page offers only those, so anything else is a caller's mistake (ValueError)."""
    if language is not None and language not in LANGUAGES:
        raise ValueError(_("unknown language {language}; expected one of {choices}").format(
            language=repr(language), choices=", ".join(LANGUAGES)))
    account = _account(session, account_id)
    if actor.system is None and account.staff_id != actor.staff_id:
        require_role(actor, "admin")
    old = account.language
    if old == language:
        return account
    account.language = language
    session.add(account)
    audit.record_changes(session, actor, "account", account_id, {"language": (old, language)})
    finish(session)
    return account
