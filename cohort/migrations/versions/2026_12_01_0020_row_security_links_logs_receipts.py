"""row-level security on the REDCap links, the import batches, the receipts of entries
sent from phones and the export log

PostgreSQL only (``cohort.rls``, the policies of ``SECOND``): ``external_record`` through
its participant, ``import_batch`` and ``sync_receipt`` through the person who made them,
``export_log`` (read only) through the centres the export covered; the audit entries of a
REDCap link are visible when the link is. SQLite: nothing to do.

Revision ID: 0020
Revises: 0014
Create Date: 2026-12-01 23:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from cohort.rls import SECOND, drop_statements, install_policies

revision: str = '0020'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    install_policies(op.get_bind(), SECOND)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        for statement in drop_statements(SECOND):
            bind.exec_driver_sql(statement)
