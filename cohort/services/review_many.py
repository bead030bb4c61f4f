"""Reviewing many deviations at once, with one comment (issue 15 point 8).

Each deviation is reviewed by ``deviations.review`` in its own transaction, so each gets
its own audit entries exactly as if reviewed alone, and one that cannot be reviewed
(already resolved, another centre, the centre locked) is named and leaves the others
reviewed: a research officer ticking fifty cards should not lose forty-nine to one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session

from cohort.errors import CohortError
from cohort.messages import msg
from cohort.services.context import Actor, require_role
from cohort.services.deviations import review
from cohort.vocab import DeviationStatus

#: At most this many at once: a page shows 50, "select all" over a few pages stays below.
MAX_AT_ONCE = 500


@dataclass
class ReviewOutcome:
    """Which deviations were reviewed, and why the others were not (id -> reason)."""

    done: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


def review_many(session: Session, *, actor: Actor, deviation_ids: Sequence[int],
                status: DeviationStatus, comment: str | None = None) -> ReviewOutcome:
    """Acknowledge or resolve each deviation of ``deviation_ids`` with the same comment."""
    require_role(actor, "review")
    ids = list(dict.fromkeys(deviation_ids))
    if not ids:
        raise CohortError(msg("review.none_ticked"))
    if len(ids) > MAX_AT_ONCE:
        raise CohortError(msg("review.too_many", limit=MAX_AT_ONCE, ticked=len(ids)))
    if status is DeviationStatus.RESOLVED and not (comment and comment.strip()):
        raise CohortError(msg("review.comment_needed_many"))
    outcome = ReviewOutcome()
    for deviation_id in ids:
        try:
            review(session, actor=actor, deviation_id=deviation_id, status=status,
                   comment=comment)
        except CohortError as error:
            session.rollback()
            outcome.refused[deviation_id] = error.message
        else:
            outcome.done.append(deviation_id)
    return outcome
