"""``cohort dictionary``: check a REDCap data dictionary and print its codebook.

A data manager runs ``check`` before loading a dictionary: every problem is listed with its
line and column so the CSV can be fixed in one pass, never as a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import forms

dictionary_app = typer.Typer(
    help="Check the data dictionary (REDCap format) and print its codebook.",
    no_args_is_help=True,
)

EventsOption = Annotated[
    Path | None,
    typer.Option("--events", help="Instrument–event mapping CSV (default: event_mapping.csv "
                 "next to the dictionary, if any)."),
]


MissingOption = Annotated[
    Path | None,
    typer.Option("--missing-codes", help="The project's missing-data codes (default: "
                 "missing_data_codes.txt next to the dictionary, if any)."),
]


def _load(path: Path, events: Path | None, missing: Path | None = None) -> forms.DataDictionary:
    if missing is not None and not missing.is_file():
        typer.echo(f"Error: no missing-data codes file at {missing}.", err=True)
        raise typer.Exit(1)
    if not path.is_file():
        typer.echo(f"Error: no file at {path}.", err=True)
        raise typer.Exit(1)
    if events is not None and not events.is_file():
        typer.echo(f"Error: no event mapping file at {events}.", err=True)
        raise typer.Exit(1)
    try:
        return forms.load_dictionary(path, events=events, missing_codes=missing)
    except forms.DictionaryError as error:
        count = len(error.problems)
        typer.echo(f"{path}: {count} problem{'s' if count != 1 else ''}; nothing was loaded.",
                   err=True)
        for problem in error.problems:
            where = f"{problem.source}: " if problem.source and problem.source != path.name \
                else ""
            column = f", column '{problem.column}'" if problem.column else ""
            typer.echo(f"  {where}line {problem.row}{column}: {problem.message}", err=True)
        raise typer.Exit(1) from None
    except (UnicodeDecodeError, OSError) as error:
        typer.echo(f"Error: cannot read {path}: {error}.", err=True)
        raise typer.Exit(1) from None


def _log(fmt: str, fields: int, output: Path | None) -> None:
    """Codebooks and dictionaries hold no participant data: kept in the export log when a
    study database is configured, without one (checking a new dictionary) they are not."""
    from cohort.cli.exportlog import log_export
    from cohort.vocab import ExportKind

    log_export(only_if_study_database=True, kind=ExportKind.CODEBOOK, fmt=fmt, rows=fields,
               target=str(output.resolve()) if output else "standard output")


@dictionary_app.command("check")
def check(
    path: Annotated[Path, typer.Argument(help="The data dictionary CSV.")],
    events: EventsOption = None,
    missing: MissingOption = None,
) -> None:
    """Load a dictionary and report every problem, or summarise it when it is usable: its
    forms and events, its missing-data codes, the action tags acted on and those kept but
    not acted on (with why), and every warning."""
    dictionary = _load(path, events, missing)
    typer.echo(f"{path}: OK — {len(dictionary.fields)} fields in {len(dictionary.forms)} forms.")
    for name, form in dictionary.forms.items():
        when = ", ".join(dictionary.events.events_for(name)) or "no event"
        typer.echo(f"  {name}: {len(form.fields)} fields ({when})")
    if dictionary.events:
        typer.echo("Events: " + ", ".join(dictionary.events.events))
    else:
        typer.echo("Events: none declared")
    _codes_and_tags(dictionary)
    if dictionary.warnings:
        typer.echo(f"{len(dictionary.warnings)} warning(s):")
        for warning in dictionary.warnings:
            column = f", column '{warning.column}'" if warning.column else ""
            typer.echo(f"  line {warning.row}{column}: {warning.message}")
    else:
        typer.echo("No warnings.")


def _fields_word(names: list[str]) -> str:
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"{len(names)} field{'s' if len(names) != 1 else ''}: {shown}"


def _codes_and_tags(dictionary: forms.DataDictionary) -> None:
    codes = dictionary.missing_codes
    typer.echo("Missing-data codes: " + (", ".join(f"{c} ({label})" for c, label in
                                                   codes.items()) if codes else "none"))
    report = dictionary.action_tags()
    if report.acted:
        typer.echo("Action tags acted on:")
        for name in sorted(report.acted):
            typer.echo(f"  {name} ({_fields_word(report.acted[name])})")
    if report.kept:
        typer.echo("Action tags kept, not acted on:")
        for name in sorted(report.kept):
            typer.echo(f"  {name} ({_fields_word(report.kept[name])}): {report.reasons[name]}")
    if not report.acted and not report.kept:
        typer.echo("Action tags: none")


@dictionary_app.command("redcap")
def redcap(
    output: Annotated[Path, typer.Option("--output", "-o", help="Write to this file.")],
    path: Annotated[Path | None, typer.Option(
        "--dictionary", help="Dictionary CSV (default: the study's own).")] = None,
    events: Annotated[Path | None, typer.Option(
        "--events", help="Also write REDCap's instrument designation CSV (arm_num, "
        "unique_event_name, form) to this file, for upload on the Define My Events page.",
    )] = None,
) -> None:
    """Write the dictionary for upload into REDCap (``record_id`` first, as REDCap requires),
    and with ``--events`` which forms are filled at which event."""
    dictionary = forms.default_dictionary() if path is None else _load(path, None)
    if events is not None and not dictionary.events:
        typer.echo("Error: this dictionary has no event mapping to write; put "
                   "event_mapping.csv next to it.", err=True)
        raise typer.Exit(1)
    _log("csv", len(dictionary.fields), output)
    output.write_text(dictionary.to_redcap_csv(), encoding="utf-8")
    typer.echo(f"Wrote {output}: {len(dictionary.fields)} fields, record identifier first.")
    if events is not None:
        events.write_text(dictionary.events.to_csv(), encoding="utf-8")
        typer.echo(f"Wrote {events}: {len(dictionary.events.rows)} form–event designations "
                   f"({', '.join(dictionary.events.events)}); create these events in REDCap "
                   "first.")


@dictionary_app.command("codebook")
def codebook(
    fmt: Annotated[str, typer.Option("--format", "-f", help="md, html or csv.")] = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write to this file.")] = None,
    dictionary_path: Annotated[Path | None, typer.Option(
        "--dictionary", help="Dictionary CSV (default: the study's own).")] = None,
    events: EventsOption = None,
) -> None:
    """Print the codebook (labels, choices, logic) as Markdown, HTML or CSV."""
    if fmt not in ("md", "markdown", "html", "csv"):
        typer.echo(f"Error: unknown format '{fmt}'; use md, html or csv.", err=True)
        raise typer.Exit(1)
    if dictionary_path is None:
        try:
            dictionary = forms.default_dictionary()
        except forms.DictionaryError as error:
            typer.echo(str(error), err=True)
            raise typer.Exit(1) from None
    else:
        dictionary = _load(dictionary_path, events)
    if fmt == "html":
        text = dictionary.codebook_html()
    elif fmt == "csv":
        text = dictionary.codebook_csv()
    else:
        text = dictionary.codebook_markdown()
    _log(fmt, len(dictionary.fields), output)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"Codebook written to {output}.")
