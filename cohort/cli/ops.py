"""Running the service: ``cohort serve``, ``cohort worker``, ``cohort backup``, ``cohort
restore`` and ``cohort db app-role``. Thin commands over ``cohort.backup``, ``cohort.jobs`` and
``cohort.rls``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer

from cohort.cli import common
from cohort.cli.exportlog import As
from forms.i18n import _

db_app = typer.Typer(help="Database roles for a PostgreSQL deployment.", no_args_is_help=True)
Database = Annotated[str | None, typer.Option(
    "--database", help="Database URL; default: COHORT_DATABASE_URL.")]


def _url(database: str | None) -> str:
    from cohort.settings import get_settings

    return database or get_settings().database_url


def backup(
    out: Annotated[Path, typer.Option("-o", "--out", help="Backup file to write.")],
    database: Database = None,
    purpose: Annotated[str, typer.Option(
        "--purpose", help="Kept in the export log.")] = "Backup",
    who: As = None,
) -> None:
    """Copy the whole database to FILE (SQLite: online backup; PostgreSQL: pg_dump custom
    format), safe while the server runs, with FILE.manifest.json (rows and SHA-256 per
    table, the audit chain) beside it. Kept in the export log."""
    from sqlalchemy.exc import OperationalError

    from cohort.backup import Manifest
    from cohort.backup import backup as take_backup
    from cohort.cli.exportlog import log_export
    from cohort.db import is_busy
    from cohort.vocab import ExportKind

    url = _url(database)

    def logged(manifest: Manifest) -> None:
        for attempt in range(5):  # SQLite: a server's save may hold the write lock
            try:
                log_export(database=url, who=who, kind=ExportKind.BACKUP,
                           fmt="sqlite" if manifest.engine == "sqlite" else "pg_dump",
                           rows=manifest.tables.get("participant", {}).get("rows", 0),
                           fields=sorted(manifest.tables), free_text=True,
                           deidentified=False, purpose=purpose, target=str(out.resolve()))
                return
            except OperationalError as error:
                if not is_busy(error) or attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))

    manifest = take_backup(url, out, on_ready=logged)
    rows = sum(t["rows"] for t in manifest.tables.values())
    typer.echo(_("Backup written: {out} ({engine}, {tables} tables, {rows} rows, {audit} audit "
                 "entries, audit chain {chain}…); manifest: {out}.manifest.json").format(
                     out=out, engine=manifest.engine, tables=len(manifest.tables), rows=rows,
                     audit=manifest.audit_entries, chain=manifest.audit_chain[:16]))


def restore(
    backup_file: Annotated[Path, typer.Argument(help="A file written by `cohort backup`.")],
    database: Database = None,
    replace: Annotated[bool, typer.Option(
        help="SQLite: restore over an existing file, kept beside it as "
             "<name>.before-restore-<time>. Stop the server first.")] = False,
) -> None:
    """Restore a backup into an empty database (COHORT_DATABASE_URL) and check every table
    and the audit chain against the backup's manifest."""
    from cohort.backup import restore as do_restore

    url = _url(database)
    restored = do_restore(backup_file, url, replace=replace)
    if restored.kept_previous is not None:
        typer.echo(_("The previous database is kept as {path}.").format(
            path=restored.kept_previous))
    manifest = restored.manifest
    checked = (_("every table and the audit chain match the manifest")
               if restored.expected is not None
               else _("no manifest beside the backup: nothing to check it against"))
    typer.echo(_("Restored {file}: {tables} tables, {audit} audit entries, schema {schema}; "
                 "{checked}.").format(
                     file=backup_file, tables=len(manifest.tables),
                     audit=manifest.audit_entries, schema=manifest.schema_revision,
                     checked=checked))
    if make_is_postgres(url):
        typer.echo(_("Grant the application's role again: cohort db app-role NAME."))


def make_is_postgres(url: str) -> bool:
    from sqlalchemy.engine import make_url

    return make_url(url).get_backend_name() == "postgresql"


@db_app.command("app-role")
def app_role(
    name: Annotated[str, typer.Argument(help="Role the web application connects as.")],
    database: Database = None,
    password_env: Annotated[str | None, typer.Option(
        help="Set the role's password from this environment variable.")] = None,
) -> None:
    """Create (if missing) the PostgreSQL role the web application connects as, and grant
    it what it needs: it owns no table, so row-level security applies to it. Run it as the
    tables' owner, again after each `cohort init` (new tables)."""
    from cohort.db import engine_for
    from cohort.rls import grant_app_role

    password = None
    if password_env is not None:
        password = os.environ.get(password_env)
        if not password:
            raise typer.BadParameter(_("the environment variable {name} is empty").format(
                name=password_env))
    url = _url(database)
    if not make_is_postgres(url):
        typer.echo(_("Error: application roles and row-level security need PostgreSQL; "
                     "with SQLite the services' checks are the only wall."), err=True)
        raise typer.Exit(2)
    with engine_for(url).begin() as connection:
        created = grant_app_role(connection, name, password)
    typer.echo((_("Role {name} created and granted; connect the web application as {name} "
                  "(COHORT_DATABASE_URL), keep the owner for `cohort init`, `backup` and "
                  "`restore`.") if created else
                _("Role {name} granted; connect the web application as {name} "
                  "(COHORT_DATABASE_URL), keep the owner for `cohort init`, `backup` and "
                  "`restore`.")).format(name=name))


