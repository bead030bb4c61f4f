"""an index on each participant's centre and date of inclusion

After a save the retention figures count again the participants of one centre included
in one month (``retention_recount.count_cells``); with the centre's index alone the
database read every participant of the centre (500 in the benchmark's cohort, thousands in
a national one) to keep the month's few dozen: 0.34 ms against 0.11 ms on SQLite, on
every retention page after a save.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 14:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_participant_centre_inclusion', 'participant',
                    ['centre_id', 'inclusion_date'])


def downgrade() -> None:
    op.drop_index('ix_participant_centre_inclusion', table_name='participant')
