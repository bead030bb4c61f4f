"""Demo accounts: one sign-in per role for trying the system on the synthetic cohort.

Idempotent and random: an existing demo username gets a fresh password, returned once so
the command line prints it; nothing else keeps it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlmodel import Session, col, select

from cohort.models import Account, Centre, Staff, StaffCentreAccess, StaffCreate, utcnow
from cohort.services.account_admin import create_account
from cohort.services.context import DEMO, finish
from cohort.services.setup import create_staff
from cohort.services.signin import end_page_sessions, hash_password, revoke_all
from cohort.vocab import Role


@dataclass(frozen=True)
class DemoAccount:
    """A demo sign-in, returned once so the command line can print it."""

    username: str
    password: str
    role: Role
    centre_code: str | None
    staff_id: int


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
            revoke_all(session, int(account.id or 0))
            end_page_sessions(session, DEMO, account)
            finish(session)
            staff = session.get(Staff, account.staff_id)
            assert staff is not None  # noqa: S101
        else:
            staff = _free_staff(session, role, centre)
            if staff is None:
                staff = create_staff(
                    session, actor=DEMO,
                    data=StaffCreate(
                        display_name=f"Demo {role.value.replace('_', ' ')}", role=role,
                        centre_id=centre.id if centre else None,
                        aerli_trained_on=utcnow().date() if role is Role.OUTREACH_WORKER
                        else None,
                    ),
                )
            assert staff.id is not None  # noqa: S101
            create_account(session, actor=DEMO, staff_id=staff.id, username=username,
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
