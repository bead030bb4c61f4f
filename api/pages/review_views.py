"""What the review pages show, in words: rule names for deviation badges, the labels of
deviation statuses (issue 15 point 8). Registered as template globals on import."""

from __future__ import annotations

from api.pages.common import TEMPLATES
from cohort.rules import RULES

#: A rule's name as people read it: its one-line message without the final full stop
#: (``time.visit_overdue`` reads "M6 or M12 questionnaire overdue").
RULE_NAMES: dict[str, str] = {r.id: r.message.rstrip(".") for r in RULES}
DEVIATION_STATUS_LABELS = {"open": "To review", "acknowledged": "Acknowledged",
                           "resolved": "Resolved"}

TEMPLATES.env.globals.update(RULE_NAMES=RULE_NAMES,
                             DEVIATION_STATUS_LABELS=DEVIATION_STATUS_LABELS)
