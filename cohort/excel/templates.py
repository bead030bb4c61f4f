"""Entry workbooks built from the data dictionary, one row per participant due.

A template has a plain-words ``Instructions`` sheet, one entry sheet (labels on row 1,
variable names on row 2, both locked and frozen; data from row 3) with drop-down lists,
date and number checks and the field note as input help, and two hidden sheets: ``_lists``
(the drop-down choices) and ``_meta`` (kind, centre, timepoint, dictionary version), which
lets an import recognise the entry sheet even after it was renamed.

Drop-down lists and date cells use the *warning* error style, not *stop*: the importer
reads a typed answer number (``2``), the answer's words (``Squat``) and a date typed as
``31/03/2026``, but a stop-style check would refuse them at the keyboard, offline, where
nobody can help. Excel and LibreOffice then warn and let the person keep what they typed;
the import still checks every cell. Number checks keep the stop style: a number outside
the range would be refused at import anyway.

Every word is in the language of whoever asks for the template (``forms.i18n``): the
instructions, the sheet's title, row 1 and the help from the ``excel`` catalogue and the
dictionary's translation, the drop-down lists in the dictionary's words for that language
(« 1 = Oui »). Row 2 (the variable names), the codes before ``=``, the hidden sheets and
the cells' dates (real dates, shown yyyy-mm-dd) are the same in every language; ``_meta``
records the language the template was made in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from io import BytesIO

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel import Session, col, select

from cohort.errors import CohortError, NotFound
from cohort.excel.layout import (
    CODE,
    FIRST_DATA_ROW,
    FORMAT_VERSION,
    INSTRUCTIONS_SHEET,
    LABEL_ROW,
    LISTS_SHEET,
    META_SHEET,
    NAME_ROW,
    SUMMARY_SHEET,
    Column,
    Kind,
    choice_entries,
    columns_for,
    dictionary_version,
    sheet_title,
    shown_dictionary,
)
from cohort.messages import msg
from cohort.models import Centre, Participant, Questionnaire
from cohort.schedule import get_schedule
from cohort.services.context import Actor
from cohort.services.monitoring import participant_overview, worklist
from cohort.vocab import Timepoint
from forms import piping
from forms.i18n import N_, _, current_language, format_date
from forms.piping import has_piping, pipe
from forms.safe_cells import neutralise, neutralise_row
from forms.values import fixed_bound

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
LOCKED_FILL = PatternFill("solid", fgColor="EDEDED")
_TAGS = re.compile(r"<[^>]+>")
NAME_FILL = PatternFill("solid", fgColor="F2F2F2")
EMPTY_ROWS = 50
ONLINE = N_("When you are back online")
DATE_FORMAT = "yyyy-mm-dd"


def due_codes(session: Session, *, actor: Actor, centre: Centre, timepoint: Timepoint,
              as_of: date) -> list[str]:
    """Codes of the centre's participants whose ``timepoint`` visit is due or overdue."""
    if timepoint == get_schedule().baseline.name:
        rows = participant_overview(session, actor=actor, as_of=as_of, centre_id=centre.id)
        return [r.code for r in rows if r.next_timepoint == timepoint
                and r.window_state in ("due", "overdue")]
    items = worklist(session, actor=actor, as_of=as_of, centre_id=centre.id, horizon_days=0)
    return sorted(i.code for i in items if i.timepoint == timepoint
                  and i.state in ("due", "overdue"))


def find_centre(session: Session, actor: Actor, code: str) -> Centre:
    centre = session.exec(select(Centre).where(Centre.code == code.strip().upper())).first()
    if centre is None or centre.id is None or not actor.can_see(centre.id):
        raise NotFound(msg("centre.not_found", code=code))
    return centre


def build_template(
    session: Session,
    *,
    actor: Actor,
    kind: Kind,
    centre_code: str,
    timepoint: Timepoint | None = None,
    as_of: date,
) -> tuple[bytes, int]:
    """The workbook's bytes and how many participant rows were pre-filled."""
    if kind is Kind.QUESTIONNAIRE and timepoint is None:
        raise CohortError(msg("template.timepoint_needed", visits=get_schedule().describe()))
    centre = find_centre(session, actor, centre_code)
    codes = (due_codes(session, actor=actor, centre=centre, timepoint=timepoint, as_of=as_of)
             if kind is Kind.QUESTIONNAIRE and timepoint is not None else [])
    others = _other_visits(session, codes, timepoint) if codes else {}
    return template_bytes(kind, centre.code, timepoint, codes, as_of, others), len(codes)


