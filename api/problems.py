"""Domain errors → RFC 9457 problem details, in one place.

Status codes, and why:

* ``NotFound`` → 404, also for another centre's records (same body as an unknown code);
* ``ActionNotAllowed`` / ``OutsideCentreScope`` (rules ``scope.*``) → 403;
* ``StaleVersion`` → 409 with ``current_version``: reload, then save again;
* ``GroupCrossingRefused``, ``GroupLocked``, ``DuplicateTimepoint`` → 409: the request is
  well formed but conflicts with what is already recorded about the participant;
* every other hard rule (eligibility, consent, dates) → 422: the submitted values
  themselves are refused;
* ``ValidationFailed`` (data dictionary) and request-shape errors → 422 with
  ``errors: [{field, label, code, message}]``;
* any other ``CohortError`` → 422 with its message.

Refusals by a protocol rule carry ``rule_id`` and ``field``. Page requests get the same
status with an HTML page in plain words instead of JSON.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cohort.errors import (
    ActionNotAllowed,
    CohortError,
    DuplicateTimepoint,
    GroupCrossingRefused,
    GroupLocked,
    NotFound,
    OutsideCentreScope,
    ProtocolViolation,
    StaleVersion,
    ValidationFailed,
)

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)
CONFLICT_RULES = (GroupCrossingRefused, GroupLocked, DuplicateTimepoint)

# slug → (title, what the caller should do); served at /problems/{slug}.
PROBLEM_TYPES: dict[str, tuple[str, str]] = {
    "not-found": ("Not found", "Check the code; you only see your own centre's records."),
    "not-signed-in": ("Sign-in needed", "Get a token at POST /api/v1/auth/token."),
    "forbidden": ("Not allowed", "Your role does not allow this; ask a data manager."),
    "stale-version": ("Changed by someone else",
                      "Reload the record, then make your change again."),
    "protocol-conflict": ("Refused by the protocol",
                          "The write conflicts with what is already recorded."),
    "protocol-refused": ("Refused by the protocol", "Correct the value named in `field`."),
    "validation": ("Some answers need correcting", "See `errors` for each field."),
    "invalid-request": ("Request cannot be processed", "See `detail`."),
    "too-many-attempts": ("Too many sign-in attempts",
                          "Wait for the number of seconds in the Retry-After header."),
    "http": ("HTTP error", "See `detail`."),
    "server-error": ("Something went wrong on the server",
                     "Nothing was saved. Try again in a moment; if it keeps happening, tell "
                     "the data manager the time it happened."),
}


class NotSignedIn(Exception):
    """No valid token (API) or session cookie (pages)."""


def problem_type(slug: str) -> str:
    return f"/problems/{slug}"


def describe(error: CohortError) -> tuple[int, str, dict[str, Any]]:
    """Status, problem slug and extra members for a domain error."""
    extra: dict[str, Any] = {}
    if isinstance(error, ProtocolViolation):
        extra = {"rule_id": error.rule_id, "field": error.field}
        if isinstance(error, ActionNotAllowed | OutsideCentreScope):
            return 403, "forbidden", extra
        if isinstance(error, CONFLICT_RULES):
            return 409, "protocol-conflict", extra
        return 422, "protocol-refused", extra
    if isinstance(error, NotFound):
        return 404, "not-found", extra
    if isinstance(error, StaleVersion):
        return 409, "stale-version", {"current_version": error.current_version}
    if isinstance(error, ValidationFailed):
        errors = [
            {"field": p.field, "label": p.label, "code": p.code, "message": p.message}
            for p in error.problems
        ]
        return 422, "validation", {"errors": errors}
    return 422, "invalid-request", extra


def problem_response(
    request: Request, status: int, slug: str, detail: str, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": PROBLEM_TYPES[slug][0],
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _page(request: Request, status: int, title: str, detail: str) -> Response:
    from api.pages.common import render_error

    return render_error(request, status=status, title=title, detail=detail)


async def _cohort_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CohortError)  # noqa: S101
    status, slug, extra = describe(exc)
    if not is_api(request):
        return _page(request, status, PROBLEM_TYPES[slug][0], exc.message)
    return problem_response(request, status, slug, exc.message, **extra)


async def _not_signed_in(request: Request, exc: Exception) -> Response:
    if not is_api(request):
        target = request.url.path
        return RedirectResponse(f"/login?next={target}", status_code=303)
    response = problem_response(request, 401, "not-signed-in",
                                "Please sign in: send 'Authorization: Bearer <token>'.")
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "request"


async def _request_invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    errors = [
        {"field": _loc(e.get("loc", ())), "label": "", "code": str(e.get("type", "invalid")),
         "message": str(e.get("msg", "invalid value"))}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    if not is_api(request):
        return _page(request, 422, "Some values need correcting", detail)
    return problem_response(request, 422, "validation", detail, errors=errors)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    detail = str(exc.detail)
    if not is_api(request):
        return _page(request, exc.status_code, "Something went wrong", detail)
    slug = {404: "not-found", 403: "forbidden", 401: "not-signed-in",
            429: "too-many-attempts"}.get(exc.status_code, "http")
    response = problem_response(request, exc.status_code, slug, detail)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


async def _unexpected(request: Request, exc: Exception) -> Response:
    """Any other error: logged with its traceback here, never shown to the caller."""
    log.exception("Unexpected error on %s %s", request.method, request.url.path,
                  exc_info=exc)
    title, what = PROBLEM_TYPES["server-error"]
    if not is_api(request):
        return _page(request, 500, title, what)
    return problem_response(request, 500, "server-error", what)


def register_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CohortError, _cohort_error)
    app.add_exception_handler(NotSignedIn, _not_signed_in)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
