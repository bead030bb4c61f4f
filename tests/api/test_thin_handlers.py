"""Handlers are thin: no route handler or page in ``api/`` runs a database query itself;
reads and writes go through the services of ``cohort`` (which apply scope and roles)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[2] / "api"
QUERY = re.compile(r"(?<!request\.)\bsession\.(exec|get|execute|scalar|scalars|query)\(|\bselect\(")
HANDLERS = sorted([*API.glob("routers/*.py"), *API.glob("pages/*.py"), *API.glob("redcap/*.py")])


def test_no_queries_in_handlers() -> None:
    assert HANDLERS
    found = [f"{path.relative_to(API.parent)}:{number}: {line.strip()}"
             for path in HANDLERS
             for number, line in enumerate(path.read_text().splitlines(), start=1)
             if QUERY.search(line)]
    assert not found, "\n".join(found)


# A role compared in a handler: ``role in (Role.…``, ``user.role is Role.…``,
# ``x.role not in …``, ``user.role.value in ("admin", …)``, ``… == Role.…``.
ROLE_CHECK = re.compile(
    r"\brole (not )?in \(Role\."
    r"|\.role(\.value)?\s*(==|!=|\bis\b|\bin\b|\bnot\b)"
    r"|\bRole\.\w+(\.value)?\s*(==|!=|\bis\b|\bin\b|\bnot\b)")


def role_checks(text: str) -> list[tuple[int, str]]:
    return [(number, line.strip())
            for number, line in enumerate(text.splitlines(), start=1)
            if ROLE_CHECK.search(line)]


def test_no_role_rules_in_handlers() -> None:
    """Who may do what is decided in ``cohort`` (rule scope.role: ``may``, ``require_role``),
    not by comparing roles in a router or a page."""
    found = [f"{path.relative_to(API.parent)}:{number}: {line}"
             for path in HANDLERS for number, line in role_checks(path.read_text())]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("line", [
    '"may_review": user.role.value in ("research_officer", "admin")},',
    "centres = [] if user.role is Role.OUTREACH_WORKER else queries.list_centres(",
    "may_write = user.role is not Role.STATISTICIAN",
    "if user.actor.role not in {Role.ADMIN}:",
    "if staff.role == Role.ADMIN:",
    "if Role.ADMIN == user.role:",
    "allowed = user.role in (Role.RESEARCH_OFFICER, Role.ADMIN)",
])
def test_the_role_check_pattern_catches_hand_coded_permissions(line: str) -> None:
    assert role_checks(line) == [(1, line)]


@pytest.mark.parametrize("line", [
    "role=staff.role, centre_id=staff.centre_id,",
    'return render(request, "admin.html", {"roles": list(Role)})',
    'may_review = may(user.actor, "review")',
    "role: Annotated[Role, Form()],",
])
def test_the_role_check_pattern_leaves_plain_uses_of_roles(line: str) -> None:
    assert role_checks(line) == []
