"""Row-level security on PostgreSQL: a second wall behind the services' own scope checks.

The application connects as a role that does not own the tables (``grant_app_role``), so
PostgreSQL applies the policies below to every statement it runs. Each policy asks one
question of a transaction-local setting, ``cohort.centres``: ``*`` for people who see every
centre, a comma-separated list of centre ids otherwise. ``scope_session`` sets it at the
start of every transaction of a session once the signed-in person is known
(``set_config(..., true)``, which lasts until the transaction ends, so a pooled connection
never carries one person's reach into another's request). Without the setting a
connection of that role sees no participant at all: a path that forgets to say who is
asking fails closed.

The owner of the tables (migrations, the command line, the test suite) is not subject to
these policies (they are not ``FORCE``d). SQLite has no row-level security; there the
services' checks are the only wall, as before.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlmodel import Session

SETTING = "cohort.centres"
_SCOPE = "cohort_rls_scope"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# Tables whose rows belong to one centre, and how a row finds its centre.
BY_CENTRE = ("participant", "screening", "deviation", "read_log")
BY_PARTICIPANT = ("questionnaire", "aerli_session", "status_change")
# Tables the application may delete rows from (everything else it only inserts and
# updates; the history tables refuse even that through their triggers).
DELETABLE = ("sign_in_failure", "staff_centre_access", "shared_value", "job_file")
# Audit entries name their record by table and id: visible when that record is.
AUDITED_RECORDS = {"participant": "participant", "questionnaire": "questionnaire",
                   "aerli_session": "aerli_session", "status_change": "status_change",
                   "deviation": "deviation", "screening": "screening"}

FUNCTIONS = [
    f"""CREATE OR REPLACE FUNCTION cohort_sees_all() RETURNS boolean LANGUAGE sql STABLE AS $$
        SELECT coalesce(current_setting('{SETTING}', true), '') = '*' $$""",
    f"""CREATE OR REPLACE FUNCTION cohort_sees_centre(centre integer) RETURNS boolean
        LANGUAGE sql STABLE AS $$
        SELECT CASE coalesce(current_setting('{SETTING}', true), '')
                 WHEN '*' THEN true
                 WHEN '' THEN false
                 ELSE centre = ANY (string_to_array(current_setting('{SETTING}', true), ',')
                                    ::integer[])
               END $$""",
]


def _policy(table: str, condition: str) -> list[str]:
    return [f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS {table}_by_centre ON {table}",
            f"CREATE POLICY {table}_by_centre ON {table} USING ({condition}) "
            f"WITH CHECK ({condition})"]


def _all_or(rows: str) -> str:
    return "(SELECT cohort_sees_all()) OR EXISTS (SELECT 1 FROM " + rows + ")"  # noqa: S608


def _record_of(table: str) -> str:
    return f"SELECT 1 FROM {table} r WHERE r.id = audit_entry.record_id"  # noqa: S608


def policy_statements() -> list[str]:
    """Every statement that installs the functions and policies (idempotent)."""
    out = list(FUNCTIONS)
    for table in BY_CENTRE:
        # A deviation of the whole study (no centre) is for those who see every centre.
        out += _policy(table, "cohort_sees_centre(centre_id)")
    for table in BY_PARTICIPANT:
        # ``participant`` is itself behind its policy, so the sub-query sees only the
        # participants in reach; people who see everything skip it (an InitPlan, once).
        out += _policy(table, _all_or(f"participant p WHERE p.id = {table}.participant_id"))
    out += _policy("session_staff",
                   _all_or("aerli_session s WHERE s.id = session_staff.session_id"))
    visible = " OR ".join(
        f"(audit_entry.table_name = '{name}' AND EXISTS ({_record_of(table)}))"
        for name, table in AUDITED_RECORDS.items())
    names = ", ".join(f"'{name}'" for name in AUDITED_RECORDS)
    out += ["ALTER TABLE audit_entry ENABLE ROW LEVEL SECURITY",
            "DROP POLICY IF EXISTS audit_entry_read ON audit_entry",
            "DROP POLICY IF EXISTS audit_entry_write ON audit_entry",
            f"CREATE POLICY audit_entry_read ON audit_entry FOR SELECT USING "
            f"((SELECT cohort_sees_all()) OR audit_entry.table_name NOT IN ({names}) "
            f"OR {visible})",
            # Audit entries are written by every service, after the record they describe.
            "CREATE POLICY audit_entry_write ON audit_entry FOR INSERT WITH CHECK (true)"]
    return out


def drop_statements() -> list[str]:
    out = []
    for table in (*BY_CENTRE, *BY_PARTICIPANT, "session_staff"):
        out += [f"DROP POLICY IF EXISTS {table}_by_centre ON {table}",
                f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"]
    out += ["DROP POLICY IF EXISTS audit_entry_read ON audit_entry",
            "DROP POLICY IF EXISTS audit_entry_write ON audit_entry",
            "ALTER TABLE audit_entry DISABLE ROW LEVEL SECURITY",
            "DROP FUNCTION IF EXISTS cohort_sees_centre(integer)",
            "DROP FUNCTION IF EXISTS cohort_sees_all()"]
    return out


def install_policies(connection: Connection) -> None:
    """Install the policies (PostgreSQL only; the migration and ``create_schema`` call it)."""
    if connection.dialect.name != "postgresql":
        return
    for statement in policy_statements():
        connection.exec_driver_sql(statement)


def scope_value(centre_ids: frozenset[int] | None) -> str:
    """The setting for a reach: ``*`` for every centre, else the ids (``''``: none)."""
    if centre_ids is None:
        return "*"
    return ",".join(str(i) for i in sorted(centre_ids))


def scope_session(session: Session, centre_ids: frozenset[int] | None) -> None:
    """From now on every transaction of ``session`` sees only these centres' rows (on
    PostgreSQL, for a role under the policies), the transaction already open included."""
    value = scope_value(centre_ids)
    session.info[_SCOPE] = value
    if session.in_transaction():
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            _apply(connection, value)


_ACTIVE = "cohort_rls_active"
_PROBE = ("SELECT CASE WHEN to_regclass('participant') IS NULL THEN NULL "
          "ELSE row_security_active('participant') END")


def _apply(connection: Connection, value: str) -> None:
    """Set the transaction's scope, when the policies apply to this connection's role at
    all (asked once per connection: the tables' owner, a superuser or a BYPASSRLS role is
    not restricted, and its transactions skip the extra round trip)."""
    info = connection.connection.info
    active = info.get(_ACTIVE)
    if active is None:
        active = connection.exec_driver_sql(_PROBE).scalar()
        if active is None:
            return  # no schema yet: ask again next time
        info[_ACTIVE] = bool(active)
    if active:
        connection.execute(text("SELECT set_config(:name, :value, true)"),
                           {"name": SETTING, "value": value})


@event.listens_for(Session, "after_begin")
def _scope_new_transaction(session: Session, _transaction: Any, connection: Connection
                           ) -> None:
    value = session.info.get(_SCOPE)
    if value is not None and connection.dialect.name == "postgresql":
        _apply(connection, value)


def grant_statements(role: str) -> list[str]:
    """What the application's role may do: read and write rows (under the policies),
    delete only from the tables that need it, use the sequences and the job queue."""
    if not _ROLE_NAME.match(role):
        raise ValueError(f"'{role}' is not a plain PostgreSQL role name "
                         "(lower-case letters, digits and _)")
    deletable = ", ".join(DELETABLE)
    return [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {role}",
        f"REVOKE DELETE ON ALL TABLES IN SCHEMA public FROM {role}",
        f"GRANT DELETE ON {deletable} TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"GRANT USAGE ON SCHEMA procrastinate TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA procrastinate TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA procrastinate TO {role}",
        f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA procrastinate TO {role}",
    ]


def grant_app_role(connection: Connection, role: str, password: str | None = None) -> bool:
    """Create (if missing) the role the web application connects as, and grant it what it
    needs on the current schema; idempotent, to be run again after each ``cohort init``.
    Returns whether the role was created. The role never owns a table, so the policies
    apply to it."""
    if connection.dialect.name != "postgresql":
        raise ValueError("row-level security and application roles need PostgreSQL")
    statements = grant_statements(role)
    exists = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"),
                                {"r": role}).first() is not None
    if not exists:
        connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS")
    if password is not None:
        literal = connection.execute(text("SELECT quote_literal(:p)"), {"p": password}).scalar()
        connection.exec_driver_sql(f"ALTER ROLE {role} PASSWORD {literal}")
    for statement in statements:
        connection.exec_driver_sql(statement)
    return not exists
