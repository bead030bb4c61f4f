"""``cohort template``, ``cohort import`` and ``cohort report --excel``: offline workbooks.

Who imports: ``--as`` is required (a staff id or a username). The rows are written in that
person's name and within their centres, exactly as if they had typed them on the web pages;
the command line never picks someone on their behalf.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cohort.cli import common
from cohort.cli.common import staff_actor as _staff_actor
from cohort.cli.common import writer_session as _writer_session
from cohort.cli.exportlog import As, OptionalPurpose, Purpose
from forms.i18n import _, format_datetime

if TYPE_CHECKING:

    from cohort.excel.importer import ImportReport
    from cohort.excel.reader import Problem

Out = Annotated[Path, typer.Option("-o", "--out", help="File to write (.xlsx).")]
AsOf = Annotated[str | None, typer.Option(
    "--as-of", help="Evaluate as of this date (YYYY-MM-DD); default today.")]


def _main() -> Any:
    return common


def template(
    out: Out,
    centre: Annotated[str, typer.Option(help="Centre code, e.g. C04.")],
    kind: Annotated[str, typer.Option(
        help="questionnaire (default), enrolment or session.")] = "questionnaire",
    timepoint: Annotated[str | None, typer.Option(
        help="A visit of the schedule, e.g. M6 (questionnaires): the participants due "
             "are listed.")] = None,
    as_of: AsOf = None,
    purpose: OptionalPurpose = None,
    who: As = None,
) -> None:
    """Make an entry workbook for offline use (one row per participant due; kept in the
    export log)."""
    from cohort.excel.layout import Kind
    from cohort.excel.templates import build_template
    from cohort.schedule import get_schedule
    from cohort.vocab import Timepoint

    main = _main()
    visits = get_schedule().describe()
    try:
        chosen = Kind(kind.strip().lower().removesuffix("s"))
    except ValueError:
        main.fail(_("'{kind}' is not a kind of workbook; use questionnaire, enrolment or "
                    "session.").format(kind=kind))
    tp = None
    if timepoint is not None:
        try:
            tp = Timepoint(get_schedule().parse(timepoint))
        except ValueError:
            main.fail(_("'{timepoint}' is not a timepoint; use {visits}.").format(
                timepoint=timepoint, visits=visits))
    if chosen is Kind.QUESTIONNAIRE and tp is None:
        main.fail(_("Please give --timepoint {visits} for a questionnaire workbook.").format(
            visits=visits))
    with main.db_session() as session:
        data, rows = build_template(session, actor=main.national(session), kind=chosen,
                                    centre_code=centre, timepoint=tp,
                                    as_of=main.parse_date(as_of))
    from cohort.cli.exportlog import log_export
    from cohort.excel.layout import CODE
    from cohort.vocab import ExportKind

    log_export(who=who, kind=ExportKind.TEMPLATE, fmt="xlsx", rows=rows,
               fields=[CODE] if rows else [], centre_codes=[centre.strip().upper()],
               purpose=purpose, target=str(out.resolve()))
    out.write_bytes(data)
    written = (_("Template written to {out} ({kind}, centre {centre}, {rows} participant(s) "
                 "due).") if chosen is Kind.QUESTIONNAIRE else
               _("Template written to {out} ({kind}, centre {centre})."))
    typer.echo(written.format(out=out, kind=chosen.value, centre=centre.upper(), rows=rows))


def import_(
    file: Annotated[Path, typer.Argument(help="A filled workbook (.xlsx) or a REDCap "
                                              "records export (.csv).")],
    who: Annotated[str, typer.Option(
        "--as", help="Who is importing: staff id or username (required; rows are saved in "
                     "their name and within their centres).")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Check every row and report, but save nothing.")] = False,
    out: Annotated[Path | None, typer.Option(
        "-o", "--out", help="Where to write the annotated copy (default: next to the file, "
                            "'-to-correct.xlsx', when something needs correcting).")] = None,
    as_of: AsOf = None,
) -> None:
    """Import a filled workbook or REDCap export: all rows are saved, or none."""
    from sqlalchemy.exc import OperationalError

    from cohort.db import BUSY_MESSAGE, is_busy
    from cohort.excel.annotate import annotate
    from cohort.excel.guard import check_size
    from cohort.excel.importer import ImportBusy, import_sheet, is_csv, read_file

    main = _main()
    if not file.is_file():
        main.fail(_("{file} does not exist.").format(file=file))
    check_size(file.stat().st_size)  # before the file is read into memory
    data = file.read_bytes()
    on = main.parse_date(as_of)
    sheet = read_file(data, file.name)  # before the database is locked
    try:
        with _writer_session() as session:
            actor = _staff_actor(session, who)
            report = import_sheet(session, actor=actor, sheet=sheet, data=data,
                                  filename=file.name, dry_run=dry_run, on=on)
    except ImportBusy as error:
        main.fail(_(error.message), 3)
    except OperationalError as error:
        if not is_busy(error):
            raise
        main.fail(_(BUSY_MESSAGE), 3)
    _print(report)
    marked = report.problems + report.deviations
    target = out or (file.with_name(f"{file.stem}-to-correct.xlsx") if report.problems
                     else None)
    if target is not None and report.already_imported is None:
        target.write_bytes(annotate(data, marked,
                                    csv_name=file.name if is_csv(file.name, data) else None))
        typer.echo(_("Annotated copy: {path}").format(path=target))
    if report.problems:
        raise typer.Exit(1)


def _print(report: ImportReport) -> None:
    if report.already_imported is not None:
        typer.echo(_("{file} was already imported on {when} UTC; nothing new was saved.")
                   .format(file=report.filename,
                           when=format_datetime(report.already_imported)))
        return
    several = len(report.sheets) > 1
    sheets = (_("sheets {sheet}") if several else _("sheet '{sheet}'")).format(
        sheet=report.sheet)
    typer.echo(_("{file} ({kind}, {sheets}): {rows} filled row(s), {blank} empty.").format(
        file=report.filename, kind=report.kind.value, sheets=sheets, rows=report.rows,
        blank=report.blank_rows))

    def where(p: Problem) -> str:
        place = _("row {row}").format(row=p.row) if p.row else _("header")
        return _("sheet '{sheet}' {place}").format(sheet=p.sheet, place=place) if several \
            else place

    if report.problems:
        typer.echo(_("{count} problem(s) to correct; nothing was saved.").format(
            count=len(report.problems)), err=True)
        for p in report.problems[:20]:
            cell = _(", column {column}").format(column=p.column) if p.column else ""
            typer.echo(f"  {where(p)}{cell} [{p.rule}] {p.text}", err=True)
        if len(report.problems) > 20:
            typer.echo("  " + _("… and {count} more (see the annotated copy).").format(
                count=len(report.problems) - 20), err=True)
        return
    done = (_("{written} row(s) would be saved (dry run, nothing written), {unchanged} "
              "already stored (unchanged).") if report.dry_run else
            _("{written} row(s) saved, {unchanged} already stored (unchanged)."))
    typer.echo(done.format(written=report.written, unchanged=report.unchanged))
    for ref, code in report.created:
        typer.echo("  " + _("{ref}: enrolled as {code}").format(ref=ref, code=code))
    if report.deviations:
        typer.echo(_("{count} deviation(s) raised for review:").format(
            count=len(report.deviations)))
        for p in report.deviations:
            typer.echo(f"  {where(p)} [{p.rule}] {p.text}")


def report(
    out: Out,
    excel: Annotated[bool, typer.Option("--excel", help="Write an Excel workbook.")] = False,
    as_of: AsOf = None,
    purpose: Purpose = "",
    who: As = None,
) -> None:
    """The research officers' workbook: retention, visits due, open deviations (every
    centre: ``--purpose`` is required, rule ``export.no_purpose``)."""
    from cohort.cli.exportlog import log_export
    from cohort.excel.report import REPORT_FIELDS, counted_report
    from cohort.services.access import check_purpose
    from cohort.vocab import Channel, ExportKind

    main = _main()
    if not excel:
        main.fail(_("Only the Excel report exists for now: add --excel."))
    check_purpose(kind=ExportKind.REPORT, channel=Channel.CLI, centre_codes=None,
                  purpose=purpose)
    with main.db_session() as session:
        data, rows = counted_report(session, actor=main.national(session),
                                    as_of=main.parse_date(as_of))
    log_export(who=who, kind=ExportKind.REPORT, fmt="xlsx", rows=rows, fields=REPORT_FIELDS,
               purpose=purpose, target=str(out.resolve()))
    out.write_bytes(data)
    typer.echo(_("Report written to {out}.").format(out=out))


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the main app."""
    main = _main()
    app.command("template")(main.friendly(template))
    app.command("import")(main.friendly(import_))
    app.command("report")(main.friendly(report))


