"""The codebook: every variable with its label, type, choices and logic, for people.

The CSV is for statisticians' scripts; the Markdown and HTML pages are for reading. Both list
checkbox fields with the export columns REDCap writes (``field___code``) so that a codebook
matches an export column for column.

A codebook is in its reader's language: the headings and sentences here through gettext
(domain ``forms``, read when the codebook is written, so in the current language), the
labels, choices and notes from the dictionary itself (``DataDictionary.in_language`` gives
the copy to write from). Variable names, codes, field types, validation names, logic and
the CSV's column names are never translated: they are what an export and a script use.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Mapping
from typing import Any, Protocol

from forms.events import EventMapping
from forms.fields import Field
from forms.i18n import _, current_language
from forms.safe_cells import neutralise


class FormDefinition(Protocol):
    """What the codebook reads of a form (``forms.dictionary.FormDefinition``, which
    builds on this module)."""

    @property
    def label(self) -> str: ...

CODEBOOK_COLUMNS = (
    "variable", "form", "section", "field_type", "kind", "label", "choices", "validation",
    "min", "max", "required", "identifier", "branching", "calculation", "note",
    "export_columns", "events",
)


def choice_text(choices: Mapping[str, str]) -> str:
    return "; ".join(f"{code} = {label}" for code, label in choices.items())


def rows(fields: list[Field], events: EventMapping) -> list[dict[str, Any]]:
    out = []
    for f in fields:
        out.append({
            "variable": f.name, "form": f.form, "section": f.section_header,
            "field_type": f.field_type, "kind": f.kind, "label": f.plain_label,
            "choices": choice_text(f.choices), "validation": f.validation or "",
            "min": f.min or "", "max": f.max or "", "required": f.required,
            "identifier": f.identifier, "branching": f.branching or "",
            "calculation": f.calculation or "", "note": f.note,
            "export_columns": " ".join(f.export_columns()),
            "events": " ".join(events.events_for(f.form)),
        })
    return out


def to_csv(codebook_rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    # RFC 4180 line ends: a label holding a carriage return is then quoted, not split.
    writer = csv.DictWriter(out, CODEBOOK_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in codebook_rows:
        writer.writerow({k: neutralise("y" if v is True else "" if v is False else v)
                         for k, v in row.items()})
    return out.getvalue()


def _when(form: str, events: EventMapping) -> str:
    found = events.events_for(form)
    return ", ".join(found) if found else _("not tied to a timepoint (filled when needed)")


def _range(row: dict[str, Any]) -> str:
    return _("{low} to {high}").format(low=row["min"] or "…", high=row["max"] or "…")


def _md(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def to_markdown(codebook_rows: list[dict[str, Any]], forms: Mapping[str, FormDefinition],
                events: EventMapping) -> str:
    lines = ["# " + _("Codebook"), "",
             _("Every variable of the data dictionary, form by form. Checkbox questions are "
               "exported as one 0/1 column per choice (`field___code`)."), ""]
    head = [_("Variable"), _("Label"), _("Type"), _("Values"), _("Shown if"), _("Notes")]
    for name, form in forms.items():
        lines += [f"## {form.label} (`{name}`)", "",
                  _("Filled at: {when}.").format(when=_when(name, events)), "",
                  "| " + " | ".join(head) + " |", "|---|---|---|---|---|---|"]
        for row in codebook_rows:
            if row["form"] != name:
                continue
            kind = row["field_type"] + (f" ({row['validation']})" if row["validation"] else "")
            values = row["choices"] or row["calculation"]
            if row["min"] or row["max"]:
                values = _range(row)
            notes = [row["note"]] if row["note"] else []
            if row["required"]:
                notes.append(_("required"))
            if row["field_type"] == "checkbox":
                notes.append(_("columns: {columns}").format(columns=row["export_columns"]))
            lines.append(f"| `{row['variable']}` | {_md(row['label'])} | {_md(kind)} | "
                         f"{_md(values)} | {_md(row['branching'])} | {_md('; '.join(notes))} |")
        lines.append("")
    return "\n".join(lines)


def to_html(codebook_rows: list[dict[str, Any]], forms: Mapping[str, FormDefinition],
            events: EventMapping) -> str:
    e = html.escape
    title = e(_("Codebook"))
    parts = ["<!doctype html>",
             f'<html lang="{e(current_language())}"><head><meta charset="utf-8">',
             f"<title>{title}</title>",
             "<style>body{font-family:sans-serif;margin:2rem}table{border-collapse:collapse;"
             "width:100%}td,th{border:1px solid #ccc;padding:.3rem;vertical-align:top;"
             "text-align:left}code{font-size:.9em}</style></head><body>",
             f"<h1>{title}</h1>"]
    head = "".join(f"<th>{e(word)}</th>" for word in (
        _("Variable"), _("Label"), _("Type"), _("Values"), _("Shown if"), _("Notes")))
    for name, form in forms.items():
        parts.append(f"<h2>{e(form.label)} <code>{e(name)}</code></h2>")
        parts.append("<p>" + e(_("Filled at: {when}.").format(when=_when(name, events)))
                     + "</p>")
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>")
        for row in codebook_rows:
            if row["form"] != name:
                continue
            choices = row["choices"]
            if choices:
                items = "".join(f"<li>{e(item)}</li>" for item in choices.split("; "))
                values = f"<ul>{items}</ul>"
            else:
                values = e(row["calculation"] or (_range(row) if row["min"] or row["max"]
                                                  else ""))
            kind = row["field_type"] + (f" ({row['validation']})" if row["validation"] else "")
            notes = e(row["note"]) + (f" <strong>{e(_('Required.'))}</strong>"
                                      if row["required"] else "")
            parts.append(f"<tr><td><code>{e(row['variable'])}</code></td><td>{e(row['label'])}"
                         f"</td><td>{e(kind)}</td><td>{values}</td>"
                         f"<td><code>{e(row['branching'])}</code></td><td>{notes}</td></tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
