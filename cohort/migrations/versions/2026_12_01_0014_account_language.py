"""Accounts keep the language their person chose

``account.language`` ("fr", "en") is set on the account page; NULL (every account so far)
means the browser's Accept-Language, else COHORT_DEFAULT_LANGUAGE.

Revision ID: 0014
Revises: 0013a
Create Date: 2026-12-01 20:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('account', sa.Column(
        'language', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))


def downgrade() -> None:
    op.drop_column('account', 'language')
