"""The validation layer (``api.inputs``): every parameter of every operation, bounded.

Issue 11, class 1: values the database cannot hold answered 500. Property: for any
operation of the OpenAPI schema and any of its path, query, form or JSON body parameters,
a value out of its type's bounds (a whole number past an ``Integer`` column's range, a
date at the calendar's edges or written as a number, text with NUL or over its length)
answers 422 with a problem document naming that parameter, on SQLite and PostgreSQL.
Also: every route of the app goes through the layer, request bodies are limited while
they stream (413 before sign-in), a 405 names every method of the path, and the security
headers forbid ``<base>`` and foreign form targets (class 9).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.inputs import BODY_TEXT_MAX, DATE_MAX, DATE_MIN, PARAM_TEXT_MAX, CheckedRoute
from cohort.models import MAX_INTEGER, MIN_INTEGER
from tests.api.conftest import World

BIG = st.one_of(st.integers(min_value=MAX_INTEGER + 1, max_value=2**70),
                st.integers(min_value=-(2**70), max_value=MIN_INTEGER - 1))
EDGE_DATES = st.one_of(
    st.sampled_from(["0001-01-01", "9999-12-31", "0", "1", "-1", "1899-12-31", "2101-01-01",
                     "20260101", "2026-1-1"]),
    st.dates(max_value=DATE_MIN - timedelta(days=1)).map(date.isoformat),
    st.dates(min_value=DATE_MAX + timedelta(days=1)).map(date.isoformat))


def _nul_laden(limit: int) -> st.SearchStrategy[str]:
    safe = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00/?#%"),
                   max_size=10)
    return st.tuples(safe, safe).map(lambda p: f"{p[0]}\x00{p[1]}")


def _too_long(limit: int) -> st.SearchStrategy[str]:
    return st.integers(min_value=limit + 1, max_value=limit + 40).map(lambda n: "x" * n)


def _parameters(app: FastAPI) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(method, path, location, name, schema) of every parameter in the OpenAPI schema."""
    found = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            for p in operation.get("parameters", ()):
                found.append((method, path, p["in"], p["name"], p["schema"]))
            for media, body in operation.get("requestBody", {}).get("content", {}).items():
                where = "json" if "json" in media else "form"
                for name, schema in body["schema"].get("properties", {}).items():
                    found.append((method, path, where, name, schema))
    return found


def _kind(schema: dict[str, Any]) -> str | None:
    options = schema.get("anyOf", [schema])
    for option in options:
        if option.get("type") == "integer":
            return "int"
        if option.get("format") == "date":
            return "date"
        if option.get("type") == "string" and "enum" not in option:
            return "str"
    return None


def _bad_value(kind: str, location: str) -> st.SearchStrategy[Any]:
    limit = PARAM_TEXT_MAX if location in ("path", "query") else BODY_TEXT_MAX
    if kind == "int":
        return BIG
    if kind == "date":
        return EDGE_DATES
    return st.one_of(_nul_laden(limit), _too_long(limit))


def test_every_route_goes_through_the_layer(app: FastAPI) -> None:
    def routes(router: Any) -> list[Any]:
        out = []
        for route in router.routes:
            inner = getattr(route, "original_router", None)
            out.extend(routes(inner) if inner is not None else [route])
        return out

    checked = [r for r in routes(app.router) if getattr(r, "endpoint", None) is not None
               and not getattr(r, "path", "").startswith(("/api/docs", "/docs"))
               and getattr(r, "path", "") != "/api/v1/openapi.json"]
    assert len(checked) > 30
    assert [r.path for r in checked if not isinstance(r, CheckedRoute)] == []


def test_the_schema_states_the_limits(app: FastAPI) -> None:
    kinds = {(m, p, where, name): schema for m, p, where, name, schema in _parameters(app)}
    offset = kinds[("get", "/api/v1/participants", "query", "offset")]
    assert offset["maximum"] == MAX_INTEGER
    as_of = kinds[("get", "/api/v1/retention", "query", "as_of")]
    assert any("pattern" in o for o in as_of.get("anyOf", [as_of]))
    code = kinds[("get", "/api/v1/participants/{code}", "path", "code")]
    assert code["maxLength"] == PARAM_TEXT_MAX and "\\x00" in code["pattern"]


@settings(max_examples=250, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_out_of_bounds_value_answers_422_naming_it(client: TestClient, world: World,
                                                       app: FastAPI, data: Any) -> None:
    candidates = [c for c in _parameters(app) if _kind(c[4])]
    method, path, location, name, schema = data.draw(st.sampled_from(candidates))
    value = data.draw(_bad_value(_kind(schema) or "str", location))
    assert world.pa is not None
    filled = {"code": world.pa.code, "timepoint": "M0", "centre_code": "C01",
              "account_id": "1", "staff_id": "1", "deviation_id": "1", "job_id": "0" * 32,
              "session_id": "1",
              "name": "file.csv"}
    query: dict[str, Any] = {}
    kwargs: dict[str, Any] = {}
    if location == "path":
        filled[name] = quote(str(value), safe="")
    elif location == "query":
        query[name] = str(value)
    elif location == "json":
        kwargs["json"] = {name: value}
    else:
        kwargs["data"] = {name: str(value)}
    url = path.format(**filled)
    response = client.request(method.upper(), url, params=query, headers=world.h("admin"),
                              **kwargs)
    assert response.status_code == 422, (method, url, name, value, response.text[:300])
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert name in {e["field"].split(".")[0] for e in body["errors"]}, body


@pytest.mark.parametrize(("url", "field"), [
    ("/api/v1/retention?as_of=9999-12-31", "as_of"),
    ("/api/v1/retention?as_of=0", "as_of"),
    ("/api/v1/worklist?as_of=0001-01-01", "as_of"),
    ("/api/v1/deviations/9223372036854775808", "deviation_id"),
    ("/api/v1/participants?offset=9223372036854775807", "offset"),
])
def test_the_reported_examples(client: TestClient, world: World, url: str, field: str) -> None:
    response = client.get(url, headers=world.h("admin"))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_anonymous_token_request_with_nul_is_422(client: TestClient) -> None:
    response = client.post("/api/v1/auth/token",
                           data={"username": "admin\u0000", "password": "whatever it is"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["username"]


def test_pages_refuse_nul_with_a_page(client: TestClient, world: World) -> None:
    response = client.post("/login", data={"username": "admin\u0000", "password": "x" * 20})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "NUL" in response.text


def test_body_over_the_limit_is_refused_before_sign_in(client: TestClient, app: FastAPI) -> None:
    """A declared length over the limit is refused unread; a streamed one at the limit."""
    limit = app.state.settings.max_body_bytes
    declared = client.post("/api/v1/participants", content=b"x" * (limit + 1),
                           headers={"content-type": "application/json"})
    assert declared.status_code == 413
    assert declared.json()["type"] == "/problems/too-large"

    def chunks() -> Any:
        for _ in range(limit // 65536 + 2):
            yield b"[" * 65536

    streamed = client.post("/api/v1/participants", content=chunks(),
                           headers={"content-type": "application/json"})
    assert streamed.status_code == 413  # not 401: refused before anyone is signed in
    assert streamed.json()["type"] == "/problems/too-large"


def test_405_names_every_method_of_the_path(client: TestClient, world: World) -> None:
    response = client.put("/api/v1/participants", headers=world.h("admin"))
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["type"] == "/problems/method-not-allowed"


def test_content_security_policy_forbids_base_and_foreign_forms(client: TestClient) -> None:
    policy = client.get("/login").headers["content-security-policy"]
    assert "base-uri 'none'" in policy and "form-action 'self'" in policy
