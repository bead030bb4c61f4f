"""Domain errors → RFC 9457 problem details, in one place.

Status codes, and why:

* ``NotFound`` → 404, also for another centre's records (same body as an unknown code);
* ``ActionNotAllowed`` / ``OutsideCentreScope`` (rules ``scope.*``) → 403;
* ``StaleVersion`` → 409 with ``current_version``: reload, then save again;
* ``GroupCrossingRefused``, ``GroupLocked``, ``DuplicateTimepoint`` → 409: the request is
  well formed but conflicts with what is already recorded about the participant;
  ``StudyLocked`` (rule ``study.locked``) → 409 too: the study's state refuses any write;
* every other hard rule (eligibility, consent, dates) → 422: the submitted values
  themselves are refused;
* ``ValidationFailed`` (data dictionary) and request-shape errors → 422 with
  ``errors: [{field, label, code, message}]``;
* any other ``CohortError`` → 422 with its message.

Refusals by a protocol rule carry ``rule_id`` and ``field``. Page requests get the same
status with an HTML page in plain words instead of JSON.

``Problem`` documents these bodies in the OpenAPI schema: routers declare which error
statuses they answer with ``responses=problems(...)``, and ``problem_openapi`` files the
bodies under ``application/problem+json`` (FastAPI would list them as ``application/json``
and add its own ``HTTPValidationError`` for 422, which we never send).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.inputs import document_limits
from cohort.db import BUSY_MESSAGE, is_busy
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
    StudyLocked,
    ValidationFailed,
)
from forms.i18n import N_, current_language, format_decimal, gettext

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)
CONFLICT_RULES = (GroupCrossingRefused, GroupLocked, DuplicateTimepoint, StudyLocked)

# slug → (title, what the caller should do); served at /problems/{slug}. Marked for
# translation here and translated where shown (``title_of``, ``advice_of``).
PROBLEM_TYPES: dict[str, tuple[str, str]] = {
    "not-found": (N_("Not found"),
                  N_("Check the code; you only see your own centre's records.")),
    "not-signed-in": (N_("Sign-in needed"), N_("Get a token at POST /api/v1/auth/token.")),
    "forbidden": (N_("Not allowed"), N_("Your role does not allow this; ask a data manager.")),
    "stale-version": (N_("Changed by someone else"),
                      N_("Reload the record, then make your change again.")),
    "protocol-conflict": (N_("Refused by the protocol"),
                          N_("The write conflicts with what is already recorded.")),
    "protocol-refused": (N_("Refused by the protocol"),
                         N_("Correct the value named in `field`.")),
    "validation": (N_("Some answers need correcting"), N_("See `errors` for each field.")),
    "invalid-request": (N_("Request cannot be processed"), N_("See `detail`.")),
    "too-many-attempts": (N_("Too many sign-in attempts"),
                          N_("Wait for the number of seconds in the Retry-After header.")),
    "too-large": (N_("Request too large"),
                  N_("Send less at a time (see the README's Limits).")),
    "unreadable-body": (N_("The request body cannot be read"),
                        N_("Send JSON (Content-Type: application/json) or the form the "
                           "operation documents, encoded as UTF-8.")),
    "method-not-allowed": (N_("Method not allowed"),
                           N_("Use one of the methods in the Allow header.")),
    "http": (N_("HTTP error"), N_("See `detail`.")),
    "database-busy": (N_("The database is busy"),
                      N_("Nothing was saved. Try again in a minute (see Retry-After).")),
    "server-error": (N_("Something went wrong on the server"),
                     N_("Nothing was saved. Try again in a moment; if it keeps happening, "
                        "tell the data manager the time it happened.")),
}


def title_of(slug: str) -> str:
    """A problem type's title in the reader's language (``type`` itself never changes)."""
    return gettext(PROBLEM_TYPES[slug][0])


def advice_of(slug: str) -> str:
    """What to do about a problem type, in the reader's language."""
    return gettext(PROBLEM_TYPES[slug][1])


class FieldProblem(BaseModel):
    """One refused value: from the data dictionary, or from the request's shape."""

    field: str = Field(description="The field, as named in the request (dotted for nested).")
    label: str = Field(description="The question as the data dictionary words it, or ''.")
    code: str = Field(description="A stable code for the kind of problem, e.g. 'required'.")
    message: str = Field(description="What is wrong and what to do, for a person.")


class Problem(BaseModel):
    """An error, as RFC 9457 problem details, with this API's extension members."""

    type: str = Field(description="A URI reference for the kind of problem, e.g. "
                                  "/problems/stale-version (readable at that path).")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, in plain words.")
    instance: str = Field(description="The path of the request.")
    rule_id: str | None = Field(default=None, description="The protocol rule that refused "
                                "the write (GET /api/v1/rules lists them).")
    field: str | None = Field(default=None, description="With rule_id: the value the rule "
                              "refused, when it is about one value.")
    errors: list[FieldProblem] | None = Field(default=None, description="422 validation: "
                                              "every refused value.")
    current_version: int | None = Field(default=None, description="409 stale-version: the "
                                        "version now stored; reload, then save again.")


