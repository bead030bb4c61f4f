"""Events in order, for the event smart variables (``[previous-event-name]`` …).

REDCap resolves ``[previous-event-name][weight]`` to the closest earlier event *of the
current event's arm* at which ``weight``'s form is filled (``Project::getPrevEventId`` with
the field's form), and ``[previous-event-name]`` on its own to the closest earlier event of
the arm. ``Schedule`` holds what that needs: events in mapping order, their arms, the forms
of each event and the form of each field. It is built once per dictionary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RELATIVE = ("previous", "next", "first", "last")


@dataclass(frozen=True)
class Schedule:
    events: tuple[str, ...] = ()
    arms: Mapping[str, str] = field(default_factory=dict)
    forms: Mapping[str, frozenset[str]] = field(default_factory=dict)
    field_forms: Mapping[str, str] = field(default_factory=dict)

    def arm_events(self, event: str | None) -> list[str]:
        """The events of ``event``'s arm, in order (all events when it is unknown)."""
        if event is None or event not in self.arms:
            return list(self.events)
        arm = self.arms[event]
        return [e for e in self.events if self.arms.get(e) == arm]

    def relative(self, which: str, current: str | None, field_name: str = "") -> str | None:
        """The event ``which`` (previous, next, first, last) from ``current``; with a field,
        only events where its form is filled count. None when there is no such event."""
        if current is None or current not in self.events:
            return None
        events = self.arm_events(current)
        form = self.field_forms.get(field_name) if field_name else None
        if form is not None:
            events = [e for e in events if form in self.forms.get(e, frozenset()) or e == current]
        here = events.index(current)
        if which == "previous":
            before = [e for e in events[:here] if form is None or form in self.forms.get(e, ())]
            return before[-1] if before else None
        if which == "next":
            after = [e for e in events[here + 1:] if form is None or form in self.forms.get(e, ())]
            return after[0] if after else None
        candidates = [e for e in events if form is None or form in self.forms.get(e, ())]
        if not candidates:
            return None
        return candidates[0] if which == "first" else candidates[-1]

    def number(self, event: str | None) -> str:
        """REDCap's ``[event-number]``: the event's position in its arm, from 1."""
        events = self.arm_events(event)
        return str(events.index(event) + 1) if event in events else ""

    def to_json(self) -> dict[str, Any]:
        """What ``static/branching.js`` needs to resolve the same smart variables."""
        return {"events": list(self.events), "arms": dict(self.arms),
                "forms": {e: sorted(f) for e, f in self.forms.items()},
                "fieldForms": dict(self.field_forms)}
