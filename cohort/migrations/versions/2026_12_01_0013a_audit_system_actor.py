"""Audit entries name the system actor that acted

``audit_entry.actor_system`` holds the name of the system actor (the command line, the
checks, the demo generator) for entries no person made; ``actor_id`` stays the staff member
for the others. Earlier entries with no staff member keep NULL: who made them was not
recorded, and history is never rewritten.

Revision ID: 0013a
Revises: 0013
Create Date: 2026-12-01 18:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0013a'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (no table copy): SQLite keeps the append-only triggers as they are.
    op.add_column('audit_entry', sa.Column(
        'actor_system', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))


def downgrade() -> None:
    op.drop_column('audit_entry', 'actor_system')  # SQLite 3.35+: in place, triggers kept
