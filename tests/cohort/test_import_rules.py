"""Every refusal of an import is a rule, listed by ``cohort rules``, decided in the domain.

Rules: import.status_out_of_order, import.enrolment_changed, import.duplicate_enrolment,
import.no_code, import.no_staff, import.unknown_staff (checks over plain facts), and the
reading refusals (import.unreadable_value, import.missing_column, …) found cell by cell.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cohort.cli.main import app
from cohort.errors import ProtocolViolation
from cohort.import_rules import (
    IMPORT_RULES,
    EnrolmentChangeFacts,
    RowFacts,
    StatusOrderFacts,
    TwinFacts,
)
from cohort.messages import CATALOGUE
from cohort.rules import RULES_BY_ID, enforce
from cohort.services import imports

ROOT = Path(__file__).resolve().parents[2]
#: A rule id in a problem or refusal: "import.x", "redcap.x", "participant.unknown".
RULE_ID = re.compile(r"\"((?:import|redcap)\.[a-z_]+|participant\.unknown)\"")


def test_cohort_rules_lists_every_import_refusal() -> None:
    done = CliRunner().invoke(app, ["rules", "--json"])
    assert done.exit_code == 0, done.output
    listed = {row["id"]: row for row in json.loads(done.stdout)}
    for rule in IMPORT_RULES:
        assert listed[rule.id]["severity"] == "hard"
        assert listed[rule.id]["message"] == rule.message
    assert {"import.status_out_of_order", "import.enrolment_changed",
            "import.duplicate_enrolment", "import.no_code", "import.no_staff",
            "import.unknown_staff", "import.unreadable_value"} <= set(listed)


def test_every_rule_id_the_importers_name_is_a_listed_rule() -> None:
    """A refusal added to the Excel or REDCap readers without its rule fails here."""
    sources = [*(ROOT / "cohort" / "excel").glob("*.py"),
               *(ROOT / "cohort" / "redcap").glob("*.py")]
    named = {m for path in sources for m in RULE_ID.findall(path.read_text(encoding="utf-8"))}
    assert "import.status_out_of_order" not in named  # decided by its rule, not spelled out
    assert named, "the pattern found no rule id at all"
    # A quoted id is a rule id or a message id of the catalogue (``msg("import.stopped")``,
    # the words of a refusal whose rule is named beside it).
    assert named <= set(RULES_BY_ID) | set(CATALOGUE), \
        sorted(named - set(RULES_BY_ID) - set(CATALOGUE))
    assert named & set(RULES_BY_ID) >= {"import.unreadable_value",
                                        "redcap.not_in_event", "participant.unknown"}


def test_a_status_dated_before_a_later_change_is_refused() -> None:
    later = StatusOrderFacts("C04-0001", date(2026, 3, 1), date(2026, 1, 1),
                             "lost_to_follow_up", date(2026, 5, 1))
    with pytest.raises(ProtocolViolation) as refused:
        enforce("import.status", later)
    assert refused.value.rule_id == "import.status_out_of_order"
    assert refused.value.field == "fu_status_date"
    assert "lost to follow up on 2026-05-01" in refused.value.message
    enforce("import.status", StatusOrderFacts("C04-0001", date(2026, 3, 1), date(2026, 1, 1)))
    # Before inclusion: date.before_inclusion answers it, not this rule.
    enforce("import.status", StatusOrderFacts("C04-0001", date(2025, 12, 1), date(2026, 1, 1),
                                              "withdrawn", date(2026, 5, 1)))


def test_an_enrolment_answer_sent_differently_is_refused_naming_the_field() -> None:
    imports.check_enrolment_answer("C04-0001", "gender", "Gender", "1", "1")
    with pytest.raises(ProtocolViolation) as refused:
        imports.check_enrolment_answer("C04-0001", "gender", "Gender", "1", "2")
    assert refused.value.rule_id == "import.enrolment_changed"
    assert refused.value.field == "gender"
    assert RULES_BY_ID["import.enrolment_changed"].check(
        EnrolmentChangeFacts("C", "f", "F", "a", "a")) is None


def test_a_row_equal_to_an_enrolled_participant_is_refused() -> None:
    imports.refuse_duplicate_enrolment(None)
    with pytest.raises(ProtocolViolation) as refused:
        imports.refuse_duplicate_enrolment("C04-0007")
    assert refused.value.rule_id == "import.duplicate_enrolment"
    assert "C04-0007" in refused.value.message
    enforce("import.enrolment", TwinFacts(None))


def test_rows_need_a_code_and_sessions_their_workers() -> None:
    imports.require_code("C04-0001")
    with pytest.raises(ProtocolViolation) as no_code:
        imports.require_code(None)
    assert no_code.value.rule_id == "import.no_code"
    with pytest.raises(ProtocolViolation) as no_staff:
        enforce("import.session_staff", RowFacts(staff_text="  "))
    assert no_staff.value.rule_id == "import.no_staff"
    with pytest.raises(ProtocolViolation) as unknown:
        enforce("import.session_staff", RowFacts(staff_text="x", unknown_staff=("x",)))
    assert unknown.value.rule_id == "import.unknown_staff"
    assert "x" in unknown.value.message


def test_the_excel_package_holds_no_policy() -> None:
    """Matching and duplicate detection moved to cohort.services.imports."""
    text = "\n".join(p.read_text(encoding="utf-8")
                     for p in (ROOT / "cohort" / "excel").glob("*.py"))
    for moved in ("def _same_enrolments", "def _session_stored", "def _staff_ids",
                  "ExternalRecord.external_id).in_", "StatusChange.effective_date"):
        assert moved not in text
