"""``cohort analyse`` and ``cohort export``: from the live database to estimates and files.

The analysis package (pandas, statsmodels, lifelines, matplotlib) is imported inside the
commands only, so the rest of the command line starts fast.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from cohort.cli import common
from cohort.cli.exportlog import As, OptionalPurpose, Purpose
from forms.i18n import format_date
from forms.i18n import gettext as _

Database = Annotated[str | None, typer.Option(
    "--database", help="Database URL; default: COHORT_DATABASE_URL or the settings.")]
AsOf = Annotated[str | None, typer.Option(
    "--as-of", help="Use records up to this date (YYYY-MM-DD); default today.")]


def _fail(message: str, code: int = 2) -> None:
    typer.echo(_("Error: {message}").format(message=message), err=True)
    raise typer.Exit(code)


def _as_of(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(_("'{value}' is not a date; use YYYY-MM-DD, for example 2026-03-31.").format(
            value=value))
    raise AssertionError  # pragma: no cover


def _load(database: str | None, as_of: date, censor_at: str = "missed_visit") -> Any:
    from sqlalchemy.exc import SQLAlchemyError

    from analysis.data import load_frames
    from cohort.db import engine_for
    from cohort.settings import get_settings

    url = database or get_settings().database_url
    try:
        data = load_frames(engine_for(url), as_of=as_of, censor_at=censor_at)
    except SQLAlchemyError as error:
        first = str(getattr(error, "orig", error) or error).strip().splitlines()[0]
        _fail(_("cannot read the study database: {error} — run `cohort init` (or "
                "`cohort demo`) first, or check --database / COHORT_DATABASE_URL.").format(
            error=first), 3)
    if len(data.participants) == 0:
        _fail(_("no participants enrolled on or before {date}; nothing to analyse.").format(
            date=format_date(as_of)), 1)
    return data


def analyse(
    what: Annotated[str, typer.Argument(help="retention | outcomes | all")] = "all",
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder for the report.")] = Path(
        "report"),
    database: Database = None,
    as_of: AsOf = None,
    correlation: Annotated[str, typer.Option(
        help="GEE working correlation: exchangeable | ar1 | independence")] = "exchangeable",
    ipcw: Annotated[bool, typer.Option(
        help="Also fit models with inverse probability of censoring weights.")] = True,
    censor_at: Annotated[str, typer.Option(
        help="Censor people still followed where a loss would be dated (missed_visit: "
             "close of the first missed visit window) or at the as_of date.")
    ] = "missed_visit",
    purpose: OptionalPurpose = None,
    who: As = None,
) -> None:
    """Write the HTML report (tables, figures) and the estimates as CSV and JSON.

    Kept in the export log (aggregates of the whole cohort: who, when, how many
    participants)."""
    from analysis.outcomes import COV_STRUCTS
    from analysis.report import SECTIONS

    if what not in SECTIONS:
        _fail(_("unknown analysis '{what}'; use retention, outcomes or all.").format(what=what))
    if correlation not in COV_STRUCTS:
        _fail(_("unknown working correlation '{correlation}'; use one of {choices}.").format(
            correlation=correlation, choices=", ".join(COV_STRUCTS)))
    if censor_at not in ("missed_visit", "as_of"):
        _fail(_("unknown censoring rule '{rule}'; use missed_visit or as_of.").format(
            rule=censor_at))
    data = _load(database, _as_of(as_of), censor_at)
    from analysis.report import write_report
    from cohort.cli.exportlog import log_export
    from cohort.vocab import ExportKind

    log_export(database=database, who=who, kind=ExportKind.ANALYSIS, fmt="html",
               rows=len(data.participants), shape=what, purpose=purpose, target=str(out))

    try:
        report = write_report(data, out, what=what, cov_struct=correlation, ipcw=ipcw)
    except OSError as error:
        _fail(_("cannot write the report to {folder}: {error}.").format(
            folder=out, error=error.strerror or error), 1)
        return
    except ValueError as error:
        _fail(_("the models could not be fitted on these data ({error}); with very few "
                "participants or visits, try `cohort analyse retention`.").format(error=error),
              1)
        return
    typer.echo(_("Report written: {page} ({figures} figures, {estimates} estimates; data as "
                 "of {date}, {participants} participants).").format(
        page=report.html, figures=len(report.figures), estimates=len(report.estimates),
        date=format_date(data.snapshot.as_of), participants=len(data.participants)))


def export(
    out: Annotated[Path, typer.Option("-o", "--out", help="File to write, e.g. cohort.dta.")],
    fmt: Annotated[str | None, typer.Option(
        "--format", help="csv | xlsx | dta | sav | parquet (default: from the file name)")
    ] = None,
    shape: Annotated[str, typer.Option(help="long (one row per visit) | wide")] = "long",
    database: Database = None,
    as_of: AsOf = None,
    include_free_text: Annotated[bool, typer.Option(
        "--include-free-text",
        help="Also export free-text fields (notes, 'other' boxes). Left out by default: "
             "people write names and places in them; for the data manager only.")] = False,
    purpose: Purpose = "",
    who: As = None,
) -> None:
    """Export analysis-ready data with variable and value labels, and its codebook beside.

    Fields the dictionary marks as identifiers are never exported; free-text fields only
    with ``--include-free-text``. ``--purpose`` is required (rule ``export.no_purpose``):
    who, when, what and why go into the export log before the file is in place.
    """
    from analysis.export import FORMATS, SHAPES
    from cohort.services.access import check_purpose
    from cohort.vocab import Channel, ExportKind


    chosen = (fmt or out.suffix.lstrip(".")).lower()
    if chosen not in FORMATS:
        _fail(_("unknown export format '{format}'; use --format with one of {choices}.").format(
            format=chosen or out.name, choices=", ".join(FORMATS)))
    if shape not in SHAPES:
        _fail(_("unknown shape '{shape}'; use long or wide.").format(shape=shape))
    # Rule export.no_purpose: nothing is read before the purpose is given.
    check_purpose(kind=ExportKind.EXPORT, channel=Channel.CLI, centre_codes=None,
                  purpose=purpose)
    data = _load(database, _as_of(as_of))
    from analysis.export import export as write_export
    from cohort.cli.exportlog import log_export, publish, staged

    try:
        with staged(out) as scratch:
            result = write_export(data, scratch / out.name, fmt=chosen, shape=shape,
                                  include_free_text=include_free_text)
            log_export(database=database, who=who, kind=ExportKind.EXPORT, fmt=chosen,
                       shape=shape, rows=result.rows, fields=result.columns,
                       free_text=include_free_text, deidentified=not include_free_text,
                       purpose=purpose, target=str(out.resolve()))
            publish(scratch, out.parent, [result.path.name, result.codebook.name,
                                          result.variables.name])
        result.path, result.codebook, result.variables = (
            out.parent / result.path.name, out.parent / result.codebook.name,
            out.parent / result.variables.name)
    except OSError as error:
        _fail(_("cannot write {file}: {error}.").format(file=out,
                                                        error=error.strerror or error), 1)
        return
    typer.echo(_("Exported {rows} rows × {columns} columns to {file} ({format}, {shape}); "
                 "codebook: {codebook}; labels: {labels}.").format(
        rows=result.rows, columns=len(result.columns), file=result.path, format=chosen,
        shape=shape, codebook=result.codebook, labels=result.variables))
    if include_free_text:
        typer.echo(_("Free-text fields are included: check them for names and places before "
                     "sharing the file."))


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the main app."""
    app.command("analyse")(common.friendly(analyse))
    app.command("export")(common.friendly(export))
