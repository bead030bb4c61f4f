"""``cohort dictionary``: check a REDCap data dictionary, print its codebook, and keep its
translations.

A data manager runs ``check`` before loading a dictionary: every problem is listed with its
line and column so the CSV can be fixed in one pass, never as a traceback. The
questionnaire's translations beside it (``data_dictionary.fr.csv``) are checked too, per
language and with their line numbers: an unreadable line, an unknown field, form or choice
code, or a lost piping reference is an error (``check`` exits 1, as for the dictionary's
own errors: that language's questionnaire would be wrong); a missing or stale translation
is a warning (the English, or the older translation, is shown meanwhile).

``translations --lang fr`` lists what is left to translate, writes the skeleton for a new
language (``--template``) and exports the translations for REDCap's Multi-Language
Management or as an XLSForm (``--format mlm|xlsform``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer

import forms
from forms.i18n import _, current_language, ngettext, use_language
from forms.translation_exports import to_redcap_mlm, to_xlsform
from forms.translations import (
    DictionaryTranslations,
    TranslationProblem,
    check_translations,
    describe,
    left_to_translate,
    read_translations,
    template_csv,
    translations_path,
)

dictionary_app = typer.Typer(
    help="Check the data dictionary (REDCap format), print its codebook, keep its "
         "translations.",
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

#: How many untranslated texts ``check`` names before pointing to ``translations``.
SHOWN_MISSING = 10
#: A language code as file names and REDCap take it: ``fr``, ``pt-BR``.
_LANG_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")


def _load(path: Path, events: Path | None, missing: Path | None = None) -> forms.DataDictionary:
    if missing is not None and not missing.is_file():
        typer.echo(_("Error: no missing-data codes file at {path}.").format(path=missing),
                   err=True)
        raise typer.Exit(1)
    if not path.is_file():
        typer.echo(_("Error: no file at {path}.").format(path=path), err=True)
        raise typer.Exit(1)
    if events is not None and not events.is_file():
        typer.echo(_("Error: no event mapping file at {path}.").format(path=events), err=True)
        raise typer.Exit(1)
    try:
        return forms.load_dictionary(path, events=events, missing_codes=missing)
    except forms.DictionaryError as error:
        count = len(error.problems)
        typer.echo(ngettext("{path}: {count} problem; nothing was loaded.",
                            "{path}: {count} problems; nothing was loaded.", count).format(
                                path=path, count=count), err=True)
        for problem in error.problems:
            typer.echo("  " + problem.text(with_source=problem.source != path.name), err=True)
        raise typer.Exit(1) from None
    except (UnicodeDecodeError, OSError) as error:
        typer.echo(_("Error: cannot read {path}: {error}.").format(path=path, error=error),
                   err=True)
        raise typer.Exit(1) from None


def _study_or(path: Path | None, events: Path | None = None) -> forms.DataDictionary:
    if path is not None:
        return _load(path, events)
    try:
        return forms.default_dictionary()
    except forms.DictionaryError as error:
        typer.echo(str(error), err=True)
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
    not acted on (with why), every warning, and its translations (data_dictionary.fr.csv
    beside it): errors exit 1, missing and stale texts are warnings."""
    dictionary = _load(path, events, missing)
    typer.echo(_("{path}: OK — {fields} fields in {forms} forms.").format(
        path=path, fields=len(dictionary.fields), forms=len(dictionary.forms)))
    for name, form in dictionary.forms.items():
        when = ", ".join(dictionary.events.events_for(name)) or _("no event")
        typer.echo("  " + ngettext("{form}: {count} field ({when})",
                                   "{form}: {count} fields ({when})", len(form.fields)).format(
                                       form=name, count=len(form.fields), when=when))
    if dictionary.events:
        typer.echo(_("Events: {events}").format(events=", ".join(dictionary.events.events)))
    else:
        typer.echo(_("Events: none declared"))
    _codes_and_tags(dictionary)
    if dictionary.warnings:
        typer.echo(_("{count} warning(s):").format(count=len(dictionary.warnings)))
        for warning in dictionary.warnings:
            typer.echo("  " + warning.text(with_source=False))
    else:
        typer.echo(_("No warnings."))
    if not _report_translations(path, dictionary):
        raise typer.Exit(1)


