"""The app's routes are listed on the app itself (``api.inputs.include``), not reached
through the routers FastAPI now keeps whole: a request is matched against every route
before it, and through an included router each route costs four times as much, and the
matching router is searched twice. The routes must be the very ones ``include_router``
gave: same paths, methods, names, order, dependencies, answers and schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

import api.app
import api.inputs
import api.pages
import api.routers
from api.app import create_app
from cohort.settings import Settings

_MODULES = (api.app, api.pages, api.routers)


def _app(tmp_path: Any, include: Any) -> FastAPI:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/routes.db")
    patch = pytest.MonkeyPatch()
    try:
        for module in _MODULES:
            patch.setattr(module, "include", include)
        return create_app(settings)
    finally:
        patch.undo()


@pytest.fixture
def included(tmp_path: Any) -> Iterator[tuple[FastAPI, list[tuple[APIRouter, str]]]]:
    """The app as ``create_app`` makes it, and each router it included with its prefix."""
    calls: list[tuple[APIRouter, str]] = []

    def recording(app: FastAPI, router: APIRouter, *, prefix: str = "",
                  responses: dict[int | str, dict[str, Any]] | None = None) -> None:
        calls.append((router, prefix))
        api.inputs.include(app, router, prefix=prefix, responses=responses)

    yield _app(tmp_path, recording), calls


def test_every_route_is_on_the_app_in_the_routers_order(
        included: tuple[FastAPI, list[tuple[APIRouter, str]]]) -> None:
    app, calls = included
    assert calls, "create_app includes its routers through api.inputs.include"
    ours = [route for route in app.router.routes if isinstance(route, APIRoute)]
    # Nothing is reached through an included router: only routes, FastAPI's own pages
    # (the schema, the docs) and the static files' mount.
    assert all(isinstance(route, APIRoute | Route | Mount) for route in app.router.routes)
    expected = [(prefix + route.path, route.methods, route.name, type(route),
                 getattr(route, "written_endpoint", route.endpoint),
                 [d.dependency for d in route.dependencies], route.status_code,
                 route.include_in_schema)
                for router, prefix in calls for route in router.routes
                if isinstance(route, APIRoute)]
    assert [(route.path, route.methods, route.name, type(route),
             getattr(route, "written_endpoint", route.endpoint),
             [d.dependency for d in route.dependencies], route.status_code,
             route.include_in_schema) for route in ours] == expected
    # Made for this app: its dependency overrides reach them.
    assert all(route.dependency_overrides_provider is app for route in ours)


def test_the_schema_is_the_one_include_router_gives(tmp_path: Any) -> None:
    def fastapi_way(app: FastAPI, router: APIRouter, *, prefix: str = "",
                    responses: dict[int | str, dict[str, Any]] | None = None) -> None:
        app.include_router(router, prefix=prefix, responses=responses)

    assert create_app(Settings(database_url=f"sqlite:///{tmp_path}/a.db")).openapi() == \
        _app(tmp_path, fastapi_way).openapi()


def test_an_included_route_keeps_its_dependencies_and_overrides(tmp_path: Any) -> None:
    """A router's own dependency runs, an app's override replaces it, and an endpoint is
    called once (its one trip off the loop is not wrapped twice)."""
    seen: list[str] = []

    def guard() -> None:
        seen.append("guard")

    router = api.inputs.api_router(dependencies=[Depends(guard)])

    @router.get("/thing/{name}", status_code=203)
    def thing(name: str) -> dict[str, str]:
        seen.append(f"thing {name}")
        return {"name": name}

    app = FastAPI()
    api.inputs.include(app, router, prefix="/v9")
    with TestClient(app) as client:
        answer = client.get("/v9/thing/a")
        assert (answer.status_code, answer.json()) == (203, {"name": "a"})
        assert seen == ["guard", "thing a"]
        app.dependency_overrides[guard] = lambda: seen.append("override")
        client.get("/v9/thing/b")
        assert seen[2:] == ["override", "thing b"]
        assert client.get("/thing/a").status_code == 404


def test_only_api_routes_are_included_this_way() -> None:
    router = APIRouter()
    router.routes.append(Mount("/files", app=FastAPI()))
    with pytest.raises(TypeError, match="only API routes"):
        api.inputs.include(FastAPI(), router)
