"""The refusals of an import (workbook, REDCap export, REDCap API), declared as rules.

Listed by ``cohort rules`` with every other rule. Two families:

- **policy** (``applies_to`` ``import.*`` with a check): decided by
  :mod:`cohort.services.imports` from plain facts, whatever the file's format: a status
  dated before a later change, an enrolment answer sent differently, a row that is a
  participant already enrolled, a session without its workers;
- **reading** (no check): a cell or column of the file that cannot be read with
  certainty. The readers (``cohort.excel``) find these cell by cell; they are listed
  here so that a research officer sees every refusal an import can make.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from cohort.errors import ProtocolViolation
from cohort.messages import Message, msg
from cohort.rule_types import HARD, Rule


@dataclass(frozen=True)
class StatusOrderFacts:
    """A follow-up status an import would add, and the latest change already stored."""

    code: str
    effective: date
    inclusion_date: date
    latest_status: str | None = None  # the last stored change dated after ``effective``
    latest_date: date | None = None


@dataclass(frozen=True)
class EnrolmentChangeFacts:
    """One enrolment answer of a known record, as stored and as sent."""

    code: str
    field: str
    label: str
    stored: str
    sent: str


@dataclass(frozen=True)
class TwinFacts:
    """A new enrolment row and the participant it matches answer for answer, if any."""

    twin: str | None


@dataclass(frozen=True)
class RowFacts:
    """What identifies an import row: its participant code and the workers it lists."""

    code: str | None = None
    staff_text: str | None = None
    unknown_staff: tuple[str, ...] = ()


def _status_out_of_order(f: StatusOrderFacts) -> Message | None:
    if f.latest_date is None or f.effective < f.inclusion_date:
        return None  # before inclusion: rule date.before_inclusion answers it
    return msg(
        "import.status_out_of_order",
        code=f.code,
        later=(f.latest_status or "").replace("_", " "),
        later_date=f.latest_date,
        date=f.effective,
    )


def _enrolment_changed(f: EnrolmentChangeFacts) -> Message | None:
    if f.stored == f.sent:
        return None
    return msg("import.enrolment_changed", label=f.label, code=f.code, stored=f.stored, sent=f.sent)


def _duplicate_enrolment(f: TwinFacts) -> Message | None:
    if f.twin is None:
        return None
    return msg("import.duplicate_enrolment", twin=f.twin)


def _no_code(f: RowFacts) -> Message | None:
    if f.code:
        return None
    return msg("import.no_code")


def _no_staff(f: RowFacts) -> Message | None:
    if f.staff_text and f.staff_text.strip():
        return None
    return msg("import.no_staff")


def _unknown_staff(f: RowFacts) -> Message | None:
    if not f.unknown_staff:
        return None
    return msg("import.unknown_staff", workers=", ".join(f.unknown_staff))


IMPORT_RULES: tuple[Rule[Any], ...] = (
    Rule(
        "import.status_out_of_order",
        HARD,
        "import.status",
        _status_out_of_order,
        ProtocolViolation,
        "fu_status_date",
    ),
    Rule(
        "import.enrolment_changed",
        HARD,
        "import.enrolment_change",
        _enrolment_changed,
        ProtocolViolation,
    ),
    Rule(
        "import.duplicate_enrolment",
        HARD,
        "import.enrolment",
        _duplicate_enrolment,
        ProtocolViolation,
    ),
    Rule("import.no_code", HARD, "import.row", _no_code, ProtocolViolation),
    Rule(
        "import.no_staff",
        HARD,
        "import.session_staff",
        _no_staff,
        ProtocolViolation,
        "workers_present",
    ),
    Rule(
        "import.unknown_staff",
        HARD,
        "import.session_staff",
        _unknown_staff,
        ProtocolViolation,
        "workers_present",
    ),
    Rule("import.unreadable_value", HARD, "import.file", None, ProtocolViolation),
    Rule("import.missing_column", HARD, "import.file", None, ProtocolViolation),
    Rule("import.unknown_column", HARD, "import.file", None, ProtocolViolation),
    Rule("import.duplicate_column", HARD, "import.file", None, ProtocolViolation),
    Rule("import.unnamed_column", HARD, "import.file", None, ProtocolViolation),
    Rule("import.dictionary_changed", HARD, "import.file", None, ProtocolViolation),
    Rule("import.refused", HARD, "import.file", None, ProtocolViolation),
    Rule("redcap.unknown_event", HARD, "import.file", None, ProtocolViolation),
    Rule("redcap.not_in_event", HARD, "import.file", None, ProtocolViolation),
    Rule("redcap.repeating_row", HARD, "import.file", None, ProtocolViolation),
    Rule("participant.unknown", HARD, "import.file", None, ProtocolViolation),
)
