"""What the review pages show, in words: rule names for deviation badges, the labels of
deviation statuses (issue 15 point 8), the words of the lock history, and moments of the
logs. Registered as template globals and filters on import.

Each mapping gives its words in the reader's language when read (``Words``): a template
keeps writing ``RULE_NAMES.get(id, id)``, and a page rendered for a French reader gets
French. Keys are codes and never change.
"""

from __future__ import annotations

from datetime import datetime

from api.pages.common import TEMPLATES, Words
from cohort.messages import render as render_message
from cohort.rules import RULES
from forms.i18n import current_language, format_date, pgettext


def _rule_names() -> dict[str, str]:
    # A rule's one-line message without the final full stop (``time.visit_overdue`` reads
    # "A follow-up questionnaire is overdue").
    return {r.id: render_message(f"rule.{r.id}").rstrip(".") for r in RULES}


#: A rule's name as people read it.
RULE_NAMES = Words(_rule_names)
#: How a deviation was reviewed, on a participant's page.
DEVIATION_STATUS_LABELS = Words(lambda: {
    "open": pgettext("deviation review", "To review"),
    "acknowledged": pgettext("deviation review", "Acknowledged"),
    "resolved": pgettext("deviation review", "Resolved"),
})
#: A deviation's status on the queue's badges and filter (English: the status itself).
DEVIATION_FILTER_LABELS = Words(lambda: {
    "open": pgettext("deviation status", "open"),
    "acknowledged": pgettext("deviation status", "acknowledged"),
    "resolved": pgettext("deviation status", "resolved"),
    "all": pgettext("deviation status", "all"),
})
#: The lock history's action and scope words.
LOCK_WORDS = Words(lambda: {
    "lock": pgettext("study lock", "lock"),
    "unlock": pgettext("study lock", "unlock"),
    "whole study": pgettext("study lock", "whole study"),
})


def moment(text: str | None, seconds: bool = True) -> str:
    """A logged moment (ISO text, UTC) the reader's way: ``2026-03-31 14:05:09`` in
    English, ``31/03/2026 14:05:09`` in French."""
    if not text:
        return ""
    english = text[:19 if seconds else 16].replace("T", " ")
    if current_language() == "en":
        return english
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return english
    return f"{format_date(when)} {when:%H:%M:%S}" if seconds else (
        f"{format_date(when)} {when:%H:%M}")


TEMPLATES.env.globals.update(RULE_NAMES=RULE_NAMES,
                             DEVIATION_STATUS_LABELS=DEVIATION_STATUS_LABELS,
                             DEVIATION_FILTER_LABELS=DEVIATION_FILTER_LABELS,
                             LOCK_WORDS=LOCK_WORDS)
TEMPLATES.env.filters["moment"] = moment
