"""De-identification for statisticians: the policy lives in ``cohort.services.deid``."""

from __future__ import annotations

from cohort.services.deid import (
    FREE_TEXT_KINDS,
    deidentify_answers,
    redact_records,
    withheld_fields,
)

__all__ = ["FREE_TEXT_KINDS", "deidentify_answers", "redact_records", "withheld_fields"]
