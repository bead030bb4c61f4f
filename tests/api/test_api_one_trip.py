"""A request's synchronous work makes one trip off the event loop (``api.hops``): the
person is looked up in the endpoint's own worker thread, a rendered page's transaction
ends there too, and the answer is checked on the loop. Each trip cost processor time and
a wait for the interpreter lock on both sides, under load a fifth of a request."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import anyio.to_thread
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.deps import CurrentUser, SignedIn, get_session
from api.inputs import api_router
from cohort.vocab import Timepoint
from tests.api.conftest import World
from tests.api.test_api_pages import sign_in
from tests.factories import questionnaire_answers


@pytest.fixture
def trips(app: FastAPI, session: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the functions sent to a worker thread, with the test's session given
    as production gives it (an async dependency: no trip of its own)."""
    async def bound(request: Request) -> AsyncIterator[Session]:
        request.state.db_session = session
        yield session
        if session.in_transaction():
            await anyio.to_thread.run_sync(session.rollback)

    app.dependency_overrides[get_session] = bound
    made: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(function: Any, *args: Any, **kwargs: Any) -> Any:
        made.append(getattr(function, "__qualname__", repr(function)))
        return await run_sync(function, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    yield made


def test_a_page_and_a_save_make_one_trip_each(client: TestClient, world: World,
                                              trips: list[str]) -> None:
    assert world.pa is not None
    sign_in(client, "officer")
    trips.clear()
    assert client.get("/retention").status_code == 200
    assert len(trips) == 1, trips
    trips.clear()
    visit = world.pa.inclusion_date + timedelta(days=182)
    saved = client.post(f"/api/v1/participants/{world.pa.code}/questionnaires/M6",
                        json={"answers": questionnaire_answers(visit, Timepoint("M6"))},
                        headers=world.h("worker_a"))
    assert saved.status_code == 201, saved.text
    assert len(trips) == 1, trips


def test_who_is_not_signed_in_hears_it_before_what_was_wrong(client: TestClient,
                                                              world: World) -> None:
    """The person is looked up in the endpoint's thread, after FastAPI checked the body;
    a refused body still answers 401 to someone not signed in, as it did when the look-up
    came first, and 422 to someone signed in."""
    assert world.pa is not None
    path = f"/api/v1/participants/{world.pa.code}/questionnaires/M6"
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        refused = client.post(path, json={"answers": "not an object"}, headers=headers)
        assert refused.status_code == 401, refused.text
    wrong = client.post(path, json={"answers": "not an object"}, headers=world.h("worker_a"))
    assert wrong.status_code == 422


def test_the_person_leaves_with_the_request(client: TestClient, world: World) -> None:
    """The deferred person does not hold the request that holds it: what a request made
    is freed when it ends, not left for the garbage collector's passes."""
    def answered() -> list[int]:  # (a test client's page keeps its template's context)
        return [client.get(path, headers=world.h(who)).status_code
                for path, who in (("/api/v1/auth/me", "worker_a"), ("/api/v1/retention",
                                  "officer"), ("/api/v1/centres", "officer_b"))]

    gc.collect()
    gc.disable()
    try:
        codes = answered()
        left = [o for o in gc.get_objects() if isinstance(o, SignedIn)]
    finally:
        gc.enable()
    assert codes == [200] * 3 and left == []


def test_an_asynchronous_dependency_of_the_person_is_refused() -> None:
    """It would be given the person unresolved, on the loop, before anyone checked who
    asks: the route is refused when it is built, not at its first request."""
    async def audited(user: CurrentUser) -> None:
        pass

    def reads(user: CurrentUser) -> None:
        pass

    router = api_router()
    router.add_api_route("/fine", lambda: None, dependencies=[Depends(reads)])
    with pytest.raises(TypeError, match="audited"):
        router.add_api_route("/refused", lambda: None, dependencies=[Depends(audited)])
