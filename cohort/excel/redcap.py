"""A REDCap "records" export (flat CSV) read as questionnaire rows, one per record and event.

The export has ``record_id`` (or the project's record field) first, ``redcap_event_name``
(``m0_arm_1``…), one column per field, ``field___code`` columns for checkboxes, and a
``<form>_complete`` column per instrument. A record id that is a participant's study code
adds questionnaires to that participant. Any other record is enrolled from the enrolment
form of its M0 row (in the centre named by ``redcap_data_access_group``, else the
importing person's centre) and gets a new study code, reported next to its record id;
its questionnaires are then saved under that code. Values in a form that is not filled
at the row's event, and columns the dictionary does not know, are refused rather than
dropped.
"""

from __future__ import annotations

import csv
import io

from openpyxl.utils import get_column_letter

from cohort.dictionary import get_dictionary
from cohort.errors import CohortError
from cohort.excel.cells import CellError, Reader, reader_for
from cohort.excel.layout import CHECKBOX_SEPARATOR, CODE, Column, Kind, columns_for
from cohort.excel.reader import EntryRow, EntrySheet, Layout, Problem, WorkbookUnreadable
from cohort.vocab import TIMEPOINT_EVENTS, Timepoint

SHEET = "records"
EVENT = "redcap_event_name"
#: Columns REDCap adds that carry no answer.
BOOKKEEPING = frozenset({"redcap_data_access_group", "redcap_survey_identifier",
                         "redcap_repeat_instance"})
REPEAT = "redcap_repeat_instrument"


def _field_of(name: str) -> str:
    return name.split(CHECKBOX_SEPARATOR, 1)[0]


def read_records(data: bytes, *, name: str = "records.csv") -> EntrySheet:
    """Read the export; problems are attached to the CSV cell (row = line number)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise WorkbookUnreadable(f"{name} is neither an .xlsx workbook nor a UTF-8 CSV "
                                 "file; export the records from REDCap as CSV.") from None
    lines = list(csv.reader(io.StringIO(text)))
    if not lines or len(lines[0]) < 2:
        raise WorkbookUnreadable(f"{name} is empty or not a CSV export of REDCap records.")
    header = [h.strip().lower() for h in lines[0]]
    if EVENT not in header:
        raise WorkbookUnreadable(
            f"{name} has no '{EVENT}' column: export the records of the longitudinal "
            "project, with the event column, in REDCap's flat CSV format.")
    letters = {h: get_column_letter(i + 1) for i, h in enumerate(header)}
    letters[CODE] = "A"  # the record id is the participant's study code
    sheet = EntrySheet(Kind.QUESTIONNAIRE, None, None, [Layout(SHEET, 1, letters)],
                       source="export")
    dictionary = get_dictionary()
    events = {event: tp for tp, event in TIMEPOINT_EVENTS.items()}
    per_event: dict[Timepoint, list[tuple[int, Column, Reader]]] = {}
    by_name: dict[Timepoint, set[str]] = {}
    for tp in Timepoint:
        wanted = {c.name: c for c in columns_for(Kind.QUESTIONNAIRE, tp)}
        per_event[tp] = [(i, wanted[h], reader_for(wanted[h]))
                         for i, h in enumerate(header) if h in wanted]
        by_name[tp] = set(wanted)
    enrolment = [(i, c, reader_for(c)) for c in columns_for(Kind.ENROLMENT)
                 for i, h in enumerate(header) if h == c.name]
    asked = set().union(*by_name.values())
    known = {name for f in dictionary.fields.values() for name in f.export_columns()}
    answer_columns: list[tuple[int, str]] = []
    for index, column in enumerate(header):
        if index == 0 or column in (EVENT, REPEAT) or column in BOOKKEEPING \
                or column.endswith("_complete"):
            continue
        if column not in known:
            sheet.problems.append(Problem(
                SHEET, 1, get_column_letter(index + 1), column, "import.unknown_column",
                f"'{column}' is not a variable of the data dictionary; remove the column or "
                "load the dictionary it comes from."))
        elif column in asked:
            answer_columns.append((index, column))
    for number, values in enumerate(lines[1:], start=2):
        if not any(v.strip() for v in values):
            sheet.blank_rows += 1
            continue
        cells = dict(zip(header, values, strict=False))
        code = cells.get(header[0], "").strip().upper() or None
        event = cells.get(EVENT, "").strip().lower()
        row = EntryRow(number, f"{SHEET}!{number}", code, {})
        if cells.get(REPEAT, "").strip():
            sheet.problems.append(Problem(
                SHEET, number, letters[REPEAT], REPEAT, "redcap.repeating_row",
                f"Rows of the repeating instrument '{cells[REPEAT].strip()}' are not "
                "imported from REDCap; log AERLI sessions with a session workbook and remove "
                "these rows."))
            continue
        timepoint = events.get(event)
        if timepoint is None:
            sheet.problems.append(Problem(
                SHEET, number, letters[EVENT], EVENT, "redcap.unknown_event",
                f"'{event}' is not one of the study's events "
                f"({', '.join(TIMEPOINT_EVENTS.values())})."))
            continue
        row.timepoint = timepoint
        _answers(sheet, row, values, per_event[timepoint])
        if timepoint is Timepoint.M0:
            found = EntryRow(number, row.ref, code, {})
            _answers(sheet, found, values, enrolment)
            row.enrolment = found.answers or None
            row.centre = cells.get("redcap_data_access_group", "").strip().upper() or None
        for index, column in answer_columns:
            if column not in by_name[timepoint] and index < len(values) \
                    and values[index].strip() and values[index].strip() != "0":
                sheet.problems.append(Problem(
                    SHEET, number, get_column_letter(index + 1), _field_of(column),
                    "redcap.not_in_event",
                    f"'{column}' is not asked at {timepoint.value} ({event}), but has a "
                    "value here; move it to the right event row or clear it."))
        if row.answers:
            sheet.rows.append(row)
        else:
            sheet.blank_rows += 1
    if not sheet.rows and not sheet.problems:
        raise CohortError(f"{name} holds no questionnaire answers to import.")
    return sheet


def _answers(sheet: EntrySheet, row: EntryRow, values: list[str],
             readers: list[tuple[int, Column, Reader]]) -> None:
    ticks: dict[str, list[str]] = {}
    for index, column, read in readers:
        raw = values[index] if index < len(values) else ""
        try:
            value = read(raw)
        except CellError as error:
            sheet.problems.append(Problem(SHEET, row.number, get_column_letter(index + 1),
                                          _field_of(column.name), "import.unreadable_value",
                                          str(error)))
            continue
        if column.choice is not None and column.field is not None:
            chosen = ticks.setdefault(column.field.name, [])
            if value:
                chosen.append(column.choice)
        elif value is not None:
            row.answers[column.name] = value
    for name, chosen in ticks.items():
        if chosen:
            row.answers[name] = chosen
