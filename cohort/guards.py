"""Database triggers that keep history unrewritable, whatever client connects.

The services never update or delete audit entries and never delete participants, but a
database that is shared for years will see ad-hoc SQL too; these triggers make the rule
hold at the storage level. The alembic migration installs the same statements.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

SQLITE_GUARDS = [
    """CREATE TRIGGER IF NOT EXISTS audit_entry_no_update BEFORE UPDATE ON audit_entry
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_entry_no_delete BEFORE DELETE ON audit_entry
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS participant_no_delete BEFORE DELETE ON participant
       BEGIN SELECT RAISE(ABORT, 'participants are never deleted; record a status'); END""",
    """CREATE TRIGGER IF NOT EXISTS status_change_no_delete BEFORE DELETE ON status_change
       BEGIN SELECT RAISE(ABORT, 'status history is never rewritten'); END""",
]

POSTGRES_GUARDS = [
    """CREATE OR REPLACE FUNCTION cohort_refuse_rewrite() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION '% on % refused: history is never rewritten', TG_OP, TG_TABLE_NAME;
       END; $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry",
    """CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry
       FOR EACH ROW EXECUTE FUNCTION cohort_refuse_rewrite()""",
    "DROP TRIGGER IF EXISTS participant_no_delete ON participant",
    """CREATE TRIGGER participant_no_delete BEFORE DELETE ON participant
       FOR EACH ROW EXECUTE FUNCTION cohort_refuse_rewrite()""",
    "DROP TRIGGER IF EXISTS status_change_no_delete ON status_change",
    """CREATE TRIGGER status_change_no_delete BEFORE DELETE ON status_change
       FOR EACH ROW EXECUTE FUNCTION cohort_refuse_rewrite()""",
]


def guard_statements(dialect: str) -> list[str]:
    """The trigger DDL for a dialect name ('sqlite' or 'postgresql')."""
    return POSTGRES_GUARDS if dialect == "postgresql" else SQLITE_GUARDS


def install_guards_on(connection: Connection) -> None:
    for statement in guard_statements(connection.dialect.name):
        connection.execute(text(statement))


def install_guards(engine: Engine) -> None:
    with engine.begin() as connection:
        install_guards_on(connection)