def _other_visits(session: Session, codes: Sequence[str], timepoint: Timepoint | None
                  ) -> dict[str, dict[str, dict[str, object]]]:
    """Code -> event -> answers of the participants' other questionnaires (for piping
    ``[m0_arm_1][weight]`` into a row's question)."""
    rows = session.exec(select(Participant.code, Questionnaire.timepoint, Questionnaire.answers)
                        .join(Questionnaire, col(Questionnaire.participant_id)
                              == col(Participant.id))
                        .where(col(Participant.code).in_(list(codes)))).all()
    out: dict[str, dict[str, dict[str, object]]] = {}
    for code, tp, answers in rows:
        if tp != timepoint:
            out.setdefault(code, {})[get_schedule().event(tp)] = dict(answers)
    return out


def template_bytes(kind: Kind, centre_code: str, timepoint: Timepoint | None,
                   codes: Sequence[str], as_of: date,
                   others: Mapping[str, Mapping[str, Mapping[str, object]]] | None = None
                   ) -> bytes:
    columns = columns_for(kind, timepoint)
    book = Workbook()
    intro = book.active
    assert intro is not None  # noqa: S101
    intro.title = _(INSTRUCTIONS_SHEET)
    title = sheet_title(kind, timepoint)
    sheet = book.create_sheet(title)
    lists = book.create_sheet(LISTS_SHEET)
    meta = book.create_sheet(META_SHEET)
    _instructions(intro, kind, title, centre_code, timepoint, as_of)
    _entry_sheet(sheet, lists, columns, codes)
    _piped_rows(sheet, columns, codes, others or {}, timepoint)
    for key, value in (("kind", kind.value), ("centre", centre_code),
                       ("timepoint", timepoint.value if timepoint else ""),
                       ("dictionary_version", dictionary_version()),
                       ("sheet", title), ("format", FORMAT_VERSION),
                       ("generated_on", as_of.isoformat()), ("language", current_language())):
        meta.append(neutralise_row([key, value]))
    lists.sheet_state = "hidden"
    meta.sheet_state = "hidden"
    book.active = 1
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _instructions(ws: Worksheet, kind: Kind, title: str, centre: str,
                  timepoint: Timepoint | None, as_of: date) -> None:
    what = {Kind.QUESTIONNAIRE: _("Workbook for centre {centre}: the {timepoint} questionnaire "
                                  "of the participants listed (their visit is due now)."),
            Kind.ENROLMENT: _("Workbook for centre {centre}: new participants, one row per "
                              "person you include."),
            Kind.SESSION: _("Workbook for centre {centre}: AERLI sessions, one row per "
                            "session.")}[kind]
    online = _(ONLINE)
    lines = [
        what.format(centre=centre, timepoint=timepoint.value if timepoint else ""),
        _("Made on {date}. Fill in the sheet '{title}'.").format(
            date=format_date(as_of), title=title),
        "",
        _("How to fill it in"),
        _("• One row per person.") if kind is not Kind.SESSION else _("• One row per session."),
        _("• Row 1 is the question, row 2 the variable name: please do not change rows 1 "
          "and 2."),
        _("• You may copy the sheet '{title}' and fill the copy too: every sheet with these "
          "two rows is imported.").format(title=title),
        _("• Click a cell to see help."),
        _("• Where there is a list, pick from it. You may also type the answer's number (the "
          "number before '=' in the list, e.g. 2) or its words as written in the list: Excel "
          "then asks 'Continue?', answer Yes; LibreOffice warns, press OK."),
        _("• Tick-box columns (one per answer): pick 1 = Yes, or type 1, yes or x; leave the "
          "cell empty when that answer does not apply."),
        _("• Dates: type them as 2026-03-31 (year-month-day), which every program reads the "
          "same way; 31/03/2026 is read as day/month/year. If a warning says it is not a "
          "date, keep it (Yes or OK)."),
        _("• Leave a cell empty when the person did not answer, or the question does not "
          "apply."),
        _("• A row left empty (apart from the participant code) is not imported."),
        _("• Please do not write names, nicknames, addresses or anything that could identify "
          "someone, in any cell."),
        "",
        online,
        _("• Import the file (cohort import, or the Import page). If anything needs "
          "correcting, nothing is saved and you get this workbook back with the cells to "
          "fix in red and a comment on each; a '{summary}' sheet lists them all.").format(
            summary=_(SUMMARY_SHEET)),
        _("• Importing the same workbook twice saves nothing twice."),
    ]
    for line in lines:
        ws.append(neutralise_row([line]))
    ws["A1"].font = Font(bold=True, size=13)
    ws["A4"].font = Font(bold=True)
    ws[f"A{lines.index(online) + 1}"].font = Font(bold=True)
    ws.column_dimensions["A"].width = 110


