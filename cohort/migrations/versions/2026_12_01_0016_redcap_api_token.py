"""REDCap API tokens

``redcap_token`` holds the SHA-256 digest of each account's REDCap API token (32
upper-case hexadecimal characters, as PyCap and REDCapR expect), who made it and when it
was revoked; the token itself is shown once and never stored.

Revision ID: 0016
Revises: 0003
Create Date: 2026-12-10 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import cohort.models

revision: str = '0016'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('redcap_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('token_digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', cohort.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('revoked_at', cohort.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('redcap_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redcap_token_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_redcap_token_token_digest'), ['token_digest'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('redcap_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_redcap_token_token_digest'))
        batch_op.drop_index(batch_op.f('ix_redcap_token_account_id'))

    op.drop_table('redcap_token')
