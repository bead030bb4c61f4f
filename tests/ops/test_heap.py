"""A started server process leaves what it holds out of the garbage collector's full
passes (``api.app.lifespan``): those passes walked every object of the process and held
every request in flight for 115-190 ms under load."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.app import create_app
from tests.api.conftest import fixed_key_settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # this test process goes on collecting what it made


def _walked(thing: object) -> bool:
    """Whether the collector's passes still walk ``thing`` (frozen objects are in none of
    its generations)."""
    return any(o is thing for o in gc.get_objects())


@pytest.mark.parametrize("freeze", [True, False])
def test_a_started_process_freezes_what_it_holds(engine: Engine, unfrozen: None,
                                                  freeze: bool) -> None:
    settings = fixed_key_settings().model_copy(update={"freeze_heap": freeze})
    app = create_app(settings, engine=engine)
    assert gc.get_freeze_count() == 0 and _walked(app.router)
    with TestClient(app) as client:
        assert client.get("/login").status_code == 200
        frozen = gc.get_freeze_count()
        assert (frozen > 10_000) is freeze
        assert _walked(app.router) is not freeze
        gc.collect()
        assert gc.get_freeze_count() == frozen  # a full pass leaves them where they are
