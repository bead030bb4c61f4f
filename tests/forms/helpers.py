"""Tiny inline dictionaries for the forms tests: a few REDCap lines, the header added."""

from __future__ import annotations

import csv
import io

from forms import DataDictionary, load_dictionary_text
from forms.constants import COLUMNS

SHORT = {
    "name": 0, "form": 1, "section": 2, "type": 3, "label": 4, "choices": 5, "note": 6,
    "validation": 7, "min": 8, "max": 9, "identifier": 10, "branching": 11, "required": 12,
    "alignment": 13, "question": 14, "matrix": 15, "ranking": 16, "annotation": 17,
}


def line(name: str, ftype: str, label: str = "", form: str = "f", **cells: str) -> list[str]:
    row = [""] * len(COLUMNS)
    row[0], row[1], row[3], row[4] = name, form, ftype, label or name.replace("_", " ").title()
    for key, value in cells.items():
        row[SHORT[key]] = value
    return row


def csv_text(*rows: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


def dd(*rows: list[str], events: str | None = None) -> DataDictionary:
    return load_dictionary_text(csv_text(*rows), events_text=events)
