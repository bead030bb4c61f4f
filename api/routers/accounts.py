"""Sign-in accounts (data managers)."""

from __future__ import annotations

from api.deps import CurrentUser, DbSession
from api.inputs import api_router
from api.schemas import AccountIn, AccountOut, AccountPatch
from cohort.models import Account, Staff
from cohort.services import accounts

router = api_router(prefix="/accounts", tags=["accounts"])


def account_out(account: Account, staff: Staff) -> AccountOut:
    return AccountOut(id=account.id or 0, username=account.username, staff_id=account.staff_id,
                      role=staff.role, centre_id=staff.centre_id, active=account.active,
                      last_sign_in_at=account.last_sign_in_at)


@router.get("", response_model=list[AccountOut])
def list_accounts(user: CurrentUser, session: DbSession) -> list[AccountOut]:
    return [account_out(a, s) for a, s in accounts.list_accounts(session, actor=user.actor)]


@router.post("", response_model=AccountOut, status_code=201)
def create_account(body: AccountIn, user: CurrentUser, session: DbSession) -> AccountOut:
    """Give an existing staff member a sign-in (Argon2-hashed password)."""
    account = accounts.create_account(session, actor=user.actor, staff_id=body.staff_id,
                                      username=body.username, password=body.password)
    return account_out(*accounts.account_with_staff(session, actor=user.actor,
                                                    account_id=account.id or 0))


@router.patch("/{account_id}", response_model=AccountOut)
def update_account(account_id: int, body: AccountPatch, user: CurrentUser,
                   session: DbSession) -> AccountOut:
    """Disable / re-enable an account or reset its password (revokes its tokens)."""
    accounts.update_account(session, actor=user.actor, account_id=account_id,
                            password=body.password, active=body.active)
    return account_out(*accounts.account_with_staff(session, actor=user.actor,
                                                    account_id=account_id))
