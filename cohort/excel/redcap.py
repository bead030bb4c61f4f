"""A REDCap "records" export (flat CSV) read as rows, one per record and event (or instance).

The export has ``record_id`` (or the project's record field) first, ``redcap_event_name``
(``m0_arm_1``…), one column per field, ``field___code`` columns for checkboxes, and a
``<form>_complete`` column per instrument. Rows of the timepoint events are questionnaire
rows; an M0 row also carries the enrolment form, from which a record new here is enrolled
(``records.resolve`` says which participant each record is). Rows of the forms filled
between visits, the AERLI session log and the follow-up status (``ongoing_arm_1``, one
``redcap_repeat_instance`` each), carry their form's answers and go through the session
and status services. REDCap's session form does not name the workers present, so an
optional ``workers_present`` column (staff ids or usernames) is read on session rows.
A repeating instrument of another form, values in a form that is not filled on the row,
and columns the dictionary does not know are refused rather than dropped.
"""

from __future__ import annotations

import csv
import io

from openpyxl.utils import get_column_letter

from cohort.dictionary import get_dictionary
from cohort.errors import CohortError
from cohort.excel.cells import CellError, Reader, reader_for
from cohort.excel.guard import ROW_SLACK, WorkbookRefused, check_size, workbook_limits
from cohort.excel.layout import (
    CHECKBOX_SEPARATOR,
    CODE,
    STAFF,
    Column,
    Kind,
    columns_for,
    field_columns,
)
from cohort.excel.reader import EntryRow, EntrySheet, Layout, Problem, WorkbookUnreadable
from cohort.messages import msg
from cohort.schedule import get_schedule
from cohort.vocab import Timepoint
from forms.events import ONGOING_EVENT

SHEET = "records"
EVENT = "redcap_event_name"
#: Columns REDCap adds that carry no answer.
BOOKKEEPING = frozenset({"redcap_data_access_group", "redcap_survey_identifier",
                         "redcap_repeat_instance"})
REPEAT = "redcap_repeat_instrument"
SESSION_FORM = "aerli_session"
STATUS_FORM = "follow_up_status"
#: Forms filled between visits (``ongoing_arm_1``), one repeat instance per session or status.
ONGOING_FORMS = (SESSION_FORM, STATUS_FORM)


def _field_of(name: str) -> str:
    return name.split(CHECKBOX_SEPARATOR, 1)[0]


def _lines(text: str, name: str, max_rows: int) -> list[list[str]]:
    """The CSV's lines, at most ``max_rows``; a NUL byte or a broken quote is refused."""
    if "\x00" in text:
        raise WorkbookUnreadable(msg("redcap.nul_characters", name=name))
    lines: list[list[str]] = []
    try:
        for line in csv.reader(io.StringIO(text)):
            lines.append(line)
            if len(lines) > max_rows:
                raise WorkbookRefused(msg("redcap.too_many_rows", name=name,
                                          limit=max_rows - ROW_SLACK))
    except csv.Error as error:
        raise WorkbookUnreadable(msg("redcap.bad_csv", name=name, error=error)) from None
    return lines


