"""One shape for every analysis result, as lifelines' fitters and ``StatisticalResult`` have.

Each result carries a ``summary`` DataFrame (the estimates, one row per term, contrast or
group), ``notes`` (warnings and caveats a reader must see next to the numbers) and a text
rendering. The report, the exports and the command line loop over results through this
shape instead of knowing each type. Notes are :class:`analysis.wording.Note` objects where
they are ours, so they read in the reader's language (a library's warning stays as it is).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from analysis.wording import local
from forms.i18n import gettext as _


@runtime_checkable
class Result(Protocol):
    """What every analysis result offers."""

    @property
    def summary(self) -> pd.DataFrame: ...

    notes: list[str]

    def to_text(self, lang: str | None = None) -> str: ...


class ResultBase:
    """Mixin of the text rendering; a result subclass sets ``summary`` and ``notes``."""

    title: str = ""

    def to_text(self, lang: str | None = None) -> str:
        """The summary as a plain-text table, its notes below it (for logs and terminals),
        the words in ``lang`` (default: the reader's language; the numbers and column
        names are the estimates' own)."""
        summary: pd.DataFrame = getattr(self, "summary")  # noqa: B009  (property or field)
        notes: list[str] = getattr(self, "notes", [])
        head = self.title or type(self).__name__
        body = summary.to_string(index=False) if not summary.empty else _(
            "(no estimates)", lang)
        label = _("note: {note}", lang)
        lines = [head, body, *(label.format(note=local(n, lang))
                               for n in dict.fromkeys(notes))]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


@dataclass
class GEEResult(ResultBase):
    """A fitted GEE: ``summary`` has coef, robust SE, OR, 95% CI and p per term."""

    formula: str
    cov_struct: str
    n_obs: int
    n_clusters: int
    summary: pd.DataFrame
    dependence: str = ""
    result: Any = field(default=None, repr=False)
    notes: list[str] = field(default_factory=list)
    estimable: bool = True


@dataclass
class OutcomeModel(ResultBase):
    """One outcome, one analysis: ``summary`` has an OR with 95% CI per contrast."""

    outcome: str
    analysis: str
    formula: str
    cov_struct: str
    n_obs: int
    n_participants: int
    summary: pd.DataFrame
    coefficients: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    estimable: bool = True

    @property
    def title(self) -> str:  # type: ignore[override]
        return f"{self.analysis}: {self.outcome}"


@dataclass
class WeightsResult(ResultBase):
    """Weights per participant (IPTW) or per visit (IPCW) and the model that made them."""

    weights: pd.Series
    summary: pd.DataFrame
    formula: str
    # IPTW: what the stacked estimating equations need (design, scores, who was trimmed).
    details: dict[str, Any] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)


def named(results: dict[str, Any]) -> list[tuple[str, Result]]:
    """The results of a mapping that have the shared shape, in order (None skipped)."""
    return [(name, r) for name, r in results.items() if isinstance(r, Result)]
