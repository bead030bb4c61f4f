"""What a write service returns: the record and the deviations it raised."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from cohort.models import Deviation

T = TypeVar("T")


@dataclass
class Saved(Generic[T]):
    """A saved record; ``deviations`` is empty when it was fully on protocol."""

    record: T
    deviations: list[Deviation] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return bool(self.deviations)
