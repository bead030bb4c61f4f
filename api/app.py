"""The application factory: ``uvicorn --factory api.app:create_app``."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import ops, pages, routers
from api.background import lifespan as jobs_lifespan
from api.deps import SESSION_LANGUAGE
from api.inputs import include
from api.limits import BodyLimit
from api.ops import RequestContext
from api.pages import excel as excel_pages
from api.pages.common import render_error
from api.problems import problem_openapi, register_problem_handlers
from api.redcap import router as redcap
from api.session_secret import session_secret
from cohort.db import engine_for, limit_lock_waits
from cohort.settings import Settings, get_settings
from cohort.shared import shared_store
from forms.i18n import negotiate, normalise, set_language

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # Own scripts and styles only; the Swagger page at /api/docs loads its own assets. No
    # <base> may redirect relative URLs, and forms post only back to this site.
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; "
                                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
}
SESSION_MAX_AGE = 12 * 3600

DESCRIPTION = """
REST API of the OUTSIDER/AERLI cohort data manager.

Sign in with `POST /api/v1/auth/token` (username, password) and send the token as
`Authorization: Bearer <token>`. Outreach workers see only their own centre: another
centre's participant answers 404, exactly like a code that does not exist. Statisticians
read de-identified data only.

Errors are RFC 9457 problem details (`application/problem+json`). A hard protocol rule that
refuses a write gives its `rule_id` (409 when the write conflicts with what is recorded, 422
when a value is refused); answers that fail the data dictionary give 422 with `errors`; a
stale `version` gives 409 with `current_version` and overwrites nothing. Writes that were
saved but flagged by a soft rule list the `deviations` they raised.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The background jobs (``api.background``), then the started process's own objects
    frozen out of the garbage collector's full passes (``Settings.freeze_heap``).

    Under load a full pass ran every few seconds and walked every object the process
    holds, most of them the libraries' and the app's, which live as long as the process:
    each pass held every request in flight for 115-190 ms (measured in a mixed run,
    2 cores), which is what the slowest twentieth of requests waited. Frozen objects
    are still freed when nothing refers to them; a cycle among them would be kept, which
    is why what is garbage already is collected first."""
    async with jobs_lifespan(app):
        if app.state.settings.freeze_heap:
            gc.collect()
            gc.freeze()
        yield


class SecurityHeaders:
    """Pure ASGI middleware (cheaper than ``@app.middleware("http")``): security headers on
    every response but the Swagger page, and no caching of anything but static files, so
    study data does not stay in the cache of a shared phone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        extra: dict[str, str] = {}
        if not path.startswith("/api/docs"):
            extra.update(SECURITY_HEADERS)
        if not path.startswith("/static/"):
            extra["Cache-Control"] = "no-store"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                headers = MutableHeaders(scope=message)
                for key, value in extra.items():
                    if key not in headers:
                        headers[key] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ReaderLanguage:
    """Pure ASGI middleware: the reader's language for the whole request, set before any
    dependency or handler runs (a sync handler's thread copies the context, so a language
    set later, inside a dependency, would not reach it). The account's choice (kept in the
    page session) first, else the browser's ``Accept-Language``, else
    ``COHORT_DEFAULT_LANGUAGE``. The ``Content-Language`` header says which one answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chosen = scope.get("session", {}).get(SESSION_LANGUAGE)
        if not isinstance(chosen, str) or normalise(chosen) is None:
            header = next((value.decode("latin-1") for key, value in scope["headers"]
                           if key == b"accept-language"), None)
            chosen = negotiate(header)
        lang = set_language(chosen)
        scope.setdefault("state", {})["lang"] = lang

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Language", lang)
            await send(message)

        await self.app(scope, receive, send_with_language)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    today: Callable[[], date] | None = None,
) -> FastAPI:
    """Build the app. Nothing connects to the database until the first request."""
    settings = settings or get_settings()
    app = FastAPI(
        title="OUTSIDER cohort data manager",
        version="1",
        description=DESCRIPTION,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine or engine_for(settings.database_url, settings.echo_sql)
    limit_lock_waits(app.state.engine, settings.write_wait_seconds)
    app.state.store = shared_store(
        app.state.engine.url.render_as_string(hide_password=False), settings)
    app.state.today = today or date.today
    app.add_middleware(ReaderLanguage)  # inside the session: reads the account's choice
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie="outsider_session",
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=settings.cookie_secure,
    )
    app.add_middleware(BodyLimit, max_body=settings.max_body_bytes,
                       max_upload=settings.max_upload_bytes)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestContext)  # outermost: ids, times and counts everything
    register_problem_handlers(app, render_page=render_error)
    app.openapi = lambda: problem_openapi(app)  # type: ignore[method-assign]
    routers.include_all(app)
    pages.include_all(app)
    include(app, excel_pages.router)
    include(app, redcap.router)
    include(app, ops.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
