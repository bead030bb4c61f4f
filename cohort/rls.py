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

A row finds its centre directly (``centre_id``), through its participant, through the
person who made it (import batches, the receipts of entries sent from phones: their centre
and the centres they follow), or through the centres it covered (the export log, whose
writing is never restricted); a row of no centre (national staff's, the command line's, a
deviation of the whole study, an export of every centre) is for those who see every centre.
Each migration installs its own set (``FIRST``, ``SECOND``): a migration never names a
table created after it.

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

# Added by migration 0020 (``sync_receipt`` is created by 0015, which follows 0017).
# A REDCap record's link is its participant's.
LINKED = ("external_record",)
# Rows made by a person, of the centres that person works at (their own and, for a
# research officer, those they follow): a row of national staff or of the command line
# (no person) is for those who see every centre.
BY_STAFF = {"import_batch": "actor_id", "sync_receipt": "staff_id"}
# The export log names the centres an export covered (``centre_codes``; JSON ``null``:
# every centre), and is written by every download, so only its reading is restricted.
EXPORT_LOG = "export_log"

#: The revision that installed each set of policies; ``None`` below means every set.
FIRST, SECOND = "0017", "0020"

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


def _staff_in_reach(column: str) -> str:
    extra = ("EXISTS (SELECT 1 FROM staff_centre_access a WHERE a.staff_id = s.id "
             "AND cohort_sees_centre(a.centre_id))")
    return f"staff s WHERE s.id = {column} AND (cohort_sees_centre(s.centre_id) OR {extra})"


def _audit_policies(audited: dict[str, str]) -> list[str]:
    visible = " OR ".join(
        f"(audit_entry.table_name = '{name}' AND EXISTS ({_record_of(table)}))"
        for name, table in audited.items())
    names = ", ".join(f"'{name}'" for name in audited)
    return ["ALTER TABLE audit_entry ENABLE ROW LEVEL SECURITY",
            "DROP POLICY IF EXISTS audit_entry_read ON audit_entry",
            "DROP POLICY IF EXISTS audit_entry_write ON audit_entry",
            f"CREATE POLICY audit_entry_read ON audit_entry FOR SELECT USING "
            f"((SELECT cohort_sees_all()) OR audit_entry.table_name NOT IN ({names}) "
            f"OR {visible})",
            # Audit entries are written by every service, after the record they describe.
            "CREATE POLICY audit_entry_write ON audit_entry FOR INSERT WITH CHECK (true)"]


# Every centre an export covered is in reach (a JSON ``null``, every centre, is not; nor
# an empty list).
_EXPORT_COVERED = (
    "(SELECT cohort_sees_all()) OR CASE WHEN jsonb_typeof(export_log.centre_codes) = 'array' "
    "AND jsonb_array_length(export_log.centre_codes) > 0 "
    "THEN NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(export_log.centre_codes) c "
    "WHERE NOT EXISTS (SELECT 1 FROM centre WHERE centre.code = c.value "
    "AND cohort_sees_centre(centre.id))) ELSE false END")


def _first() -> list[str]:
    """The policies of migration 0017."""
    out: list[str] = []
    for table in BY_CENTRE:
        # A deviation of the whole study (no centre) is for those who see every centre.
        out += _policy(table, "cohort_sees_centre(centre_id)")
    for table in BY_PARTICIPANT:
        # ``participant`` is itself behind its policy, so the sub-query sees only the
        # participants in reach; people who see everything skip it (an InitPlan, once).
        out += _policy(table, _all_or(f"participant p WHERE p.id = {table}.participant_id"))
    out += _policy("session_staff",
                   _all_or("aerli_session s WHERE s.id = session_staff.session_id"))
    return out + _audit_policies(AUDITED_RECORDS)