# What each error status means for a caller, in the schema.
PROBLEM_STATUSES: dict[int, str] = {
    400: "The request body cannot be read (not JSON, not UTF-8, or a broken form).",
    401: "Not signed in: no valid bearer token (problem type not-signed-in).",
    403: "Your role, or your centre, does not allow this (forbidden; rule_id scope.*).",
    404: "Not found: unknown, or another centre's record (the same answer on purpose).",
    409: "Conflicts with what is recorded: a protocol rule (rule_id; study.locked once the "
         "study or the centre is locked) or a stale version (current_version).",
    422: "A value is refused: the data dictionary (errors), a protocol rule (rule_id and "
         "field) or the request's shape (errors).",
    413: "The request body is over the size limit (COHORT_MAX_BODY_BYTES); nothing was "
         "read or saved.",
    429: "Too many sign-in attempts: wait for the seconds in Retry-After.",
    503: "The database is busy with another writer (a long import): nothing was saved; try "
         "again after the seconds in Retry-After.",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A ``responses=`` map documenting these error statuses as ``Problem`` bodies."""
    return {status: {"model": Problem, "description": PROBLEM_STATUSES[status]}
            for status in statuses}


SIGNED_IN = problems(401, 403, 404, 422, 503)
"""Every route that needs a signed-in person may answer these."""
CONFLICTS = problems(409)
"""Writes that a protocol rule or a stale version may refuse as a conflict."""


#: Every operation that takes a request body may answer these before it looks at the body.
BODY_STATUSES = (400, 413, 422)


def problem_openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI schema with every error body under ``application/problem+json``, and
    the statuses any operation with a request body may send (``BODY_STATUSES``)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    schema.setdefault("components", {}).setdefault("schemas", {})
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                for status in BODY_STATUSES:
                    responses.setdefault(str(status), {
                        "description": PROBLEM_STATUSES[status],
                        "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}}}})
            for status, response in responses.items():
                content = response.get("content", {})
                if status.isdigit() and int(status) >= 400 and "application/json" in content:
                    content[PROBLEM_JSON] = content.pop("application/json")
    document_limits(schema)
    app.openapi_schema = schema
    return schema


class NotSignedIn(Exception):
    """No valid token (API) or session cookie (pages)."""


class DatabaseBusy(Exception):
    """Another writer held the database past ``write_wait_seconds``; nothing was done."""


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
            {"field": p.field, "label": p.label, "code": p.code, "message": p.text}
            for p in error.problems
        ]
        return 422, "validation", {"errors": errors}
    return 422, "invalid-request", extra


def problem_response(
    request: Request, status: int, slug: str, detail: str, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title_of(slug),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def is_api(request: Request) -> bool:
    # The path as the request's URL gives it, without building the URL (host, scheme,
    # query): asked on every request.
    return str(request.scope["path"]).startswith("/api/")


class ErrorPage(Protocol):
    """Renders an error as an HTML page (``api.pages.common.render_error``)."""

    def __call__(self, request: Request, *, status: int, title: str, detail: str
                 ) -> Response: ...


def _plain_page(request: Request, *, status: int, title: str, detail: str) -> Response:
    del request
    return PlainTextResponse(f"{title}\n\n{detail}\n", status_code=status)


def _page(request: Request, status: int, title: str, detail: str) -> Response:
    """The page renderer given to :func:`register_problem_handlers` (the pages sit above
    this module: it is handed down, not imported)."""
    render: ErrorPage = getattr(request.app.state, "render_error_page", _plain_page)
    return render(request, status=status, title=title, detail=detail)


async def _cohort_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CohortError)  # noqa: S101
    status, slug, extra = describe(exc)
    detail = exc.render()  # the reader's language (set by api.app.ReaderLanguage)
    if not is_api(request):
        return _page(request, status, title_of(slug), detail)
    return problem_response(request, status, slug, detail, **extra)


async def _not_signed_in(request: Request, exc: Exception) -> Response:
    if not is_api(request):
        target = request.url.path
        return RedirectResponse(f"/login?next={target}", status_code=303)
    response = problem_response(request, 401, "not-signed-in",
                                gettext("Please sign in: send 'Authorization: Bearer "
                                        "<token>'."))
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "request"


#: pydantic's words for the kinds of refusal a request meets most, as templates over the
#: error's ``ctx``: given in the reader's language when it is not English. English keeps
#: pydantic's own message, word for word; a kind not listed stays in pydantic's English.
PYDANTIC_WORDS: dict[str, str] = {
    "missing": N_("Field required"),
    "int_parsing": N_("Input should be a valid integer, unable to parse string as an "
                      "integer"),
    "int_type": N_("Input should be a valid integer"),
    "int_from_float": N_("Input should be a valid integer, got a number with a fractional "
                         "part"),
    "float_parsing": N_("Input should be a valid number, unable to parse string as a "
                        "number"),
    "float_type": N_("Input should be a valid number"),
    "bool_parsing": N_("Input should be a valid boolean, unable to interpret input"),
    "bool_type": N_("Input should be a valid boolean"),
    "date_parsing": N_("Input should be a valid date in the format YYYY-MM-DD"),
    "date_from_datetime_parsing": N_("Input should be a valid date or datetime"),
    "date_type": N_("Input should be a valid date"),
    "datetime_parsing": N_("Input should be a valid datetime"),
    "string_type": N_("Input should be a valid string"),
    "string_too_short": N_("String should have at least {min_length} characters"),
    "string_too_long": N_("String should have at most {max_length} characters"),
    "string_pattern_mismatch": N_("String should match pattern '{pattern}'"),
    "greater_than": N_("Input should be greater than {gt}"),
    "greater_than_equal": N_("Input should be greater than or equal to {ge}"),
    "less_than": N_("Input should be less than {lt}"),
    "less_than_equal": N_("Input should be less than or equal to {le}"),
    "enum": N_("Input should be {expected}"),
    "literal_error": N_("Input should be {expected}"),
    "list_type": N_("Input should be a valid list"),
    "dict_type": N_("Input should be a valid dictionary"),
    "model_attributes_type": N_("Input should be a valid dictionary or object to extract "
                                "fields from"),
    "json_invalid": N_("JSON decode error"),
    "extra_forbidden": N_("Extra inputs are not permitted"),
}


def _pydantic_words(error: dict[str, Any]) -> str:
    """One refusal of the request's shape in the reader's words (see ``PYDANTIC_WORDS``)."""
    english = str(error.get("msg", "invalid value"))
    template = PYDANTIC_WORDS.get(str(error.get("type", "")))
    if template is None or current_language() == "en":
        return english
    ctx = {key: format_decimal(value) if isinstance(value, int | float)
           and not isinstance(value, bool) else value
           for key, value in (error.get("ctx") or {}).items()}
    try:
        return gettext(template).format(**ctx)
    except (KeyError, IndexError, ValueError):
        return english


async def _request_invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    errors = [
        {"field": "body" if e.get("type") == "json_invalid" else _loc(e.get("loc", ())),
         "label": "", "code": str(e.get("type", "invalid")),
         "message": _pydantic_words(e)}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    if not is_api(request):
        return _page(request, 422, gettext("Some values need correcting"), detail)
    return problem_response(request, 422, "validation", detail, errors=errors)


#: Starlette's and FastAPI's own details, given in the reader's language; details our code
#: raises are written in it already (``api.throttle``, ``api.limits``, ``api.deps``).
HTTP_DETAILS = frozenset({
    N_("Not Found"), N_("Method Not Allowed"), N_("There was an error parsing the body"),
    N_("Not Authenticated"), N_("Not authenticated"), N_("Forbidden"), N_("Bad Request"),
})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    detail = str(exc.detail)
    if detail in HTTP_DETAILS:
        detail = gettext(detail)
    slug = {404: "not-found", 403: "forbidden", 401: "not-signed-in", 400: "unreadable-body",
            413: "too-large", 405: "method-not-allowed",
            429: "too-many-attempts"}.get(exc.status_code, "http")
    response: Response
    if is_api(request):
        response = problem_response(request, exc.status_code, slug, detail)
    else:
        title = title_of(slug) if slug != "http" else gettext("Something went wrong")
        response = _page(request, exc.status_code, title, detail)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    if exc.status_code == 405:
        response.headers["Allow"] = allowed_methods(request)
    return response


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method some route takes on this path (Starlette names only the first route
    that matched, so ``GET /participants`` hid ``POST``)."""
    from starlette.routing import Match

    methods = [method for method in METHODS if any(
        route.matches({**request.scope, "method": method})[0] is Match.FULL
        for route in request.app.router.routes)]
    return ", ".join(methods)


async def _unexpected(request: Request, exc: Exception) -> Response:
    """Any other error: logged with its traceback here, never shown to the caller."""
    log.exception("Unexpected error on %s %s", request.method, request.url.path,
                  exc_info=exc)
    title, what = title_of("server-error"), advice_of("server-error")
    if not is_api(request):
        return _page(request, 500, title, what)
    return problem_response(request, 500, "server-error", what)


async def _database_error(request: Request, exc: Exception) -> Response:
    """A database held by another writer past the wait (a long import on SQLite) is not a
    fault of the request: 503 with Retry-After, saying nothing was saved. Any other
    database error is unexpected."""
    if not isinstance(exc, DatabaseBusy) and not is_busy(exc):
        return await _unexpected(request, exc)
    log.warning("Database busy on %s %s", request.method, request.url.path)
    response: Response
    if is_api(request):
        response = problem_response(request, 503, "database-busy", gettext(BUSY_MESSAGE))
    else:
        response = _page(request, 503, title_of("database-busy"), gettext(BUSY_MESSAGE))
    response.headers["Retry-After"] = "60"
    return response


def register_problem_handlers(app: FastAPI, *, render_page: ErrorPage = _plain_page) -> None:
    """Map errors to problem documents (``/api/``) or to pages drawn by ``render_page``."""
    app.state.render_error_page = render_page
    app.add_exception_handler(CohortError, _cohort_error)
    app.add_exception_handler(NotSignedIn, _not_signed_in)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(DatabaseBusy, _database_error)
    app.add_exception_handler(Exception, _unexpected)
