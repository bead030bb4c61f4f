"""Which forms are filled at which timepoint, as REDCap's instrument–event mapping says.

The mapping file uses REDCap's instrument-designation export (``arm_num,unique_event_name,
form``). REDCap's event list export (``event_name,arm_num,unique_event_name,...``) is read
too: it declares events without forms.

In a longitudinal REDCap project a form designated for no event cannot be filled at all, so
the AERLI session log and the follow-up status form are designated for a fourth event,
``ongoing_arm_1`` (``ONGOING_EVENT``): in REDCap both are set up there as repeating
instruments, one instance per session or status change, dated by their own date field.
They are deliberately *not* designated for the visits' events: a session is not
part of a visit's questionnaire, and the app builds a timepoint's questionnaire from
``forms_for(<timepoint event>)`` (minus the record forms), so nothing new appears in the
questionnaires. ``DataDictionary.unmapped_forms`` still lists forms no event names, for
dictionaries that are not longitudinal.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from forms.errors import DictionaryProblem
from forms.i18n import _

#: The event of the forms filled between visits, as often as needed (repeating in REDCap).
ONGOING_EVENT = "ongoing_arm_1"

MAPPING_HEADER = ("arm_num", "unique_event_name", "form")
EVENT_LIST_COLUMNS = ("event_name", "arm_num", "unique_event_name")


@dataclass
class EventMapping:
    """Events in order, each with the forms designated for it (in mapping order)."""

    designations: dict[str, list[str]] = field(default_factory=dict)
    arms: dict[str, str] = field(default_factory=dict)
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def events(self) -> list[str]:
        return list(self.designations)

    def __bool__(self) -> bool:
        return bool(self.designations)

    def forms_for(self, event: str) -> list[str]:
        if event not in self.designations:
            known = ", ".join(self.designations) or "none"
            raise KeyError(f"unknown event {event!r} (events: {known})")
        return list(self.designations[event])

    def events_for(self, form: str) -> list[str]:
        return [event for event, forms in self.designations.items() if form in forms]

    def mapped_forms(self) -> set[str]:
        return {form for forms in self.designations.values() for form in forms}

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(MAPPING_HEADER)
        writer.writerows(self.rows)
        return out.getvalue()


def parse_events(
    text: str, *, forms: Iterable[str], source: str = "event mapping"
) -> tuple[EventMapping, list[DictionaryProblem]]:
    """Read a mapping; problems (unknown form, bad header…) are returned, never raised."""
    known = set(forms)
    problems: list[DictionaryProblem] = []
    mapping = EventMapping()
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    if not rows:
        return mapping, problems
    header = [cell.strip() for cell in rows[0]]
    if tuple(header[:3]) == MAPPING_HEADER:
        for number, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) < 3:
                problems.append(DictionaryProblem(
                    number, "form", "row_length",
                    _("this line needs three cells: arm number, event name, form."), source))
                continue
            arm, event, form = (cell.strip() for cell in row[:3])
            mapping.arms.setdefault(event, arm)
            forms_here = mapping.designations.setdefault(event, [])
            if form not in known:
                problems.append(DictionaryProblem(
                    number, "form", "unknown_form",
                    _("form '{form}' is not in the data dictionary; check its spelling.")
                    .format(form=form), source))
            elif form in forms_here:
                problems.append(DictionaryProblem(
                    number, "form", "duplicate_mapping",
                    _("form '{form}' is already mapped to event '{event}'.").format(
                        form=form, event=event), source))
            else:
                forms_here.append(form)
                mapping.rows.append((arm, event, form))
        return mapping, problems
    if all(name in header for name in EVENT_LIST_COLUMNS):
        at = header.index("unique_event_name")
        arm_at = header.index("arm_num")
        for row in rows[1:]:
            if len(row) > at and row[at].strip():
                event = row[at].strip()
                mapping.designations.setdefault(event, [])
                mapping.arms.setdefault(event, row[arm_at].strip() if len(row) > arm_at else "")
        return mapping, problems
    problems.append(DictionaryProblem(
        1, "", "events_header",
        _("the event file must start with the columns {columns} (REDCap's instrument "
          "designation export).").format(columns="arm_num,unique_event_name,form"), source))
    return mapping, problems
