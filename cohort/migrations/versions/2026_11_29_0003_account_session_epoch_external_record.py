"""account session epoch and external record ids

``account.session_epoch`` is carried in each page-session cookie: raising it on sign-out,
a new password or a disabled account ends every session signed before. ``external_record``
keeps which participant a REDCap ``record_id`` became, so a fresh export of the same
project imports again without enrolling anyone twice.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 18:42:44.311661
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import cohort.models

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('external_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', cohort.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'external_id', name='uq_external_record_source_id')
    )
    with op.batch_alter_table('external_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_external_record_participant_id'), ['participant_id'], unique=False)

    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')

    with op.batch_alter_table('external_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_external_record_participant_id'))

    op.drop_table('external_record')