def _entry_sheet(ws: Worksheet, lists: Worksheet, columns: Sequence[Column],
                 codes: Sequence[str]) -> None:
    last_row = FIRST_DATA_ROW + max(len(codes), 0) + EMPTY_ROWS - 1
    unlocked = Protection(locked=False)
    list_col = 0
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        label = ws.cell(LABEL_ROW, index, neutralise(column.label))
        label.font = Font(bold=True)
        label.fill = HEADER_FILL
        label.alignment = Alignment(wrap_text=True, vertical="top")
        name = ws.cell(NAME_ROW, index, neutralise(column.name))
        name.font = Font(italic=True, color="595959", size=9)
        name.fill = NAME_FILL
        ws.column_dimensions[letter].width = max(14, min(40, len(column.label) // 2 + 4))
        cells = f"{letter}{FIRST_DATA_ROW}:{letter}{last_row}"
        validation = _validation(column, lists, list_col)
        if column.field is not None and (column.field.has_choices or column.choice):
            list_col += 1
        if validation is not None:
            ws.add_data_validation(validation)
            validation.add(cells)
        kind = column.field.kind if column.field is not None else ""
        if column.locked:
            label.fill = LOCKED_FILL
        for row in range(FIRST_DATA_ROW, last_row + 1):
            cell = ws.cell(row, index)
            if column.locked:
                cell.fill = LOCKED_FILL  # @READONLY: the sheet's protection keeps it
            else:
                cell.protection = unlocked
            if kind == "date":
                cell.number_format = DATE_FORMAT
            elif column.name == CODE or kind == "text":
                cell.number_format = "@"
            if column.default is not None and row < FIRST_DATA_ROW + len(codes):
                cell.value = column.default  # @DEFAULT on each new questionnaire
    for offset, code in enumerate(codes):
        ws.cell(FIRST_DATA_ROW + offset, 1, neutralise(code))
    ws.row_dimensions[LABEL_ROW].height = 60
    ws.freeze_panes = ws.cell(FIRST_DATA_ROW, 2 if columns and columns[0].name == CODE else 1)
    protection = ws.protection
    protection.sheet = True
    protection.formatColumns = False
    protection.formatCells = False
    protection.insertRows = False
    protection.deleteRows = False
    protection.sort = False
    protection.autoFilter = False


def _help(column: Column, expected: str) -> tuple[str, str]:
    title = column.label if len(column.label) <= 32 else column.label[:31] + "…"
    text = " ".join(part for part in (column.note, expected, _tag_help(column)) if part)
    return title, text[:250]


def _tag_help(column: Column) -> str:
    """What the field's action tags and the missing-data codes mean for this cell."""
    entry = column.entry
    parts = []
    if entry is not None:
        if entry.readonly:
            parts.append(_("Filled in for you; it cannot be changed here."))
        if entry.char_limit is not None:
            parts.append(_("At most {n} characters.").format(n=entry.char_limit))
        if entry.word_limit is not None:
            parts.append(_("At most {n} words.").format(n=entry.word_limit))
        if entry.exclusive and column.choice in entry.exclusive:
            parts.append(_("Tick this one alone, or the others."))
        if entry.max_checked is not None and column.choice is not None:
            parts.append(_("Tick at most {n} of these columns.").format(n=entry.max_checked))
        tags = {t.name for t in entry.field.tags.tags}
        if tags & {"@TODAY", "@NOW", "@TODAY-SERVER", "@NOW-SERVER", "@TODAY-UTC",
                   "@NOW-UTC"}:
            parts.append(_("Type the date of the visit (a form on the web fills today's)."))
    if column.missing:
        parts.append(_("If there is no answer, you may write why: {codes}.").format(
            codes=", ".join(column.missing)))
    return " ".join(parts)


def _piped_rows(ws: Worksheet, columns: Sequence[Column], codes: Sequence[str],
                others: Mapping[str, Mapping[str, Mapping[str, object]]],
                timepoint: Timepoint | None) -> None:
    """Piping per row: a question that shows another visit's answer (``[m0_arm_1][weight]``,
    ``[previous-event-name][weight]``) gets, on each participant's cell, a comment with the
    question as it reads for that person."""
    dictionary = shown_dictionary()
    event = get_schedule().event(timepoint) if timepoint is not None else None
    for index, column in enumerate(columns, start=1):
        f = column.field
        if f is None or not has_piping(f.label + f.note, dictionary.fields):
            continue
        for offset, code in enumerate(codes):
            env = dictionary.env({}, others=others.get(code, {}), event=event,
                                 context={"record-name": code})
            text = " ".join(_TAGS.sub(" ", pipe(f.label, dictionary.fields, env)).split())
            if text != column.label.split(": ")[0].rstrip() and piping.BLANK not in text:
                ws.cell(FIRST_DATA_ROW + offset, index).comment = Comment(
                    _("For {code}: {text}").format(code=code, text=text), "cohort")


def _validation(column: Column, lists: Worksheet, list_col: int) -> DataValidation | None:
    f = column.field
    if f is None:
        title, text = _help(column, "")
        dv = DataValidation(allow_blank=True, showInputMessage=True)
        dv.promptTitle, dv.prompt = title, text
        return dv if text else None
    if f.has_choices or column.choice:
        entries = choice_entries(column)
        letter = get_column_letter(list_col + 1)
        for row, entry in enumerate(entries, start=1):
            lists.cell(row, list_col + 1, entry)  # the drop-down's own entries, read back
        lists.cell(len(entries) + 2, list_col + 1, column.name)
        source = f"{quote_sheetname(LISTS_SHEET)}!${letter}$1:${letter}${len(entries)}"
        dv = DataValidation(type="list", formula1=source, allow_blank=True,
                            showErrorMessage=True, errorStyle="warning",
                            errorTitle=_("Not in the list"),
                            error=_("This is not one of the list's entries. A typed answer "
                                    "number (2) or the answer's words are fine: keep it. "
                                    "Otherwise go back and pick from the list."))
        expected = _("Pick from the list.")
    elif f.kind == "date":
        dv = DataValidation(type="date", operator="greaterThan", formula1="DATE(1900,1,1)",
                            allow_blank=True, showErrorMessage=True, errorStyle="warning",
                            errorTitle=_("Not a date"),
                            error=_("Type the date like 2026-03-31 or 31/03/2026 "
                                    "(day/month/year). A date typed that way is fine: keep "
                                    "it."))
        expected = _("A date like 2026-03-31.")
    elif f.kind in ("integer", "number"):
        # A bound naming another answer ([age]) is checked on import, not by the cell.
        fixed_min, fixed_max = fixed_bound(f.min), fixed_bound(f.max)
        low = fixed_min if fixed_min not in (None, "") else "-1000000"
        high = fixed_max if fixed_max not in (None, "") else "1000000"
        whole = f.kind == "integer"
        # With missing-data codes a code may be typed instead: warn, do not stop.
        if column.missing:
            error = (_("Please type a whole number between {low} and {high}, or one of "
                       "{codes}.") if whole else
                     _("Please type a number between {low} and {high}, or one of {codes}."))
        else:
            error = (_("Please type a whole number between {low} and {high}.") if whole
                     else _("Please type a number between {low} and {high}."))
        dv = DataValidation(type="whole" if whole else "decimal", operator="between",
                            formula1=str(low), formula2=str(high), allow_blank=True,
                            showErrorMessage=True, errorTitle=_("Number expected"),
                            errorStyle="warning" if column.missing else "stop",
                            error=error.format(low=low, high=high,
                                               codes=", ".join(column.missing)))
        if fixed_min and fixed_max:
            expected = (_("A whole number between {low} and {high}.") if whole else
                        _("A number between {low} and {high}.")).format(low=fixed_min,
                                                                          high=fixed_max)
        else:
            expected = _("A whole number.") if whole else _("A number.")
    elif column.entry is not None and column.entry.char_limit is not None:
        limit = column.entry.char_limit
        dv = DataValidation(type="textLength", operator="lessThanOrEqual", formula1=str(limit),
                            allow_blank=True, showErrorMessage=True,
                            errorTitle=_("Too long"),
                            error=_("Please write at most {n} characters.").format(n=limit))
        expected = ""
    else:
        dv = DataValidation(allow_blank=True)
        expected = ""
    dv.showInputMessage = True
    dv.promptTitle, dv.prompt = _help(column, expected)
    return dv
