"""A small, bounded schemathesis run against our own OpenAPI schema.

Every operation gets generated requests (as a data manager, who may call everything, and
with a real participant code in the path); none may answer with a server error, every
error answer must be a problem-details document, and every answer must conform to the
schema: a documented status, its documented content type and a body matching its schema
(``Problem`` for errors).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from tests.api.conftest import World

pytestmark = pytest.mark.slow


def test_no_server_errors_from_generated_requests(app: FastAPI, world: World) -> None:
    import schemathesis
    from schemathesis.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    conformance = [status_code_conformance, content_type_conformance,
                   response_schema_conformance, response_headers_conformance]
    assert world.pa is not None
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    strategy = schema.as_strategy()
    failures: list[str] = []

    @settings(max_examples=150, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        if case.path_parameters and "code" in case.path_parameters:
            case.path_parameters["code"] = world.pa.code  # type: ignore[union-attr]
        response = case.call(headers=world.h("admin"))
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path}: {response.status_code} "
                            f"{response.text[:300]}")
        elif response.status_code >= 400:
            kind = response.headers.get("content-type")
            kind = kind[0] if isinstance(kind, list) else kind
            if not str(kind).startswith("application/problem+json"):
                failures.append(f"{case.method} {case.formatted_path}: {kind}")
        try:
            case.validate_response(response, checks=conformance)
        except BaseException as error:  # noqa: BLE001 (schemathesis raises groups)
            failures.append(f"{case.method} {case.formatted_path}: {response.status_code} "
                            f"does not conform: {str(error)[:300]}")

    run()
    assert not failures, "\n".join(failures[:10])
