"""Data protection at the command line: lock, access log, archive, record of processing.

``cohort lock`` / ``cohort unlock`` (the data manager, named with ``--as``), ``cohort
access-log`` (who read whose records, who exported what), ``cohort archive`` (the
end-of-study bundle, its verification, and what the retention period makes due) and
``cohort privacy-report`` (GDPR Art. 30 record generated from the schema and the roles).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cohort.cli import common
from cohort.cli.exportlog import As
from forms.i18n import _, format_date, ngettext

Reason = Annotated[str, typer.Option("--reason", help="Why (kept in the lock history).")]
Centre = Annotated[str | None, typer.Option(
    "--centre", help="Lock or unlock one centre (code, e.g. C04); default: the whole study.")]
Manager = Annotated[str, typer.Option(
    "--as", help="The data manager doing it: username or staff id (required).")]


def _main() -> Any:
    return common


def lock(who: Manager, reason: Reason, centre: Centre = None) -> None:
    """Lock the study (or one centre) at its end: every write is refused from now on
    (rule study.locked); reading and exporting still work."""
    _change(who, reason, centre, locking=True)


def unlock(who: Manager, reason: Reason, centre: Centre = None) -> None:
    """Lift a lock, with a reason (kept in the lock history and the audit trail)."""
    _change(who, reason, centre, locking=False)


def _change(who: str, reason: str, centre: str | None, *, locking: bool) -> None:
    from cohort.cli.common import staff_actor as _staff_actor
    from cohort.cli.common import writer_session as _writer_session
    from cohort.services import locks

    with _writer_session() as session:
        actor = _staff_actor(session, who)
        change = locks.lock if locking else locks.unlock
        change(session, actor=actor, reason=reason, centre_code=centre)
        history = locks.lock_history(session, actor=actor)
    if locking:
        done = (_("Centre {centre} is locked: every write is now refused; reading and "
                  "exporting still work.") if centre else
                _("The study is locked: every write is now refused; reading and exporting "
                  "still work."))
    else:
        done = _("Centre {centre} is unlocked.") if centre else _("The study is unlocked.")
    typer.echo(done.format(centre=(centre or "").upper()))
    typer.echo(_("Lock history ({count}):").format(count=len(history)))
    for h in history:
        typer.echo(f"  {h.at:%Y-%m-%d %H:%M} UTC  {h.action:7} {h.scope:12} "
                   + _("by {who}: {reason}").format(who=h.by, reason=h.reason))


def access_log(
    exports: Annotated[bool, typer.Option(
        "--exports", help="The export log instead of the read log.")] = False,
    centre: Annotated[str | None, typer.Option(help="Centre code, e.g. C04.")] = None,
    staff: Annotated[str | None, typer.Option(
        help="One person (username or staff id): what they read or exported.")] = None,
    participant: Annotated[str | None, typer.Option(
        help="One participant's code: who read their records.")] = None,
    since: Annotated[str | None, typer.Option(help="From this day (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this day, included.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1_000_000)] = 1000,
    json_: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    csv_: Annotated[bool, typer.Option("--csv", help="CSV output.")] = False,
) -> None:
    """Who opened which participant's records (pages and API), newest first; with
    ``--exports``, who exported or downloaded what, when, from where and why."""
    from cohort.cli.common import staff_actor as _staff_actor
    from cohort.services.access import LogFilter, list_exports, list_reads
    from cohort.services.setup import centre_by_code

    if json_ and csv_:
        common.fail(_("choose --json or --csv, not both."))
    if exports and participant:
        common.fail(_("the export log is not per participant; leave out --participant."))
    with common.db_session() as session:
        where = LogFilter(
            centre_id=centre_by_code(session, centre).id if centre else None,
            staff_id=_staff_actor(session, staff).staff_id if staff else None,
            participant_code=participant,
            since=common.parse_date(since) if since else None,
            until=common.parse_date(until) if until else None, limit=limit)
        actor = common.national(session)
        found, total = (list_exports if exports else list_reads)(
            session, actor=actor, where=where)
        rows = [r.as_dict() for r in found]
    if json_:
        common.emit({"count": total, "data": rows})
        return
    if csv_:
        _csv(rows)
        return
    for r in rows:
        if exports:
            centres = r["centres"] if r["centres"] == "all" else ",".join(r["centres"])
            typer.echo(f"{r['at'][:19]}  {r['staff']:20} {r['channel']:4} {r['kind']:9} "
                       f"{r['format']:7} {r['rows']:>7} "
                       + _("rows  centres {centres}  purpose: {purpose}").format(
                           centres=centres, purpose=r["purpose"] or "-"))
        else:
            typer.echo(f"{r['at'][:19]}  {r['staff']:20} {r['participant']:12} "
                       f"{r['channel']:4} {r['what']}")
    shown = (" " + _("(the {count} newest shown)").format(count=len(rows))
             if total > len(rows) else "")
    typer.echo(ngettext("{count} entry", "{count} entries", total).format(count=total) + shown)


def _csv(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: " ".join(v) if isinstance(v, list) else v for k, v in row.items()})


def archive(
    out: Annotated[Path | None, typer.Option(
        "-o", "--out", help="New folder for the bundle.")] = None,
    verify: Annotated[Path | None, typer.Option(
        "--verify", help="Check a bundle against its SHA-256 manifest.")] = None,
    snapshot: Annotated[bool, typer.Option(
        "--snapshot", help="Archive a study that is not locked (a dated copy; the "
                           "end-of-study archive needs `cohort lock` first).")] = False,
    purpose: Annotated[str, typer.Option(
        "--purpose", help="Kept in the export log.")] = "End-of-study archive",
    who: As = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Retention as of this day (YYYY-MM-DD); default today.")] = None,
) -> None:
    """Write the archive bundle (-o DIR), check one (--verify DIR), and say what the
    retention period makes due for deletion (nothing is ever deleted)."""
    if verify is not None:
        _verify(verify)
        return
    day = common.parse_date(as_of)
    if out is not None:
        _write(out, snapshot=snapshot, purpose=purpose, who=who, day=day)
    _retention(day)


def _verify(folder: Path) -> None:
    from cohort.archive import verify

    result = verify(folder)
    if result.ok:
        typer.echo(_("{folder}: verified, {count} files match the manifest.").format(
            folder=folder, count=result.checked))
        return
    if result.problem:
        _main().fail(result.problem, 1)
    for kind, names in ((_("changed"), result.changed), (_("missing"), result.missing),
                        (_("not in the manifest"), result.unexpected)):
        for name in names:
            typer.echo(f"  {kind}: {name}", err=True)
    _main().fail(_("{folder} does NOT match its manifest ({changed} changed, {missing} "
                   "missing, {added} added).").format(
                       folder=folder, changed=len(result.changed), missing=len(result.missing),
                       added=len(result.unexpected)), 1)


def _write(out: Path, *, snapshot: bool, purpose: str, who: str | None, day: Any) -> None:
    from analysis.archive import write_archive
    from cohort.cli.exportlog import log_export
    from cohort.db import get_engine
    from cohort.services.lockstate import read_lock_state
    from cohort.vocab import ExportKind

    with common.db_session() as session:
        locked = read_lock_state(session).study_locked
    if not locked and not snapshot:
        common.fail(_("the study is not locked: lock it first (`cohort lock --as <data "
                      "manager> --reason ...`), or add --snapshot for a dated copy of a study "
                      "still running."), 2)

    def log(rows: int, columns: Any) -> None:
        log_export(who=who, kind=ExportKind.ARCHIVE, fmt="csv+parquet", shape="long",
                   rows=rows, fields=list(columns), free_text=True, purpose=purpose,
                   target=str(out.resolve()))

    try:
        result = write_archive(get_engine(), out, as_of=day, log=log)
    except FileExistsError as error:
        common.fail(str(error), 1)
        return
    typer.echo(_("Archive written to {out}: {files} files, {rows} rows in the long export, "
                 "{table_rows} table rows, {log_rows} log rows; verify with `cohort archive "
                 "--verify {out}`.").format(
                     out=out, files=result.files, rows=result.rows,
                     table_rows=sum(result.tables.values()),
                     log_rows=sum(result.logs.values())))
    if not locked:
        typer.echo(_("Note: the study is not locked; this archive is a snapshot."))


def _retention(day: Any) -> None:
    from cohort.services.locks import retention_report

    with _main().db_session() as session:
        report = retention_report(session, as_of=day)
    typer.echo(_("Retention: {years} years after lock (COHORT_RETENTION_YEARS); nothing is "
                 "deleted by this software.").format(years=report.retention_years))
    if not report.items:
        typer.echo("  " + _("Nothing is locked yet, so nothing is due for deletion."))
    for item in report.items:
        state = (_("{scope}: locked {since}, DUE for deletion since {due}") if item.due
                 else _("{scope}: locked {since}, due for deletion on {due}"))
        counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in item.records.items() if n)
        typer.echo("  " + state.format(scope=item.scope, since=format_date(item.locked_since),
                                       due=format_date(item.due_on))
                   + (": " + counts if counts else ""))


def privacy_report(
    fmt: Annotated[str, typer.Option("--format", help="md | json | csv")] = "md",
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Write to this file.")
                   ] = None,
) -> None:
    """The record of processing (GDPR Art. 30 style): every table and field with its
    category, who can read and export it, and where it goes."""
    from cohort import privacy
    from cohort.archive import software_version

    if fmt not in ("md", "json", "csv"):
        common.fail(_("unknown format '{fmt}'; use md, json or csv.").format(fmt=fmt))
    data = privacy.report(version=software_version(), revision=_revision())
    if fmt == "json":
        import json

        text = json.dumps(data, indent=2) + "\n"
    else:
        text = privacy.as_csv(data) if fmt == "csv" else privacy.as_markdown(data)
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(_("Record of processing written to {out} ({count} fields).").format(
        out=out, count=len(data["fields"])))


def _revision() -> str | None:
    """The database's schema revision, when a study database is configured."""
    from cohort.archive import schema_revision
    from cohort.cli.exportlog import _has_log
    from cohort.db import get_engine
    from cohort.settings import get_settings

    if not _has_log(get_settings().database_url):
        return None
    with get_engine().connect() as connection:
        return schema_revision(connection)


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the main app."""
    app.command("lock")(common.friendly(lock))
    app.command("unlock")(common.friendly(unlock))
    app.command("access-log")(common.friendly(access_log))
    app.command("archive")(common.friendly(archive))
    app.command("privacy-report")(common.friendly(privacy_report))
