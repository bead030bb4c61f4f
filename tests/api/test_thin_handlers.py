"""Handlers are thin: no route handler or page in ``api/`` runs a database query itself;
reads and writes go through the services of ``cohort`` (which apply scope and roles)."""

from __future__ import annotations

import re
from pathlib import Path

API = Path(__file__).resolve().parents[2] / "api"
QUERY = re.compile(r"(?<!request\.)\bsession\.(exec|get|execute|scalar|scalars|query)\(|\bselect\(")
HANDLERS = sorted([*API.glob("routers/*.py"), *API.glob("pages/*.py")])


def test_no_queries_in_handlers() -> None:
    assert HANDLERS
    found = [f"{path.relative_to(API.parent)}:{number}: {line.strip()}"
             for path in HANDLERS
             for number, line in enumerate(path.read_text().splitlines(), start=1)
             if QUERY.search(line)]
    assert not found, "\n".join(found)


def test_no_role_rules_in_handlers() -> None:
    """Who may do what is decided in ``cohort`` (rules scope.*), not by comparing roles."""
    role_check = re.compile(r"role (not )?in \(Role\.")
    found = [f"{path.relative_to(API.parent)}:{number}: {line.strip()}"
             for path in HANDLERS
             for number, line in enumerate(path.read_text().splitlines(), start=1)
             if role_check.search(line)]
    assert not found, "\n".join(found)
