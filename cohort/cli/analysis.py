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

Database = Annotated[str | None, typer.Option(
    "--database", help="Database URL; default: COHORT_DATABASE_URL or the settings.")]
AsOf = Annotated[str | None, typer.Option(
    "--as-of", help="Use records up to this date (YYYY-MM-DD); default today.")]


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def _as_of(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"'{value}' is not a date; use YYYY-MM-DD, for example 2026-03-31.")
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
        _fail(f"cannot read the study database: {first} — run `cohort init` (or "
              "`cohort demo`) first, or check --database / COHORT_DATABASE_URL.", 3)
    if len(data.participants) == 0:
        _fail(f"no participants enrolled on or before {as_of}; nothing to analyse.", 1)
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
        _fail(f"unknown analysis '{what}'; use retention, outcomes or all.")
    if correlation not in COV_STRUCTS:
        _fail(f"unknown working correlation '{correlation}'; use one of "
              f"{', '.join(COV_STRUCTS)}.")
    if censor_at not in ("missed_visit", "as_of"):
        _fail(f"unknown censoring rule '{censor_at}'; use missed_visit or as_of.")
    data = _load(database, _as_of(as_of), censor_at)
    from analysis.report import write_report
    from cohort.cli.exportlog import log_export
    from cohort.vocab import ExportKind

    log_export(database=database, who=who, kind=ExportKind.ANALYSIS, fmt="html",
               rows=len(data.participants), shape=what, purpose=purpose, target=str(out))

    try:
        report = write_report(data, out, what=what, cov_struct=correlation, ipcw=ipcw)
    except OSError as error:
        _fail(f"cannot write the report to {out}: {error.strerror or error}.", 1)
        return
    except ValueError as error:
        _fail(f"the models could not be fitted on these data ({error}); with very few "
              "participants or visits, try `cohort analyse retention`.", 1)
        return
    typer.echo(f"Report written: {report.html} ({len(report.figures)} figures, "
               f"{len(report.estimates)} estimates; data as of {data.snapshot.as_of}, "
               f"{len(data.participants)} participants).")


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
        _fail(f"unknown export format '{chosen or out.name}'; use --format with one of "
              f"{', '.join(FORMATS)}.")
    if shape not in SHAPES:
        _fail(f"unknown shape '{shape}'; use long or wide.")
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
        _fail(f"cannot write {out}: {error.strerror or error}.", 1)
        return
    typer.echo(f"Exported {result.rows} rows × {len(result.columns)} columns to {result.path} "
               f"({chosen}, {shape}); codebook: {result.codebook}; labels: {result.variables}.")
    if include_free_text:
        typer.echo("Free-text fields are included: check them for names and places before "
                   "sharing the file.")


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the main app."""
    app.command("analyse")(common.friendly(analyse))
    app.command("export")(common.friendly(export))
