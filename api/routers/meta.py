"""Problem types and protocol rules, readable by anyone (no study data)."""

from __future__ import annotations

from api.inputs import api_router
from api.problems import PROBLEM_TYPES, advice_of, title_of
from api.schemas import RuleOut
from cohort.errors import NotFound
from cohort.rules import RULES
from forms.i18n import _

router = api_router(tags=["meta"])


@router.get("/api/v1/rules", response_model=list[RuleOut])
def rules() -> list[RuleOut]:
    """Every protocol rule: id, severity (hard refuses, soft flags, time), message."""
    return [RuleOut(id=r.id, severity=r.severity.value, applies_to=r.applies_to,
                    message=r.message) for r in RULES]


@router.get("/problems/{slug}", include_in_schema=False)
def problem(slug: str) -> dict[str, str]:
    if slug not in PROBLEM_TYPES:
        raise NotFound(_("No problem type {slug}.").format(slug=slug))
    return {"type": f"/problems/{slug}", "title": title_of(slug), "advice": advice_of(slug)}
