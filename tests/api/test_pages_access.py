"""The role × centre matrix for the pages (session cookie), on SQLite and PostgreSQL.

Rules cited: ``scope.other_centre`` (another centre's participant or centre page answers
404, exactly like a code that does not exist), ``scope.role`` (statisticians open no entry
form; only data managers open the accounts page). Centre A is C01, centre B is C02;
``officer_b`` is a research officer limited to C02.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import World
from tests.api.test_api_access import CENTRES, ROLES, VISIBLE
from tests.api.test_api_pages import sign_in

USERNAMES = {"worker_a": "worker.a", "worker_a2": "worker.a2", "worker_b": "worker.b",
             "officer": "officer", "officer_b": "officer.b", "statistician": "stat",
             "admin": "admin"}


def sees(role: str, centre: str) -> bool:
    return centre in VISIBLE.get(role, set(CENTRES))


def anyone(role: str, centre: str) -> int:
    return 200


def read(role: str, centre: str) -> int:
    return 200 if sees(role, centre) else 404


def write(role: str, centre: str) -> int:
    return 403 if role == "statistician" else read(role, centre)


def entry(role: str, centre: str) -> int:
    """Data-entry pages of no particular centre: a 403 page for statisticians (read-only)."""
    return 403 if role == "statistician" else 200


def admin_only(role: str, centre: str) -> int:
    return 200 if role == "admin" else 403


Expect = Callable[[str, str], int]
CENTRE_PAGES: list[tuple[str, Expect]] = [
    ("/participants/{code}", read),
    ("/participants/{code}/history", write),  # statisticians: no audit trail (names)
    ("/participants/{code}/questionnaires/M0", write),
    ("/participants/{code}/sessions/new", write),
    ("/centres/{centre}", read),
    ("/participants?centre={centre}", read),
    ("/deviations?centre={centre}", read),
]
GLOBAL_PAGES: list[tuple[str, Expect]] = [
    ("/participants", anyone),
    ("/participants/new", entry),  # statisticians: a 403 page, not a form to refuse
    ("/retention", anyone),
    ("/deviations", anyone),
    ("/workbooks", entry),
    ("/accounts", admin_only),
]


@pytest.mark.parametrize("role", ROLES)
def test_page_matrix(role: str, client: TestClient, world: World) -> None:
    """Every page, for each centre: the status the role and centre call for; a 404 for
    another centre's participant reads like one for a code that does not exist."""
    assert world.pa is not None and world.pb is not None
    sign_in(client, USERNAMES[role])
    codes = {"C01": world.pa.code, "C02": world.pb.code}
    mismatches = []
    for centre in CENTRES:
        for template, expect in CENTRE_PAGES:
            path = template.format(code=codes[centre], centre=centre)
            response = client.get(path, follow_redirects=False)
            expected = expect(role, centre)
            if response.status_code != expected:
                mismatches.append(f"GET {path}: {response.status_code} (expected {expected})")
            if response.status_code == 404:
                twin = client.get(template.format(code=f"{centre}-0999-X", centre="C99"),
                                  follow_redirects=False)
                hide = (codes[centre], f"{centre}-0999-X", centre, "C99")
                a, b = response.text, twin.text
                for secret in hide:
                    a, b = a.replace(secret, "X"), b.replace(secret, "X")
                if twin.status_code != 404 or a != b:
                    mismatches.append(f"GET {path}: 404 page differs from an unknown one")
            if response.status_code == 200 and not sees(role, centre):
                mismatches.append(f"GET {path}: shown to a role outside the centre")
    for path, expect in GLOBAL_PAGES:
        response = client.get(path, follow_redirects=False)
        if response.status_code != expect(role, ""):
            mismatches.append(f"GET {path}: {response.status_code} "
                              f"(expected {expect(role, '')})")
    listing = client.get("/participants").text
    for centre, code in codes.items():
        if (code in listing) != sees(role, centre):
            mismatches.append(f"/participants lists {code} wrongly for {role}")
    assert not mismatches, "\n".join(mismatches)
