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


def _status_out_of_order(f: StatusOrderFacts) -> str | None:
    if f.latest_date is None or f.effective < f.inclusion_date:
        return None  # before inclusion: rule date.before_inclusion answers it
    status = (f.latest_status or "").replace("_", " ")
    return (f"{f.code}'s status history already has a later change ({status} on "
            f"{f.latest_date.isoformat()}); a status dated {f.effective.isoformat()} cannot "
            "be added before it by an import. Check the date in REDCap; if it is right, ask "
            "the data manager to add it.")


def _enrolment_changed(f: EnrolmentChangeFacts) -> str | None:
    if f.stored == f.sent:
        return None
    return (f"{f.label}: {f.code} was enrolled with '{f.stored}', and enrolment answers are "
            f"not changed by an import ('{f.sent}' was sent). Ask the data manager if the "
            "enrolment record is wrong.")


def _duplicate_enrolment(f: TwinFacts) -> str | None:
    if f.twin is None:
        return None
    return (f"This row matches participant {f.twin} answer for answer (already enrolled?). "
            "Delete the row; if it really is another person, enrol them on the web page.")


def _no_code(f: RowFacts) -> str | None:
    if f.code:
        return None
    return ("This row has answers but no participant code; add the code (for example "
            "C04-0012) or clear the row.")


def _no_staff(f: RowFacts) -> str | None:
    if f.staff_text and f.staff_text.strip():
        return None
    return "Please list the workers present at the session (staff ids or usernames)."


def _unknown_staff(f: RowFacts) -> str | None:
    if not f.unknown_staff:
        return None
    return (f"Unknown worker(s): {', '.join(f.unknown_staff)}; use staff ids or "
            "usernames.")


IMPORT_RULES: tuple[Rule[Any], ...] = (
    Rule("import.status_out_of_order", HARD,
         "An import cannot add a status dated before a later stored change.",
         "import.status", _status_out_of_order, ProtocolViolation, "fu_status_date"),
    Rule("import.enrolment_changed", HARD,
         "An import does not change a participant's enrolment answers (group aside).",
         "import.enrolment_change", _enrolment_changed, ProtocolViolation),
    Rule("import.duplicate_enrolment", HARD,
         "An enrolment row equal to a participant already enrolled is refused.",
         "import.enrolment", _duplicate_enrolment, ProtocolViolation),
    Rule("import.no_code", HARD, "A row with answers needs a participant code.",
         "import.row", _no_code, ProtocolViolation),
    Rule("import.no_staff", HARD, "A session row must list the workers present.",
         "import.session_staff", _no_staff, ProtocolViolation, "workers_present"),
    Rule("import.unknown_staff", HARD, "Workers present must be known staff ids or usernames.",
         "import.session_staff", _unknown_staff, ProtocolViolation, "workers_present"),
    Rule("import.unreadable_value", HARD,
         "A cell that cannot be read with certainty is refused, never guessed.",
         "import.file", None, ProtocolViolation),
    Rule("import.missing_column", HARD, "A required column is missing from the sheet.",
         "import.file", None, ProtocolViolation),
    Rule("import.unknown_column", HARD, "A column that is not a variable of the dictionary.",
         "import.file", None, ProtocolViolation),
    Rule("import.duplicate_column", HARD, "The same variable appears in two columns.",
         "import.file", None, ProtocolViolation),
    Rule("import.unnamed_column", HARD, "A filled column without a variable name.",
         "import.file", None, ProtocolViolation),
    Rule("import.dictionary_changed", HARD,
         "A workbook made with a dictionary whose codes have changed meaning is refused.",
         "import.file", None, ProtocolViolation),
    Rule("import.refused", HARD,
         "A row the services refused for another reason (named in the message).",
         "import.file", None, ProtocolViolation),
    Rule("redcap.unknown_event", HARD, "A REDCap row of an event this study does not have.",
         "import.file", None, ProtocolViolation),
    Rule("redcap.not_in_event", HARD,
         "A REDCap row with a value in a field its event or form does not ask.",
         "import.file", None, ProtocolViolation),
    Rule("redcap.repeating_row", HARD,
         "A REDCap row holding several forms without its repeating instrument is refused.",
         "import.file", None, ProtocolViolation),
    Rule("participant.unknown", HARD,
         "A row naming no participant the importing person may see is refused.",
         "import.file", None, ProtocolViolation),
)
