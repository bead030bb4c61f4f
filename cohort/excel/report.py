"""The research officers' workbook: retention per centre, visits due, open deviations.

Figures come from ``cohort.services.monitoring`` and ``cohort.services.deviations`` (the
same numbers as the dashboard and ``cohort status``); this module only lays them out, with
frozen headers, filters and conditional formatting that draws the eye to what needs doing.

Sheet titles, headings, the visit states and the About sheet are in the reader's language
(``forms.i18n``); figures stay numbers, shares numbers shown as percentages, dates real
dates (yyyy-mm-dd), and codes (centre, rule, group, status) codes. ``REPORT_FIELDS``, what
the export log records, stays in English like every column name kept in a log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.formatting.rule import CellIsRule, ColorScaleRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel import Session, select

from cohort.models import Centre
from cohort.schedule import get_schedule
from cohort.services.context import Actor, may, require_role
from cohort.services.deviations import describe, list_deviations
from cohort.services.monitoring import centre_status, worklist
from cohort.vocab import DeviationStatus
from forms.i18n import N_, _, format_date, pgettext
from forms.safe_cells import neutralise_row

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
RED = PatternFill("solid", fgColor="FFC7CE")
AMBER = PatternFill("solid", fgColor="FFEB9C")
PAGE = 5000


def may_report(actor: Actor) -> bool:
    """Whether the report is offered: the people who review deviations (rule scope.role)."""
    return may(actor, "review")


VISIT_COLUMNS = (N_("Participant"), N_("Centre"), N_("Visit"), N_("State"),
                 N_("Window opens"), N_("Target"), N_("Window closes"), N_("Days overdue"),
                 N_("Group"), N_("Status"))
DEVIATION_COLUMNS = (N_("Raised"), N_("Centre"), N_("Rule"), N_("Severity"), N_("Status"),
                     N_("Message"))
# What the export log says the report holds, beside the per-centre figures.
REPORT_FIELDS = tuple(dict.fromkeys(VISIT_COLUMNS + DEVIATION_COLUMNS))


def report_workbook(session: Session, *, actor: Actor, as_of: date) -> bytes:
    """The report for a person: refused (rule ``scope.role``, action ``review``) unless they
    are a research officer or a data manager. Entry points call this, not ``build_report``."""
    return counted_report(session, actor=actor, as_of=as_of)[0]


def counted_report(session: Session, *, actor: Actor, as_of: date) -> tuple[bytes, int]:
    """``report_workbook`` and how many participant-level rows it lists (visits due and
    open deviations), for the export log."""
    require_role(actor, "review")
    return _build(session, actor=actor, as_of=as_of)


def _share(done: int, of: int) -> float | None:
    return round(done / of, 3) if of else None


def _table(ws: Worksheet, header: Sequence[str], rows: Sequence[Sequence[Any]],
           widths: Sequence[int] | None = None) -> None:
    ws.append(neutralise_row(header))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
    for row in rows:  # centre names and messages are stored text: never a formula
        ws.append(neutralise_row(row))
    ws.freeze_panes = "B2"
    last = get_column_letter(len(header))
    ws.auto_filter.ref = f"A1:{last}{max(len(rows) + 1, 2)}"
    for index, title in enumerate(header, start=1):
        width = widths[index - 1] if widths else max(10, len(title) + 2)
        ws.column_dimensions[get_column_letter(index)].width = width


def build_report(session: Session, *, actor: Actor, as_of: date) -> bytes:
    """The workbook's bytes, for the centres ``actor`` may see. The role is not checked
    here: use ``report_workbook`` for a request made by a person."""
    return _build(session, actor=actor, as_of=as_of)[0]


def _build(session: Session, *, actor: Actor, as_of: date) -> tuple[bytes, int]:
    book = Workbook()
    retention = book.active
    assert retention is not None  # noqa: S101
    retention.title = _("Retention")
    _retention(retention, session, actor, as_of)
    rows = _visits(book.create_sheet(_("Visits due")), session, actor, as_of)
    rows += _deviations(book, session, actor)
    about = book.create_sheet(_("About"))
    for line in (_("Cohort report as of {date}.").format(date=format_date(as_of)),
                 _("Retention: share of participants with the {visits} questionnaire among "
                   "those whose visit window has closed or is open now.").format(
                     visits=" / ".join(v.name for v in get_schedule().follow_ups)),
                 _("Visits due: follow-up visits whose window is open (due) or has closed "
                   "without a questionnaire (overdue). Nobody is dropped: overdue people are "
                   "still welcome at their next visit."),
                 _("Open deviations: soft-rule flags not yet resolved, by rule and centre.")):
        about.append(neutralise_row([line]))
    about.column_dimensions["A"].width = 120
    out = BytesIO()
    book.save(out)
    return out.getvalue(), rows


def _retention(ws: Worksheet, session: Session, actor: Actor, as_of: date) -> None:
    schedule = get_schedule()
    follow_ups = schedule.follow_ups
    header = (_("Centre"), _("Name"), _("Enrolled"), _("Intervention"), _("Comparison"),
              _("{visit} done").format(visit=schedule.baseline.name),
              *(what.format(visit=v.name) for v in follow_ups
                for what in (_("{visit} done"), _("{visit} due now"), _("{visit} overdue"),
                             _("{visit} retention"))),
              _("With a valid session"), _("Open deviations"), _("Withdrawn"),
              _("Lost to follow-up"))
    rows = []
    for r in centre_status(session, actor=actor, as_of=as_of):
        per_visit: list[Any] = []
        for v in follow_ups:
            s = r.visit(v.name)
            per_visit += [s.done, s.due, s.overdue, _share(s.done, s.done + s.overdue + s.due)]
        rows.append((r.centre_code, r.centre_name, r.enrolled, r.intervention, r.comparison,
                     r.visit(schedule.baseline.name).done, *per_visit,
                     r.with_valid_session, r.open_deviations, r.withdrawn,
                     r.lost_to_follow_up))
    _table(ws, header, rows, [8, 28, *([11] * (len(header) - 2))])
    end = len(rows) + 1
    # Columns: 6 fixed, then 4 per follow-up visit (done, due, overdue, retention).
    shares = [get_column_letter(7 + 4 * i + 3) for i in range(len(follow_ups))]
    late = [get_column_letter(7 + 4 * i + 2) for i in range(len(follow_ups))]
    late.append(get_column_letter(7 + 4 * len(follow_ups) + 1))
    if rows:
        for letter in shares:
            for row in range(2, end + 1):
                ws[f"{letter}{row}"].number_format = "0%"
            ws.conditional_formatting.add(f"{letter}2:{letter}{end}", ColorScaleRule(
                start_type="num", start_value=0.5, start_color="F8696B",
                mid_type="num", mid_value=0.75, mid_color="FFEB84",
                end_type="num", end_value=1, end_color="63BE7B"))
        for letter in late:
            ws.conditional_formatting.add(f"{letter}2:{letter}{end}", CellIsRule(
                operator="greaterThan", formula=["0"], fill=RED))


def _quoted(text: str) -> str:
    """``text`` as a string in a formula (a conditional format's value)."""
    return '"' + text.replace('"', '""') + '"'


def _visits(ws: Worksheet, session: Session, actor: Actor, as_of: date) -> int:
    items = [i for i in worklist(session, actor=actor, as_of=as_of, horizon_days=0)
             if i.state in ("due", "overdue")]
    due, overdue = pgettext("visit state", "due"), pgettext("visit state", "overdue")
    rows = [(i.code, i.centre_code, i.timepoint.value, overdue if i.state == "overdue" else due,
             i.opens, i.target, i.closes,
             (as_of - i.closes).days if i.state == "overdue" else None, i.group.value,
             i.status.value) for i in items]
    _table(ws, [_(word) for word in VISIT_COLUMNS], rows,
           [13, 8, 7, 10, 13, 12, 13, 12, 13, 18])
    for row in range(2, len(rows) + 2):
        for letter in "EFG":
            ws[f"{letter}{row}"].number_format = "yyyy-mm-dd"
    if rows:
        span = f"A2:J{len(rows) + 1}"
        ws.conditional_formatting.add(span, CellIsRule(
            operator="equal", formula=[_quoted(overdue)], fill=RED))
        ws.conditional_formatting.add(f"D2:D{len(rows) + 1}", CellIsRule(
            operator="equal", formula=[_quoted(due)], fill=AMBER))
    return len(rows)


def _deviations(book: Workbook, session: Session, actor: Actor) -> int:
    found: list[Any] = []
    offset = 0
    while True:
        page, total = list_deviations(session, actor=actor, status=DeviationStatus.OPEN,
                                      limit=PAGE, offset=offset)
        found.extend(page)
        offset += PAGE
        if offset >= total or not page:
            break
    centres = {c.id: c.code for c in session.exec(select(Centre)).all()}
    counts = Counter((d.rule_id, centres.get(d.centre_id, "?")) for d in found)
    codes = sorted({centre for _, centre in counts})
    rules = sorted({rule for rule, _ in counts})
    ws = book.create_sheet(_("Open deviations"))
    rows = [(rule, *[counts.get((rule, c), 0) for c in codes],
             sum(counts.get((rule, c), 0) for c in codes)) for rule in rules]
    _table(ws, (_("Rule"), *codes, _("Total")), rows, [28, *([8] * (len(codes) + 1))])
    if rows:
        last = get_column_letter(len(codes) + 2)
        ws.conditional_formatting.add(f"B2:{last}{len(rows) + 1}", ColorScaleRule(
            start_type="num", start_value=0, start_color="FFFFFF",
            end_type="max", end_color="F8696B"))
    detail = book.create_sheet(_("Deviation list"))
    _table(detail, [_(word) for word in DEVIATION_COLUMNS],
           [(d.raised_at.date(), centres.get(d.centre_id, "?"), d.rule_id, d.severity.value,
             d.status.value, describe(d)) for d in found], [12, 8, 28, 9, 10, 100])
    return len(found)

