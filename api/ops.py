"""Operations: ``/healthz`` for the proxy or orchestrator, ``/metrics`` for Prometheus, and
the request middleware that gives every request an id, times it, counts it and logs it as
one structured line (``cohort.logs``, ``cohort.metrics``).

Neither endpoint needs a sign-in and neither shows study data: ``/healthz`` says whether
the database answers and its schema is the one this software expects; ``/metrics`` holds
counts and latencies by route template. Keep ``/metrics`` for the monitoring network (the
README's proxy example does not forward it).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from functools import cache

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.inputs import api_router
from cohort import metrics
from cohort.logs import request_id

router = api_router(include_in_schema=False)
log = logging.getLogger("cohort.requests")
REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
QUIET_ROUTES = frozenset({"/healthz", "/metrics", "/static"})


@cache
def schema_head() -> str | None:
    """The migration revision this software expects (alembic's head)."""
    from alembic.script import ScriptDirectory

    from cohort.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def health(engine: Engine) -> tuple[int, dict[str, str | None]]:
    """200 when the database answers and holds the expected schema, else 503 and why."""
    head = schema_head()
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = connection.execute(
                text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError as error:
        first = str(getattr(error, "orig", error)).strip().splitlines()[0][:200]
        if "alembic_version" in first:
            return 503, {"status": "migrations not applied", "database": "reachable",
                         "schema": None, "expected": head}
        return 503, {"status": "database unreachable", "database": first,
                     "schema": None, "expected": head}
    status = "ok" if current == head else "migrations pending"
    return (200 if status == "ok" else 503), {"status": status, "database": "reachable",
                                              "schema": current, "expected": head}


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    """Database reachable and migrations current: 200; otherwise 503 with the reason."""
    code, body = health(request.app.state.engine)
    return JSONResponse(body, status_code=code)


@router.get("/metrics")
def prometheus_metrics() -> Response:
    """Request latency and errors, background jobs (every server process added up)."""
    data, content_type = metrics.exposition()
    return Response(data, media_type=content_type)


def _route_of(scope: Scope) -> str:
    """The matched route's template (``/api/v1/participants/{code}``): the routes are
    listed on the app with their router's prefix (``api.inputs.include``)."""
    template = getattr(scope.get("route"), "path", None)
    if isinstance(template, str):
        return template
    if str(scope.get("path", "")).startswith("/static/"):
        return "/static"
    return "unmatched"


class RequestContext:
    """Pure ASGI middleware, outermost: request id (the proxy's ``X-Request-ID`` when it
    is a plain token, else a new one; sent back in the response), latency and error
    metrics by route template, and one log line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = sent if _SAFE_ID.match(sent) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route, method = _route_of(scope), str(scope.get("method", ""))
            metrics.REQUESTS.labels(method, route, str(status)).inc()
            metrics.LATENCY.labels(method, route).observe(elapsed)
            if status >= 500:
                metrics.ERRORS.labels(method, route).inc()
            if route not in QUIET_ROUTES or status >= 500:
                client = scope.get("client")
                log.info("%s %s %s", method, route, status, extra={
                    "method": method, "route": route, "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                    "client": client[0] if client else None})
            request_id.reset(token)
