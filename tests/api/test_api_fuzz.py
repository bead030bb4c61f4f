"""Schemathesis against our own OpenAPI schema: every phase, every check, each role.

The engine the ``st run`` command uses runs in-process against the app (on SQLite and
PostgreSQL, in the test's rolled-back world), once per role: data manager, research
officer, outreach worker and statistician, each with its own bearer token. Its phases:
the schema's examples, coverage scenarios (boundary values, values of the wrong type,
missing parameters, methods a path does not take), fuzzing in positive and negative modes
(a real participant's code in ``{code}`` half of the time, to reach deep paths) and the
stateful phase. All of schemathesis' checks are on (``schemathesis.toml`` at the top of
the repository says how each is configured), plus ``shape_refusal_of_valid_data``:
schema-valid data may be refused by the protocol or the dictionary (422 with labelled
errors, or a rule), never as malformed. 0 failures.

``COHORT_FUZZ_EXAMPLES`` bounds the fuzzing per operation (CI time stays sane).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from tests.api.conftest import World

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"
EXAMPLES = int(os.environ.get("COHORT_FUZZ_EXAMPLES", "5"))
ROLES = ("admin", "officer", "worker_a", "statistician")


@schemathesis.check
def shape_refusal_of_valid_data(ctx: Any, response: Any, case: Any) -> bool | None:
    """Valid data may be refused by a rule or the dictionary, not as a malformed request."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    body = response.json()
    shape = [e for e in body.get("errors") or [] if not e.get("label")]
    if body.get("type") == "/problems/validation" and shape:
        raise AssertionError(f"schema-valid data refused as malformed: {shape[:3]}")
    return None


def _failures(app: FastAPI, headers: dict[str, str], label: str, code: str) -> list[str]:
    config = SchemathesisConfig.from_path(CONFIG)
    config.projects.default.update(headers=headers, workers=1)
    config.projects.default.generation.update(max_examples=EXAMPLES)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, config=config)

    @schema.hook
    def flatmap_path_parameters(context: Any, parameters: dict[str, Any] | None) -> Any:
        """A real participant's code half of the time, so that deep paths are reached."""
        if not parameters or "code" not in parameters:
            return st.just(parameters)
        return st.sampled_from([parameters, {**parameters, "code": code}])

    found: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.status in (
                Status.FAILURE, Status.ERROR):
            for case_id, nodes in event.recorder.checks.items():
                for one in nodes:
                    if one.status is Status.FAILURE and one.failure_info is not None:
                        case = event.recorder.cases[case_id].value
                        found.append(f"{label}: {case.method} {case.formatted_path} "
                                     f"{case.query or ''} {case.media_type} "
                                     f"{str(case.body)[:150]!r} {case.headers}: "
                                     f"{one.failure_info.failure.title}: "
                                     f"{one.failure_info.failure.message[:300]}")
        elif isinstance(event, events.NonFatalError):
            found.append(f"{label}: error {event.info.message[:300]}")
    return found


@pytest.mark.parametrize("role", ROLES)
def test_every_check_passes_as_each_role(app: FastAPI, world: World, role: str) -> None:
    assert world.pa is not None
    failures = _failures(app, world.h(role), role, world.pa.code)
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(sorted(set(failures))[:15])