def _report_translations(path: Path, dictionary: forms.DataDictionary) -> bool:
    """Print each language's translation problems; False when one of them is an error."""
    from forms.i18n import LANGUAGES

    for other in sorted(path.parent.glob(f"{path.stem}.*{path.suffix}")):
        code = other.name[len(path.stem) + 1:-len(path.suffix) or None]
        if _LANG_CODE.match(code) and code not in LANGUAGES:
            typer.echo(_("{file} is not read: {lang} is not one of the system's languages "
                         "({languages}); `cohort dictionary translations --lang {lang}` "
                         "checks what it lacks.").format(file=other.name, lang=code,
                                                         languages=", ".join(LANGUAGES)))
    if not dictionary.translations:
        typer.echo(_("Translations: none (the questionnaire is in English only)."))
        return True
    usable = True
    for lang, translations in dictionary.translations.items():
        problems = check_translations(dictionary, translations)
        errors = [p for p in problems if p.is_error]
        missing = [p for p in problems if p.rule == "missing"]
        others = [p for p in problems if not p.is_error and p.rule != "missing"]
        usable = usable and not errors
        source = translations_path(path, lang).name
        if not problems:
            typer.echo(_("Translations {lang} ({file}): OK, every text is translated.").format(
                lang=lang, file=source))
            continue
        typer.echo(_("Translations {lang} ({file}): {errors} error(s), {warnings} "
                     "warning(s).").format(lang=lang, file=source, errors=len(errors),
                                           warnings=len(problems) - len(errors)))
        for problem in errors + others:
            typer.echo("  " + _problem_line(problem))
        if missing:
            shown = ", ".join(describe(p.key) for p in missing[:SHOWN_MISSING] if p.key)
            more = len(missing) - SHOWN_MISSING
            typer.echo("  " + ngettext(
                "warning: {count} text is not translated and is shown in English: {texts}",
                "warning: {count} texts are not translated and are shown in English: {texts}",
                len(missing)).format(count=len(missing), texts=shown)
                + (_(" and {count} more").format(count=more) if more > 0 else "")
                + _("; `cohort dictionary translations --lang {lang}` lists them.").format(
                    lang=lang))
    return usable


def _problem_line(problem: TranslationProblem) -> str:
    severity = _("error") if problem.is_error else _("warning")
    if problem.line:
        return _("line {line}: {severity} [{rule}]: {message}").format(
            line=problem.line, severity=severity, rule=problem.rule, message=problem.message)
    return _("{severity} [{rule}]: {message}").format(severity=severity, rule=problem.rule,
                                                      message=problem.message)


def _fields_word(names: list[str]) -> str:
    shown = ", ".join(names[:5])
    if len(names) > 5:
        shown += _(" and {count} more").format(count=len(names) - 5)
    return ngettext("{count} field: {names}", "{count} fields: {names}", len(names)).format(
        count=len(names), names=shown)


def _codes_and_tags(dictionary: forms.DataDictionary) -> None:
    codes = dictionary.missing_codes
    typer.echo(_("Missing-data codes: {codes}").format(
        codes=", ".join(f"{c} ({label})" for c, label in codes.items()) if codes
        else _("none")))
    report = dictionary.action_tags()
    if report.acted:
        typer.echo(_("Action tags acted on:"))
        for name in sorted(report.acted):
            typer.echo(f"  {name} ({_fields_word(report.acted[name])})")
    if report.kept:
        typer.echo(_("Action tags kept, not acted on:"))
        for name in sorted(report.kept):
            typer.echo(f"  {name} ({_fields_word(report.kept[name])}): {report.reasons[name]}")
    if not report.acted and not report.kept:
        typer.echo(_("Action tags: none"))


