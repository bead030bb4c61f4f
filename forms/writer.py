"""Writing a dictionary back to REDCap's CSV format.

A line read from a file is written back exactly as it was read (same quoting, same line
ending) as long as its field has not been edited since; an edited field, or one built in
code, is written from its typed attributes. So loading and writing a REDCap export changes
no byte, and a diff after an edit shows only the edited lines.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from forms import constants as c
from forms.fields import Field, parse_choices


def raw_cells(f: Field) -> list[str]:
    """REDCap cells from a field's typed attributes (what an edited field is written as)."""
    choices = f.calculation or (" | ".join(f"{k}, {v}" for k, v in f.choices.items())
                                if f.field_type in c.CHOICE_TYPES else
                                " | ".join(f.slider_labels))
    return [f.name, f.form, f.section_header, f.field_type, f.label, choices, f.note,
            f.validation or "", f.min or "", f.max or "", "y" if f.identifier else "",
            f.branching or "", "y" if f.required else "", f.alignment, f.question_number,
            f.matrix_group, f.matrix_ranking, f.annotation]


def _flag(cell: str) -> bool:
    return cell.strip().lower() == "y"


def unedited(f: Field) -> bool:
    """Whether the cells the field was read from still say what the field says.

    ``Field`` is frozen, so an edit is a ``dataclasses.replace`` that copies the original
    cells along; comparing them with the typed attributes is how such an edit is noticed.
    """
    raw = f.raw
    if len(raw) != len(c.COLUMNS):
        return False
    cells = dict(zip(c.COLUMNS, raw, strict=True))

    def stripped(column: str) -> str | None:
        return cells[column].strip() or None

    if f.field_type in c.CHOICE_TYPES:
        choices_agree = parse_choices(cells[c.CHOICES])[0] == f.choices
    elif f.field_type == "calc":
        choices_agree = stripped(c.CHOICES) == f.calculation
    else:
        choices_agree = True
    return choices_agree and (
        cells[c.VARIABLE].strip(), cells[c.FORM].strip(), cells[c.SECTION],
        cells[c.FIELD_TYPE].strip().lower(), cells[c.LABEL], cells[c.NOTE],
        stripped(c.VALIDATION), stripped(c.MIN), stripped(c.MAX), _flag(cells[c.IDENTIFIER]),
        stripped(c.BRANCHING), _flag(cells[c.REQUIRED]), cells[c.ALIGNMENT].strip(),
        cells[c.QUESTION_NUMBER].strip(), cells[c.MATRIX_GROUP].strip(),
        cells[c.MATRIX_RANKING].strip(), cells[c.ANNOTATION],
    ) == (
        f.name, f.form, f.section_header, f.field_type, f.label, f.note, f.validation, f.min,
        f.max, f.identifier, f.branching, f.required, f.alignment, f.question_number,
        f.matrix_group, f.matrix_ranking, f.annotation,
    )


def _row(cells: Iterable[str], ending: str = "\n") -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator=ending, quoting=csv.QUOTE_MINIMAL).writerow(cells)
    return out.getvalue()


def to_csv(fields: Iterable[Field], *, header_text: str = "", trailer: str = "") -> str:
    """The dictionary in REDCap's format: unedited lines as read, others freshly written.

    ``header_text`` and ``trailer`` (blank lines after the last row) are the file's own,
    when the dictionary was read from one; freshly written lines take the file's line
    ending (a REDCap export on Windows uses CRLF).
    """
    ending = "\r\n" if header_text.endswith("\r\n") else "\n"
    parts = [header_text or _row(c.COLUMNS)]
    for f in fields:
        same = unedited(f)
        text = f.raw_text if f.raw_text and same \
            else _row(f.raw if same else raw_cells(f), ending)
        if not parts[-1].endswith(("\n", "\r")):
            parts[-1] += ending
        parts.append(text)
    parts.append(trailer)
    return "".join(parts)