def read_records(data: bytes, *, name: str = "records.csv") -> EntrySheet:
    """Read the export; problems are attached to the CSV cell (row = line number)."""
    limits = workbook_limits()
    check_size(len(data), limits)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise WorkbookUnreadable(msg("redcap.not_utf8", name=name)) from None
    lines = _lines(text, name, limits.max_rows + ROW_SLACK)
    if not lines or len(lines[0]) < 2:
        raise WorkbookUnreadable(msg("redcap.empty", name=name))
    header = [h.strip().lower() for h in lines[0]]
    if EVENT not in header:
        raise WorkbookUnreadable(msg("redcap.no_event_column", name=name, column=EVENT))
    letters = {h: get_column_letter(i + 1) for i, h in enumerate(header)}
    letters[CODE] = "A"  # the record id is the participant's study code
    sheet = EntrySheet(Kind.QUESTIONNAIRE, None, None, [Layout(SHEET, 1, letters)],
                       source="export")
    dictionary = get_dictionary()
    schedule = get_schedule()
    events = {v.event: Timepoint(v.name) for v in schedule}
    baseline = Timepoint(schedule.baseline.name)
    per_event: dict[Timepoint, list[tuple[int, Column, Reader]]] = {}
    by_name: dict[Timepoint, set[str]] = {}
    enrolment_columns = columns_for(Kind.ENROLMENT, entry=False)
    for tp in events.values():
        wanted = {c.name: c for c in columns_for(Kind.QUESTIONNAIRE, tp, entry=False)}
        per_event[tp] = [(i, wanted[h], reader_for(wanted[h]))
                         for i, h in enumerate(header) if h in wanted]
        by_name[tp] = set(wanted)
    by_name[baseline] |= {c.name for c in enrolment_columns}
    enrolment = [(i, c, reader_for(c)) for c in enrolment_columns
                 for i, h in enumerate(header) if h == c.name]
    per_form: dict[str, list[tuple[int, Column, Reader]]] = {}
    form_names: dict[str, set[str]] = {}
    for form in ONGOING_FORMS:
        missing = tuple(dictionary.missing_codes)
        wanted = {c.name: c for f in dictionary.form(form).fields
                  for c in field_columns(f, None, missing)}
        per_form[form] = [(i, wanted[h], reader_for(wanted[h]))
                          for i, h in enumerate(header) if h in wanted]
        form_names[form] = set(wanted)
    asked = set().union(*by_name.values(), *form_names.values())
    known = {name for f in dictionary.fields.values() for name in f.export_columns()}
    known |= {f"{f.name}___{code.lower()}" for f in dictionary.fields.values()
              if f.is_checkbox for code in dictionary.missing_codes}
    answer_columns: list[tuple[int, str]] = []
    for index, column in enumerate(header):
        if index == 0 or column in (EVENT, REPEAT, STAFF) or column in BOOKKEEPING \
                or column.endswith("_complete"):
            continue
        if column not in known:
            sheet.problems.append(Problem(
                SHEET, 1, get_column_letter(index + 1), column, "import.unknown_column",
                msg("redcap.unknown_column", column=column)))
        elif column in asked:
            answer_columns.append((index, column))
    all_events = [*events, ONGOING_EVENT]
    for number, values in enumerate(lines[1:], start=2):
        if not any(v.strip() for v in values):
            sheet.blank_rows += 1
            continue
        cells = dict(zip(header, values, strict=False))
        code = cells.get(header[0], "").strip().upper() or None
        event = cells.get(EVENT, "").strip().lower()
        instrument = cells.get(REPEAT, "").strip().lower()
        row = EntryRow(number, f"{SHEET}!{number}", code, {})
        if event not in all_events:
            sheet.problems.append(Problem(
                SHEET, number, letters[EVENT], EVENT, "redcap.unknown_event",
                msg("redcap.unknown_event", event=event, events=', '.join(all_events))))
            continue
        if instrument or event == ONGOING_EVENT:
            if not instrument:
                filled = _filled_forms(values, per_form)
                if len(filled) != 1:
                    if filled:
                        sheet.problems.append(_several_forms(number, letters, event, filled))
                    else:
                        sheet.blank_rows += 1
                    continue
                instrument = filled[0]
            if instrument not in ONGOING_FORMS:
                sheet.problems.append(_not_repeating(number, letters, instrument))
                continue
            row.instrument = instrument
            _answers(sheet, row, values, per_form[instrument])
            allowed, where = form_names[instrument], {"form": instrument}
            if instrument == SESSION_FORM:
                row.staff = cells.get(STAFF, "").strip() or None
        else:
            timepoint = events[event]
            row.timepoint = timepoint
            _answers(sheet, row, values, per_event[timepoint])
            if timepoint == baseline:
                found = EntryRow(number, row.ref, code, {})
                _answers(sheet, found, values, enrolment)
                row.enrolment = found.answers or None
                row.centre = cells.get("redcap_data_access_group", "").strip().upper() or None
            allowed, where = by_name[timepoint], {"timepoint": timepoint.value, "event": event}
        for index, column in answer_columns:
            if column not in allowed and index < len(values) \
                    and values[index].strip() and values[index].strip() != "0":
                sheet.problems.append(Problem(
                    SHEET, number, get_column_letter(index + 1), _field_of(column),
                    "redcap.not_in_event",
                    msg("redcap.not_asked_in_form" if "form" in where
                        else "redcap.not_asked_at_event", column=column, **where)))
        if row.instrument != SESSION_FORM and cells.get(STAFF, "").strip():
            sheet.problems.append(Problem(
                SHEET, number, letters[STAFF], STAFF, "redcap.not_in_event",
                msg("redcap.staff_on_session_rows", column=STAFF)))
        if row.answers:
            sheet.rows.append(row)
        else:
            sheet.blank_rows += 1
    if not sheet.rows and not sheet.problems:
        raise CohortError(msg("redcap.no_answers", name=name))
    return sheet


def _filled_forms(values: list[str],
                  per_form: dict[str, list[tuple[int, Column, Reader]]]) -> list[str]:
    """The ongoing forms a row without ``redcap_repeat_instrument`` holds answers of."""
    return [form for form, readers in per_form.items()
            if any(i < len(values) and values[i].strip() not in ("", "0")
                   for i, _, _ in readers)]


def _several_forms(number: int, letters: dict[str, str], event: str,
                   filled: list[str]) -> Problem:
    return Problem(SHEET, number, letters.get(REPEAT) or letters[EVENT], REPEAT,
                   "redcap.repeating_row",
                   msg("redcap.several_forms", event=event, forms=', '.join(filled)))


def _not_repeating(number: int, letters: dict[str, str], instrument: str) -> Problem:
    """A repeating-instrument row that cannot be mapped, named for what it is."""
    forms = get_dictionary().forms
    ongoing = ", ".join(f"'{forms[f].label}' ({f})" for f in ONGOING_FORMS)
    if instrument in forms:
        message = msg("redcap.not_repeating", label=forms[instrument].label,
                      instrument=instrument, ongoing=ongoing)
    else:
        message = msg("redcap.unknown_instrument", instrument=instrument, ongoing=ongoing)
    column = letters.get(REPEAT) or letters[EVENT]
    return Problem(SHEET, number, column, REPEAT, "redcap.repeating_row", message)


def _answers(sheet: EntrySheet, row: EntryRow, values: list[str],
             readers: list[tuple[int, Column, Reader]]) -> None:
    ticks: dict[str, list[str]] = {}
    missing: dict[str, str] = {}
    for index, column, read in readers:
        raw = values[index] if index < len(values) else ""
        try:
            value = read(raw)
        except CellError as error:
            sheet.problems.append(Problem(SHEET, row.number, get_column_letter(index + 1),
                                          _field_of(column.name), "import.unreadable_value",
                                          error.message))
            continue
        if column.choice is not None and column.field is not None:
            chosen = ticks.setdefault(column.field.name, [])
            if isinstance(value, str):
                missing[column.field.name] = value
            elif value and column.missing_choice:
                missing[column.field.name] = column.choice
            elif value:
                chosen.append(column.choice)
        elif value is not None:
            row.answers[column.name] = value
    for name, chosen in ticks.items():
        if name in missing:
            row.answers[name] = missing[name]
        elif chosen:
            row.answers[name] = chosen
