"""``cohort i18n``: keeping the French (and any later language's) catalogues.

``update`` brings the ``.po`` files in line with the sources and says what is left to
translate per domain; ``check`` fails (exit 1) listing every untranslated message, as the
test of the catalogues does, so a translator can run it before committing.
"""

from __future__ import annotations

from typing import Annotated

import typer

from forms.i18n import DOMAINS, LANGUAGES, _

i18n_app = typer.Typer(help="Translation catalogues: update them from the sources, check them.",
                       no_args_is_help=True)

Lang = Annotated[str | None, typer.Option(
    "--lang", help="A language other than English (default: every one we speak).")]
Domain = Annotated[list[str] | None, typer.Option(
    "--domain", help="Only this domain (messages, pages, forms, excel, report, cli); "
                     "repeat for several.")]


def _languages(lang: str | None) -> list[str]:
    others = list(LANGUAGES[1:])
    if lang is None:
        return others
    if lang not in others:
        typer.echo(_("Error: '{lang}' is not a language to translate into; use {languages}.")
                   .format(lang=lang, languages=", ".join(others)), err=True)
        raise typer.Exit(2)
    return [lang]


def _domains(domains: list[str] | None) -> list[str]:
    unknown = [d for d in domains or [] if d not in DOMAINS]
    if unknown:
        typer.echo(_("Error: unknown domain(s) {unknown}; use {domains}.")
                   .format(unknown=", ".join(unknown), domains=", ".join(DOMAINS)), err=True)
        raise typer.Exit(2)
    return list(domains or DOMAINS)


@i18n_app.command()
def update(lang: Lang = None, domain: Domain = None) -> None:
    """Refresh the .po files from the sources: new words added empty, changed ones marked
    fuzzy, gone ones dropped; print how many are left to translate per domain."""
    from forms.i18n import reload
    from forms.i18n.catalogues import po_path
    from forms.i18n.catalogues import update as update_catalogues

    for code in _languages(lang):
        left = update_catalogues(code, _domains(domain))
        for name, count in left.items():
            typer.echo(_("{lang} {domain}: {count} left to translate ({path})").format(
                lang=code, domain=name, count=count, path=po_path(code, name)))
    reload()


@i18n_app.command()
def check(lang: Lang = None, domain: Domain = None) -> None:
    """List every message a catalogue leaves untranslated (missing, empty, fuzzy, or with
    other placeholders than the English); exit 1 if there is any."""
    from forms.i18n.catalogues import missing

    found = 0
    for code in _languages(lang):
        for name in _domains(domain):
            gaps = missing(code, name)
            found += len(gaps)
            if gaps:
                typer.echo(_("{lang} {domain}: {count} untranslated").format(
                    lang=code, domain=name, count=len(gaps)))
                for gap in gaps:
                    typer.echo(f"  {gap}")
    if found:
        typer.echo(_("{count} message(s) to translate: edit the .po files (after "
                     "`cohort i18n update`), then check again.").format(count=found), err=True)
        raise typer.Exit(1)
    typer.echo(_("Every message is translated."))
