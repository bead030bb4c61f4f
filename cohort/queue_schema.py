"""The job queue's own tables on PostgreSQL: procrastinate's schema, in a schema of its own.

procrastinate ships its tables and functions as one SQL file; it is installed by the
migration (and by ``create_schema`` for tests) into the ``procrastinate`` schema, so that
the study's schema stays exactly what the models describe. Connections of the queue put
that schema first in their ``search_path`` (``cohort.jobs.pgqueue``). A later procrastinate
release that changes its schema comes with its SQL migrations: a new alembic revision
applies them, and the version pin in pyproject.toml moves with it.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

QUEUE_SCHEMA = "procrastinate"


def queue_schema_sql() -> str:
    from procrastinate.schema import SchemaManager

    return SchemaManager.get_schema()


def install_queue_schema(connection: Connection) -> bool:
    """Create the queue's schema if it is not there yet (PostgreSQL only); True if made."""
    if connection.dialect.name != "postgresql":
        return False
    present = connection.exec_driver_sql(
        "SELECT 1 FROM pg_namespace WHERE nspname = 'procrastinate'").first()
    if present is not None:
        return False
    connection.exec_driver_sql(f"CREATE SCHEMA {QUEUE_SCHEMA}")
    cursor = connection.connection.cursor()
    try:
        # The raw cursor, without parameters: the file's '%' signs are not placeholders.
        cursor.execute(f"SET LOCAL search_path TO {QUEUE_SCHEMA}")
        cursor.execute(queue_schema_sql())
        cursor.execute("SET LOCAL search_path TO DEFAULT")
    finally:
        cursor.close()
    return True


def drop_queue_schema(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {QUEUE_SCHEMA} CASCADE")
