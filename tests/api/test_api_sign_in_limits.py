"""Passwords and sign-in (issue 11, class 7): NIST SP 800-63B checks with the person's and
the study's words as context; a throttle per account and per address, kept in the
database so that several server processes share it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.throttle import MAX_ADDRESS_FAILURES, SignInThrottle
from cohort.models import SignInFailure
from cohort.passwords import WeakPassword, check_password, context_words
from cohort.services import accounts
from cohort.services.context import COMMAND_LINE
from cohort.services.throttle import ThrottleRules
from cohort.vocab import Role
from tests.api.conftest import PASSWORD, World
from tests.factories import Factory

# The ten weak passwords tried against the system, eight of which it used to accept.
WEAK = ["1234567890", " " * 10, "worker.c04", "password1234567890", "aaaaaaaaaaaaaaaaaa",
        "worker.c04worker.c04", "qwertyuiopasdfghjkl", "outsider-aerli-2026",
        "c04 worker password", "Centre C04 Lyon 2026"]


@pytest.mark.parametrize("password", WEAK)
def test_weak_passwords_are_refused(session: Session, factory: Factory, password: str) -> None:
    centre = factory.centre("C04")
    centre.name, centre.city = "Centre C04", "Lyon"
    session.add(centre)
    session.commit()
    with pytest.raises(WeakPassword):
        accounts.create_staff_account(session, actor=COMMAND_LINE, username="worker.c04",
                                      password=password, role=Role.OUTREACH_WORKER,
                                      centre_code="C04")


def test_strong_passwords_of_any_characters_are_accepted(session: Session,
                                                         factory: Factory) -> None:
    factory.centre("C04")
    for index, password in enumerate([PASSWORD, "café crème au lait chaud", "x7-Kd9_qZ2-pLm4Rt8",
                                      "sept mots au hasard pour toi " * 5]):
        accounts.create_staff_account(session, actor=COMMAND_LINE, username=f"w{index}",
                                      password=password, role=Role.OUTREACH_WORKER,
                                      centre_code="C04")
    demo = accounts.create_demo_accounts(session)
    for one in demo:  # the demo's generated passwords pass the same checks
        check_password(one.password, context=context_words(one.username))


def test_a_reset_is_checked_against_the_accounts_own_words(client: TestClient,
                                                           world: World) -> None:
    account_id = client.get("/api/v1/accounts", headers=world.h("admin")).json()
    target = next(a for a in account_id if a["username"] == "worker.a")
    refused = client.patch(f"/api/v1/accounts/{target['id']}",
                           json={"password": "worker.a worker.a 2026"},
                           headers=world.h("admin"))
    assert refused.status_code == 422
    assert "username" in refused.json()["detail"]


def test_one_address_trying_many_accounts_is_stopped(client: TestClient, world: World) -> None:
    """176 attempts over 44 accounts, four each, went through before."""
    answers = []
    for index in range(MAX_ADDRESS_FAILURES + 3):
        answer = client.post("/api/v1/auth/token",
                             data={"username": f"someone.{index}", "password": "guess guess"})
        answers.append(answer.status_code)
    assert answers[:MAX_ADDRESS_FAILURES] == [401] * MAX_ADDRESS_FAILURES
    assert set(answers[MAX_ADDRESS_FAILURES:]) == {429}
    blocked = client.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0


def test_failures_are_shared_by_separate_connections(engine: Engine) -> None:
    """What one server process records, another sees: two sessions, two connections."""
    now = [datetime(2026, 11, 22, 9, 0, tzinfo=UTC)]
    rules = ThrottleRules(max_failures=2, window=timedelta(minutes=15), clock=lambda: now[0])
    address = "198.51.100.7"
    try:
        with Session(engine) as first, Session(engine) as second:
            one, two = SignInThrottle(first, rules), SignInThrottle(second, rules)
            one.failed("shared.user", address)
            two.failed("shared.user", address)
            first.rollback()
            assert one.wait_seconds("shared.user", address) == 15 * 60
            second.rollback()
            assert two.wait_seconds("Shared.User ", address) == 15 * 60
    finally:
        with Session(engine) as cleanup:
            cleanup.exec(delete(SignInFailure).where(SignInFailure.address == address))
            cleanup.commit()
