"""deviation dedupe key unique among unresolved deviations only

A time-based deviation that was resolved because its condition cleared (the visit was
entered, a valid session logged, the person stopped follow-up) must be raisable again if
the condition comes back; the old table-wide UNIQUE on ``dedupe_key`` refused that. The key
stays unique among open and acknowledged deviations (a partial unique index), so
``cohort check`` remains idempotent, and a plain index keeps look-ups by key fast.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite reflects the initial schema's UNIQUE (dedupe_key) without a name; the naming
# convention gives it one so that batch mode can drop it. PostgreSQL named it itself.
_NAMING = {"uq": "%(table_name)s_%(column_0_name)s_key"}
_UNRESOLVED = sa.text("status != 'resolved'")


def upgrade() -> None:
    with op.batch_alter_table('deviation', schema=None, naming_convention=_NAMING) as batch_op:
        batch_op.drop_constraint('deviation_dedupe_key_key', type_='unique')
        batch_op.create_index('ix_deviation_dedupe_key', ['dedupe_key'], unique=False)
        batch_op.create_index('uq_deviation_dedupe_unresolved', ['dedupe_key'], unique=True,
                              sqlite_where=_UNRESOLVED, postgresql_where=_UNRESOLVED)


def downgrade() -> None:
    # Fails, as it should, if a key was raised again after being resolved: the old
    # constraint cannot hold that history.
    with op.batch_alter_table('deviation', schema=None, naming_convention=_NAMING) as batch_op:
        batch_op.drop_index('uq_deviation_dedupe_unresolved')
        batch_op.drop_index('ix_deviation_dedupe_key')
        batch_op.create_unique_constraint('deviation_dedupe_key_key', ['dedupe_key'])
