"""sync_receipt: entries sent from phones that were offline, applied once

Revision ID: 0015
Revises: 0017
Create Date: 2026-12-01 17:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import cohort.models

revision: str = '0015'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sync_receipt',
    sa.Column('entry_uuid', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('participant_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('result', cohort.models.JSONType, nullable=False),
    sa.Column('made_at', cohort.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('received_at', cohort.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('entry_uuid')
    )
    with op.batch_alter_table('sync_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_receipt_staff_id'), ['staff_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sync_receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_receipt_staff_id'))
    op.drop_table('sync_receipt')