def _second() -> list[str]:
    """The policies of migration 0020."""
    out: list[str] = []
    for table in LINKED:
        out += _policy(table, _all_or(f"participant p WHERE p.id = {table}.participant_id"))
    for table, column in BY_STAFF.items():
        out += _policy(table, _all_or(_staff_in_reach(f"{table}.{column}")))
    out += [f"ALTER TABLE {EXPORT_LOG} ENABLE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS {EXPORT_LOG}_read ON {EXPORT_LOG}",
            f"DROP POLICY IF EXISTS {EXPORT_LOG}_write ON {EXPORT_LOG}",
            f"CREATE POLICY {EXPORT_LOG}_read ON {EXPORT_LOG} FOR SELECT "
            f"USING ({_EXPORT_COVERED})",
            # Every download is logged, whatever it covered (append-only: no update).
            f"CREATE POLICY {EXPORT_LOG}_write ON {EXPORT_LOG} FOR INSERT WITH CHECK (true)"]
    # A REDCap record's link is audited like the participant it names.
    return [*out, *_audit_policies(AUDITED_RECORDS | {table: table for table in LINKED}),
            IMPORTED_AT, IMPORTED_AT_PRIVATE]


# Whether a file was imported already is asked of every centre's imports (the same file
# twice writes nothing, whoever imported it first), and only its date is answered: a
# function run with its owner's rights (the tables' owner, not under the policies).
IMPORTED_AT = """CREATE OR REPLACE FUNCTION cohort_imported_at(digest text)
    RETURNS timestamptz LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp AS $$
    SELECT min(imported_at) FROM public.import_batch WHERE file_digest = digest $$"""
# Run with the owner's rights, so not by every role: the application's is granted it.
IMPORTED_AT_PRIVATE = "REVOKE EXECUTE ON FUNCTION cohort_imported_at(text) FROM PUBLIC"


def policy_statements(revision: str | None = None) -> list[str]:
    """The statements that install the functions and the policies of ``revision``
    (``FIRST``, ``SECOND``), or of all of them (``None``); idempotent. A migration names
    its own revision, so that it never touches a table created after it."""
    out = list(FUNCTIONS)
    if revision in (None, FIRST):
        out += _first()
    if revision in (None, SECOND):
        out += _second()
    return out


def _unscoped(table: str, *policies: str) -> list[str]:
    return [*(f"DROP POLICY IF EXISTS {table}_{p} ON {table}" for p in policies),
            f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"]


def drop_statements(revision: str | None = None) -> list[str]:
    """Undo ``policy_statements(revision)``: ``SECOND`` leaves the policies of ``FIRST``
    (the audit trail's as they were), ``FIRST`` and ``None`` leave none."""
    out: list[str] = []
    if revision in (None, SECOND):
        for table in (*LINKED, *BY_STAFF):
            out += _unscoped(table, "by_centre")
        out += _unscoped(EXPORT_LOG, "read", "write")
        out.append("DROP FUNCTION IF EXISTS cohort_imported_at(text)")
        if revision == SECOND:
            return out + _audit_policies(AUDITED_RECORDS)
    for table in (*BY_CENTRE, *BY_PARTICIPANT, "session_staff"):
        out += _unscoped(table, "by_centre")
    out += _unscoped("audit_entry", "read", "write")
    out += ["DROP FUNCTION IF EXISTS cohort_sees_centre(integer)",
            "DROP FUNCTION IF EXISTS cohort_sees_all()"]
    return out


def install_policies(connection: Connection, revision: str | None = None) -> None:
    """Install the policies of ``revision`` (PostgreSQL only; the migrations call it with
    theirs, ``create_schema`` with none: all)."""
    if connection.dialect.name != "postgresql":
        return
    for statement in policy_statements(revision):
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
    if under_policies(connection):  # no schema yet: asked again next time
        connection.execute(text("SELECT set_config(:name, :value, true)"),
                           {"name": SETTING, "value": value})


def under_policies(connection: Connection) -> bool:
    """Whether the policies restrict this connection's role (PostgreSQL, not the tables'
    owner); asked once per connection."""
    if connection.dialect.name != "postgresql":
        return False
    info = connection.connection.info
    if info.get(_ACTIVE) is None:
        active = connection.exec_driver_sql(_PROBE).scalar()
        if active is None:
            return False
        info[_ACTIVE] = bool(active)
    return bool(info[_ACTIVE])


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
        f"GRANT EXECUTE ON FUNCTION cohort_imported_at(text) TO {role}",
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
