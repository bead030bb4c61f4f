"""The shape of a protocol rule and of a soft rule's finding (no rule is declared here).

Kept apart from :mod:`cohort.rules` so that the rule families declared in other modules
(:mod:`cohort.import_rules`) and the registry that lists them all depend on it, not on
one another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from cohort.errors import ProtocolViolation
from cohort.messages import Message, msg
from cohort.vocab import Severity

F = TypeVar("F")
HARD, SOFT, TIME = Severity.HARD, Severity.SOFT, Severity.TIME


@dataclass(frozen=True)
class Rule(Generic[F]):
    """A protocol rule. ``check`` returns None when the facts comply, else the reason.

    Its one-line summary is message ``rule.<id>`` of the catalogue; each reason it gives
    is a message with the facts as parameters.
    """

    id: str
    severity: Severity
    applies_to: str
    # None: a refusal found while reading a file (the reader applies it, cell by cell).
    check: Callable[[F], Message | None] | None
    error: type[ProtocolViolation] | None = None
    field: str | None = None

    @property
    def summary(self) -> Message:
        return msg(f"rule.{self.id}")

    @property
    def message(self) -> str:
        """The summary in English (what ``cohort rules`` has always printed)."""
        return self.summary.render()


@dataclass(frozen=True)
class Finding:
    """A soft or time-based rule that fired: what to raise as a deviation."""

    rule_id: str
    severity: Severity
    reason: Message

    @property
    def message(self) -> str:
        return self.reason.render()
