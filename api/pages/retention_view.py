"""The retention page's figures arranged for reading (issue 15 point 7): per centre the
counts with their percentages, the intervention / comparison split, two charts, and the
rows of the CSV download.

Done, on time and their percentages come from ``retention_groups`` (one definition for the
table, the split, the charts and the CSV); what is due now and overdue comes from the
monitoring summary, read in one place (``_pending``) so that a change of its shape touches
one function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from api.charts import bar_chart, line_chart, percent_text
from api.pages.common import TEMPLATES
from cohort.recent import Recent
from cohort.services.monitoring import CentreStatus
from cohort.services.retention_groups import Attendance, Cell, RetentionBreakdown, both_groups
from forms.i18n import _

GROUPS = ("intervention", "comparison")


@dataclass
class VisitFigures:
    attendance: Attendance
    due: int = 0
    overdue: int = 0


@dataclass
class CentreLine:
    code: str
    city: str
    enrolled: int
    intervention: int
    comparison: int
    open_deviations: int
    retained_by_status_pct: float | None
    visits: dict[str, VisitFigures] = field(default_factory=dict)
    groups: dict[str, Cell] = field(default_factory=dict)


def _pending(row: CentreStatus | None, timepoint: str) -> tuple[int, int]:
    """(due now, overdue) of one visit in the monitoring summary."""
    if row is None:
        return 0, 0
    visit = next((v for v in row.visits if v.visit == timepoint), None)
    return (visit.due, visit.overdue) if visit is not None else (0, 0)


def _line(code: str, city: str, cells: dict[str, Cell], row: CentreStatus | None,
          tps: list[str]) -> CentreLine:
    total = both_groups(cells, tps)
    line = CentreLine(
        code=code, city=city, enrolled=total.enrolled,
        intervention=cells.get("intervention", Cell()).enrolled,
        comparison=cells.get("comparison", Cell()).enrolled,
        open_deviations=row.open_deviations if row else 0,
        retained_by_status_pct=row.retained_by_status_pct if row else None,
        groups={g: cells.get(g, Cell()) for g in GROUPS})
    for tp in tps:
        due, overdue = _pending(row, tp)
        line.visits[tp] = VisitFigures(total.visit(tp), due, overdue)
    return line


# A centre's line, kept with the summary row and cells it was made from and given again
# only for the very same objects (a centre no save touched keeps them: ``Figures`` and
# ``retention_groups.from_sums``); named by them too, so that views sharing a centre (an
# officer's and a worker's, two days) keep a line each. Read only: the total is a line of
# its own.
_LINES: Recent[tuple[CentreStatus | None, dict[str, Cell], CentreLine]] = Recent(1024)


def _kept_line(code: str, city: str, cells: dict[str, Cell], row: CentreStatus | None,
               tps: list[str]) -> CentreLine:
    key = (code, city, tuple(tps), id(row), id(cells))
    found = _LINES.get(key)
    if found is not None and found[0] is row and found[1] is cells:
        return found[2]
    line = _line(code, city, cells, row, tps)
    _LINES.put(key, (row, cells, line))
    return line


def retention_view(summary: list[CentreStatus], breakdown: RetentionBreakdown
                   ) -> dict[str, Any]:
    """What ``retention.html`` shows: ``lines`` (one per centre), ``total``, the charts."""
    tps = breakdown.timepoints
    by_code = {r.centre_code: r for r in summary}
    lines = [_kept_line(code, city, breakdown.by_centre.get(code, {}), by_code.get(code), tps)
             for code, city in breakdown.centres]
    total = _line("All", "", breakdown.all_centres, None, tps)
    for line in lines:
        total.open_deviations += line.open_deviations
        for tp in tps:
            total.visits[tp].due += line.visits[tp].due
            total.visits[tp].overdue += line.visits[tp].overdue
    lost = sum(r.lost_to_follow_up for r in summary)
    total.retained_by_status_pct = (round(100 * (total.enrolled - lost) / total.enrolled, 1)
                                    if total.enrolled else None)
    centre_chart = bar_chart(
        [(line.code, [line.visits[tp].attendance.pct_done for tp in tps]) for line in lines],
        [_("{visit} done").format(visit=tp) for tp in tps], chart_id="chart-centres",
        title=_("Retention per centre: % of participants past the window with the "
                "questionnaire done"))
    months = [(month, [both_groups({"all": cell}, tps).visit(tp).pct_done for tp in tps])
              for month, cell in breakdown.by_month.items()]
    time_chart = line_chart(
        months, [_("{visit} done").format(visit=tp) for tp in tps], chart_id="chart-months",
        title=_("Retention by month of inclusion: % done among those past the window"))
    return {"lines": lines, "total": total, "timepoints": tps, "groups": GROUPS,
            "centre_chart": centre_chart, "time_chart": time_chart}


def csv_rows(breakdown: RetentionBreakdown) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the retention CSV: each centre and all centres, by group and
    both groups together, with counts and percentages."""
    tps = breakdown.timepoints
    header = ["centre", "city", "group", "enrolled"]
    for tp in tps:
        p = tp.lower()
        header += [f"{p}_past_window_or_done", f"{p}_done", f"{p}_on_time",
                   f"{p}_pct_done", f"{p}_pct_on_time"]
    rows: list[list[Any]] = []
    places = [*breakdown.centres, ("all", "")]
    for code, city in places:
        cells = breakdown.all_centres if code == "all" else breakdown.by_centre.get(code, {})
        for group, cell in [*((g, cells.get(g, Cell())) for g in GROUPS),
                            ("both", both_groups(cells, tps))]:
            row: list[Any] = [code, city, group, cell.enrolled]
            for tp in tps:
                a = cell.visit(tp)
                row += [a.eligible, a.done, a.on_time,
                        "" if a.pct_done is None else a.pct_done,
                        "" if a.pct_on_time is None else a.pct_on_time]
            rows.append(row)
    return header, rows


def pct(value: float | None) -> str:
    """A percentage for a table cell ("–" when there is no denominator), the reader's
    way (``percent_text``)."""
    return "–" if value is None else percent_text(value)


TEMPLATES.env.filters["pct"] = pct