def serve(
    host: Annotated[str, typer.Option(help="Interface; keep 127.0.0.1 behind a proxy.")] =
    "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(
        min=1, max=32, help="Server processes (PostgreSQL: one per core is a good start).")
    ] = 1,
    proxy_headers: Annotated[bool, typer.Option(
        help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips (behind a proxy that "
             "terminates TLS).")] = False,
    forwarded_allow_ips: Annotated[str, typer.Option(
        help="Addresses of the proxy whose forwarded headers are trusted.")] = "127.0.0.1",
    worker_timeout: Annotated[int, typer.Option(
        min=5, max=3600, help="Seconds a server process may leave the supervisor's health "
                              "check unanswered (starting up included) before it is "
                              "replaced.")] = 60,
) -> None:
    """Serve the web pages and the REST API (uvicorn); background jobs run in each process
    (COHORT_JOBS_IN_SERVER=false: in `cohort worker`). Logs are JSON lines with a request
    id (COHORT_LOG_FORMAT=text for plain lines); /healthz and /metrics for operations."""
    import uvicorn

    from api.serving import PROTOCOL
    from cohort.logs import logging_config
    from cohort.settings import get_settings

    settings = get_settings()
    _metrics_folder(workers)
    typer.echo(_("Serving on http://{host}:{port}/ with {workers} process(es) (API docs: "
                 "/api/docs; health: /healthz; Ctrl-C stops)").format(
                     host=host, port=port, workers=workers))
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_config=logging_config(settings.log_format, settings.log_level),
                access_log=False, server_header=False, proxy_headers=proxy_headers,
                forwarded_allow_ips=forwarded_allow_ips, timeout_graceful_shutdown=30,
                # With several processes every response otherwise waited 40 ms for the
                # client's delayed acknowledgement (api/serving.py).
                http=PROTOCOL,
                # uvicorn's 5 s replaced every process of a busy machine while it was still
                # importing: the server never came up.
                timeout_worker_healthcheck=worker_timeout)


def _metrics_folder(workers: int) -> None:
    """Several processes count into files of one folder (prometheus-client's multi-process
    mode): the server's workers and the jobs' own processes. ``PROMETHEUS_MULTIPROC_DIR``
    if set, else a new temporary folder; emptied at start, as that mode requires."""
    from cohort.metrics import MULTIPROC_ENV

    del workers
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        import tempfile

        folder = tempfile.mkdtemp(prefix="cohort-metrics-")
        os.environ[MULTIPROC_ENV] = folder
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def worker(
    processes: Annotated[int, typer.Option(
        min=1, max=16, help="Jobs run at once (PostgreSQL).")] = 1,
    once: Annotated[bool, typer.Option(
        help="Run the jobs waiting now, then stop (SQLite; for cron or a test).")] = False,
) -> None:
    """Run background jobs (imports, exports, analysis reports) outside the web server:
    procrastinate's worker on PostgreSQL, the job queue's thread on SQLite. Stops
    gracefully on SIGTERM or Ctrl-C, letting the job in progress finish."""
    import asyncio
    import signal

    import analysis.jobs  # noqa: F401  (registers the export and analysis jobs)
    from cohort.db import engine_for
    from cohort.logs import configure
    from cohort.settings import get_settings

    settings = get_settings()
    configure(settings.log_format, settings.log_level)
    engine = engine_for(settings.database_url)
    if engine.dialect.name == "postgresql":
        from cohort.jobs.pgworker import run_worker

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await run_worker(settings.database_url, stop, concurrency=processes)

        typer.echo(_("Running background jobs from PostgreSQL (Ctrl-C stops)."))
        asyncio.run(main())
        return
    from cohort.jobs.runner import ThreadRunner

    runner = ThreadRunner(engine)
    runner.recover()
    if once:
        typer.echo(_("Ran {count} job(s).").format(count=runner.run_pending()))
        return
    signal.signal(signal.SIGTERM, lambda *_: runner.stop(timeout=0))
    typer.echo(_("Running background jobs from SQLite (Ctrl-C stops)."))
    runner.start()
    try:
        while runner.join(1.0):
            pass
    except KeyboardInterrupt:
        runner.stop()


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the main app."""
    app.command("serve")(serve)
    app.command("worker")(common.friendly(worker))
    app.command("backup")(common.friendly(backup))
    app.command("restore")(common.friendly(restore))
    app.add_typer(db_app, name="db")
