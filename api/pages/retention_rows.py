"""The retention page's rows, each rendered once per language and figures, and its parts
that do not change with the figures, rendered once per language and day.

After a save the page shows a new state of the data, but only the centres the save
touched have new figures: their two rows (the table and the intervention / comparison
split) are rendered again, the other centres' rows are the ones rendered before. A row
costs about a millisecond of Jinja and message look-ups (twenty centres, every visit).
A centre's figures (``retention_cache.Figures``) keep the same objects for as long as
nothing of that centre changes, and a rendered row is kept with the objects it was
rendered from: it is shown again only while they are the very same objects (and kept
alive by the row), so a row is never shown with figures other than its own.

The titles, notes and the two tables' headings (a hundred translated labels) are the same
for every state of the data: rendering them again after each save cost more than the
changed rows do.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from markupsafe import Markup

from api.pages.common import TEMPLATES
from api.pages.retention_view import GROUPS, CentreLine
from cohort.recent import Recent
from cohort.services.access import PURPOSES
from cohort.services.retention_cache import Figures
from forms.i18n import _, current_language

# A study's officers read a few views in two languages: a few states of twenty centres.
_ROWS: Recent[tuple[Any, Any, Markup]] = Recent(1024)
_MODULES: Recent[Any] = Recent(16)
_FIXED: Recent[Markup] = Recent(64)


def labels(timepoints: tuple[str, ...]) -> dict[str, Any]:
    """The rows' labels in the reader's language, escaped as the template's ``_()`` would:
    each cell's name (``data-label``, shown above the figure on a phone) and the format of
    its title. Looked up once per language and schedule: in the cells they cost more
    than the figures (two look-ups per cell, forty cells in the rows a save renders)."""
    def per_visit(words: str) -> dict[str, Markup]:
        return {tp: Markup(words) % {"visit": tp} for tp in timepoints}  # noqa: S704

    split: dict[tuple[str, str, str], Markup] = {}
    for measure, intervention, comparison in (
            ("pct_done", _("%(visit)s done int."), _("%(visit)s done comp.")),
            ("pct_on_time", _("%(visit)s on time int."), _("%(visit)s on time comp."))):
        for group, words in (("intervention", intervention), ("comparison", comparison)):
            for tp, label in per_visit(words).items():
                split[tp, measure, group] = label
    return {
        "done": per_visit(_("%(visit)s done")), "on_time": per_visit(_("%(visit)s on time")),
        "due": per_visit(_("%(visit)s due now")), "overdue": per_visit(_("%(visit)s overdue")),
        "of": Markup(_("%(n)s of %(total)s")),  # noqa: S704 (a format: its values are escaped)
        "of_group": {"intervention": Markup(_("%(n)s of %(total)s (intervention)")),  # noqa: S704
                     "comparison": Markup(_("%(n)s of %(total)s (comparison)"))},  # noqa: S704
        "split": split,
    }


class Rows:
    """The macros of ``retention_rows.html`` for one language and schedule, and the
    figures the lines come from."""

    def __init__(self, timepoints: list[str], figures: Figures) -> None:
        self.sources = {code: (figures.status[centre_id], figures.sums[centre_id])
                        for centre_id, (_, code, _, _) in figures.centres.items()}
        self.language = current_language()
        self.timepoints = tuple(timepoints)
        key = (self.language, self.timepoints)
        module = _MODULES.get(key)
        if module is None:
            module = TEMPLATES.env.get_template("retention_rows.html").make_module(
                {"timepoints": list(self.timepoints), "groups": GROUPS,
                 "purposes": PURPOSES, "L": labels(self.timepoints)})
            _MODULES.put(key, module)
        self.module: Any = module

    def _kept(self, macro: str, line: CentreLine) -> Markup:
        status, sums = self.sources[line.code]
        key = (macro, self.language, self.timepoints, line.code, id(status), id(sums))
        found = _ROWS.get(key)
        if found is not None and found[0] is status and found[1] is sums:
            return found[2]
        html = Markup(getattr(self.module, macro)(line))  # noqa: S704 (autoescaped)
        _ROWS.put(key, (status, sums, html))
        return html

    def fixed(self, macro: str, *args: Hashable) -> Markup:
        """A part of the page that depends on the language, the schedule and ``args``
        only (the day, whether the download asks a purpose)."""
        key = (macro, self.language, self.timepoints, args)
        found = _FIXED.get(key)
        if found is None:
            found = Markup(getattr(self.module, macro)(*args))  # noqa: S704 (autoescaped)
            _FIXED.put(key, found)
        return found

    def totals(self, total: CentreLine) -> Markup:
        return Markup(self.module.totals(total))  # noqa: S704 (autoescaped)

    def centre_rows(self, lines: list[CentreLine]) -> Markup:
        """Every centre's row of the table, each followed by a line break."""
        return Markup("").join(self._kept("centre_row", line) + "\n" for line in lines)

    def attendance_rows(self, lines: list[CentreLine]) -> Markup:
        """Every centre's row of the intervention / comparison split."""
        return Markup("").join(self._kept("attendance_row", line) + "\n" for line in lines)

    def attendance_total(self, total: CentreLine) -> Markup:
        return Markup(self.module.attendance_row(total, "th"))  # noqa: S704 (autoescaped)
