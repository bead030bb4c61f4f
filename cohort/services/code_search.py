"""The SQL side of finding participants by study code (``queries.find_codes``)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, func

from cohort.codes import compact
from cohort.models import Participant


def code_contains(query: str) -> Any:
    """SQL condition: the participant's code contains ``query`` ignoring case, spaces and
    dashes (usable in a sub-query, whatever the number of participants it matches)."""
    packed = func.replace(func.upper(col(Participant.code)), "-", "")
    return packed.contains(compact(query), autoescape=True)