@dictionary_app.command("translations")
def translations(
    lang: Annotated[str, typer.Option("--lang", help="The language: fr, or the code of a "
                                      "new one (de, pt-BR).")],
    path: Annotated[Path | None, typer.Option(
        "--dictionary", help="Dictionary CSV (default: the study's own).")] = None,
    template: Annotated[Path | None, typer.Option(
        "--template", help="Write the translation file's skeleton to this file: every text "
        "with its English, the translations kept when the language has some.")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", "-f", help="Export the translations: mlm (REDCap Multi-Language "
        "Management JSON) or xlsform (survey and choices sheets).")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the export to this file.")] = None,
) -> None:
    """List what is left to translate in a language (texts with no translation, and
    translations made from older English), or write a template or an export."""
    if not _LANG_CODE.match(lang):
        typer.echo(_("Error: '{lang}' is not a language code (fr, de, pt-BR).").format(
            lang=lang), err=True)
        raise typer.Exit(1)
    if lang == "en":
        typer.echo(_("Error: English is the dictionary's own language; choose another "
                     "language."), err=True)
        raise typer.Exit(1)
    if fmt is not None and fmt not in ("mlm", "xlsform"):
        typer.echo(_("Error: unknown format '{format}'; use mlm or xlsform.").format(
            format=fmt), err=True)
        raise typer.Exit(1)
    if fmt == "xlsform" and output is None:
        typer.echo(_("Error: an XLSForm is a workbook; give the file to write with "
                     "--output."), err=True)
        raise typer.Exit(1)
    dictionary = _study_or(path)
    source = translations_path(Path(path) if path else _study_path(), lang)
    found = read_translations(source, lang) if source.is_file() else None
    current = found or DictionaryTranslations(lang, {})
    if template is not None:
        template.write_text(template_csv(dictionary, found), encoding="utf-8")
        left = len(left_to_translate(dictionary, found))
        typer.echo(_("Wrote {file}: {texts} texts, {left} to translate; save it as {name} "
                     "beside the dictionary.").format(file=template,
                                                      texts=len(list(dictionary.texts())),
                                                      left=left, name=source.name))
    if fmt is not None:
        _export(dictionary, current, fmt, output)
    if template is not None or fmt is not None:
        return
    _list_left(dictionary, found, lang, source)


def _study_path() -> Path:
    from forms.loader import dictionary_paths

    return dictionary_paths()[0]


def _export(dictionary: forms.DataDictionary, translations: DictionaryTranslations, fmt: str,
            output: Path | None) -> None:
    _log(fmt, len(dictionary.fields), output)
    if fmt == "mlm":
        text = json.dumps(to_redcap_mlm(dictionary, translations), ensure_ascii=False,
                          indent=2) + "\n"
        if output is None:
            typer.echo(text, nl=False)
            return
        output.write_text(text, encoding="utf-8")
    else:
        assert output is not None  # noqa: S101 (checked by the command)
        output.write_bytes(to_xlsform(dictionary, translations))
    typer.echo(_("Wrote {file} ({format}, {lang}).").format(file=output, format=fmt,
                                                            lang=translations.lang))


def _list_left(dictionary: forms.DataDictionary, found: DictionaryTranslations | None,
               lang: str, source: Path) -> None:
    total = len(list(dictionary.texts()))
    if found is None:
        typer.echo(_("{lang}: no translations yet ({file} does not exist); write its "
                     "skeleton with --template {file}.").format(lang=lang, file=source))
        return
    todo = left_to_translate(dictionary, found)
    if not todo:
        typer.echo(_("{lang}: every one of the {total} texts is translated ({file}).").format(
            lang=lang, total=total, file=source.name))
        return
    typer.echo(_("{lang}: {left} of {total} texts left to translate ({file}):").format(
        lang=lang, left=len(todo), total=total, file=source.name))
    for key, english, why in todo:
        part, name, code = key
        flag = _(" (translated from older English)") if why == "stale" else ""
        typer.echo(f"  {name},{part},{code}: {english}{flag}")


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
        typer.echo(_("Error: this dictionary has no event mapping to write; put "
                     "event_mapping.csv next to it."), err=True)
        raise typer.Exit(1)
    _log("csv", len(dictionary.fields), output)
    output.write_text(dictionary.to_redcap_csv(), encoding="utf-8")
    typer.echo(_("Wrote {file}: {count} fields, record identifier first.").format(
        file=output, count=len(dictionary.fields)))
    if events is not None:
        events.write_text(dictionary.events.to_csv(), encoding="utf-8")
        typer.echo(_("Wrote {file}: {count} form–event designations ({events}); create "
                     "these events in REDCap first.").format(
                         file=events, count=len(dictionary.events.rows),
                         events=", ".join(dictionary.events.events)))


@dictionary_app.command("codebook")
def codebook(
    fmt: Annotated[str, typer.Option("--format", "-f", help="md, html or csv.")] = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write to this file.")] = None,
    dictionary_path: Annotated[Path | None, typer.Option(
        "--dictionary", help="Dictionary CSV (default: the study's own).")] = None,
    events: EventsOption = None,
    lang: Annotated[str | None, typer.Option(
        "--lang", help="The reader's language (en, fr); default: the command's language."
    )] = None,
) -> None:
    """Print the codebook (labels, choices, logic) as Markdown, HTML or CSV, in the
    reader's language: headings and labels translated, variable names and codes not."""
    if fmt not in ("md", "markdown", "html", "csv"):
        typer.echo(_("Error: unknown format '{format}'; use md, html or csv.").format(
            format=fmt), err=True)
        raise typer.Exit(1)
    dictionary = _study_or(dictionary_path, events)
    with use_language(lang or current_language()) as reader:
        translated = dictionary.in_language(reader)
        if fmt == "html":
            text = translated.codebook_html()
        elif fmt == "csv":
            text = translated.codebook_csv()
        else:
            text = translated.codebook_markdown()
        _log(fmt, len(dictionary.fields), output)
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
            typer.echo(_("Codebook written to {file}.").format(file=output))
