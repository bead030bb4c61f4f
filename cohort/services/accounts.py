"""Accounts, in three parts: signing in (:mod:`cohort.services.signin`), account
administration (:mod:`cohort.services.account_admin`) and demo accounts
(:mod:`cohort.services.demo_accounts`).

This module only gathers their names for the callers that use ``accounts.<name>``; nothing
of the three imports it.
"""

from __future__ import annotations

from cohort.services.account_admin import (
    MIN_PASSWORD_LENGTH,
    account_with_staff,
    centre_access,
    create_account,
    create_staff_account,
    get_account,
    get_account_by_username,
    list_accounts,
    set_active,
    set_password,
    update_account,
)
from cohort.services.demo_accounts import DemoAccount, create_demo_accounts
from cohort.services.signin import (
    DEFAULT_TOKEN_TTL,
    Person,
    account_for_token,
    authenticate,
    end_sign_ins_of_staff,
    hash_password,
    issue_token,
    revoke_token,
    sign_in,
    sign_out,
    signed_in_by_session,
    signed_in_by_token,
)

__all__ = [
    "DEFAULT_TOKEN_TTL", "MIN_PASSWORD_LENGTH", "DemoAccount", "Person", "account_for_token",
    "account_with_staff", "authenticate", "centre_access", "create_account",
    "create_demo_accounts", "create_staff_account", "end_sign_ins_of_staff", "get_account",
    "get_account_by_username", "hash_password", "issue_token", "list_accounts",
    "revoke_token", "set_active", "set_password", "sign_in", "sign_out",
    "signed_in_by_session", "signed_in_by_token", "update_account",
]
