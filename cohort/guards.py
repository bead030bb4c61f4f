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


# The data-protection logs (who exported, who read) and the lock history are as
# append-only as the audit trail (migration 0019 installs these).
APPEND_ONLY_LOGS = ("export_log", "read_log", "study_lock")


def _sqlite_append_only(table: str) -> list[str]:
    return [f"""CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table}
       BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END""" for op in ("UPDATE", "DELETE")]


def _postgres_append_only(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
       FOR EACH ROW EXECUTE FUNCTION cohort_refuse_rewrite()"""]


def guard_statements(dialect: str) -> list[str]:
    """The trigger DDL of the initial schema for a dialect ('sqlite' or 'postgresql')."""
    return POSTGRES_GUARDS if dialect == "postgresql" else SQLITE_GUARDS


def log_guard_statements(dialect: str) -> list[str]:
    """The trigger DDL making the export log, read log and lock history append-only."""
    if dialect == "postgresql":
        # The refusing function comes with the initial schema; repeated so this stands alone.
        return [POSTGRES_GUARDS[0]] + [s for t in APPEND_ONLY_LOGS
                                       for s in _postgres_append_only(t)]
    return [s for t in APPEND_ONLY_LOGS for s in _sqlite_append_only(t)]


def install_guards_on(connection: Connection) -> None:
    dialect = connection.dialect.name
    for statement in guard_statements(dialect) + log_guard_statements(dialect):
        connection.execute(text(statement))


def install_guards(engine: Engine) -> None:
    with engine.begin() as connection:
        install_guards_on(connection)
