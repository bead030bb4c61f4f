"""background jobs, shared values, row-level security, the job queue

``job`` and ``job_file`` hold long work asked from the web (large imports, exports, the
analysis report) with its progress and files; ``shared_value`` holds what every server
process must see alike (annotated copies waiting for download, the cached retention
summary). On PostgreSQL: the row-level security policies (``cohort.rls``) and the job
queue's tables in their own ``procrastinate`` schema (``cohort.queue_schema``).

Revision ID: 0017
Revises: 0011
Create Date: 2026-12-08 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import cohort.models
from cohort.queue_schema import drop_queue_schema, install_queue_schema
from cohort.rls import FIRST, drop_statements, install_policies

revision: str = '0017'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('job',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('params', cohort.models.JSONType, nullable=False),
    sa.Column('created_at', cohort.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', cohort.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', cohort.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('progress_done', sa.Integer(), nullable=False),
    sa.Column('progress_total', sa.Integer(), nullable=False),
    sa.Column('progress_note', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('result', cohort.models.JSONType, nullable=True),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('runner', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('heartbeat_at', cohort.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['actor_id'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_status'), ['status'], unique=False)

    op.create_table('job_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('media_type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('part', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id', 'role', 'name', 'part', name='uq_job_file_part')
    )
    with op.batch_alter_table('job_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_file_job_id'), ['job_id'], unique=False)

    op.create_table('shared_value',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('value', sa.LargeBinary(), nullable=False),
    sa.Column('expires_at', cohort.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('shared_value', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shared_value_expires_at'), ['expires_at'], unique=False)

    bind = op.get_bind()
    install_policies(bind, FIRST)  # not the later ones: sync_receipt comes with 0015
    install_queue_schema(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        drop_queue_schema(bind)
        for statement in drop_statements(FIRST):
            bind.exec_driver_sql(statement)
    with op.batch_alter_table('shared_value', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shared_value_expires_at'))
    op.drop_table('shared_value')
    with op.batch_alter_table('job_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_file_job_id'))
    op.drop_table('job_file')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_status'))
        batch_op.drop_index(batch_op.f('ix_job_actor_id'))
        batch_op.drop_index(batch_op.f('ix_job_account_id'))
    op.drop_table('job')
