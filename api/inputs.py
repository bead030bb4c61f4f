"""The one validation layer for what comes in: bounded values in every path, query, form and
JSON parameter, checked before FastAPI parses them.

Why a layer of our own: FastAPI (pydantic) takes any Python int, reads ``as_of=0`` as
1970-01-01, and lets NUL characters and strings of any length through, and the database
then fails with a server error (a PostgreSQL ``Integer`` stops at 2^31 - 1, SQLite at
2^63 - 1, PostgreSQL text holds no NUL). Here every value that comes in is checked against
what the database and the calendar can hold, whatever the endpoint:

* whole numbers: from ``MIN_INTEGER`` to ``MAX_INTEGER`` (an ``Integer`` column's range on
  PostgreSQL, used on both engines), in paths, query strings, forms and JSON bodies;
* dates: written ``YYYY-MM-DD`` (no numbers read as Unix time) and between ``DATE_MIN`` and
  ``DATE_MAX``;
* text: no NUL character anywhere (declared parameter or not, JSON keys included), and at
  most the parameter's own ``max_length``, else ``PARAM_TEXT_MAX`` for a path or query
  value and ``BODY_TEXT_MAX`` for a form field or a string inside a JSON body;
* JSON bodies: numbers finite, nesting at most ``MAX_DEPTH`` deep.

A refused value answers 422 with the same problem document as any other request-shape
error (``errors[].field`` names the parameter, dotted inside bodies: ``answers.visit_date``);
pages get the plain-words error page.

How an endpoint gets it: its router is made by ``api_router()`` (REST, under ``/api``) or
``api.pages.common.page_router()`` (pages), which both use ``CheckedRoute``. Nothing else
is needed: the checks read the endpoint's own declared types (``int``, ``date``,
``str``/enums, pydantic models, lists and dicts of them, ``Annotated[..., Field(max_length=...)]``)
and apply the limits above. ``tests/api/test_api_inputs.py`` fails for any route of the app
that is not a ``CheckedRoute``. Values the dictionary knows more about (an age of 0-120, a
note's length) are refused by the services, which validate against the dictionary.
"""

from __future__ import annotations

import json
import math
import re
import types
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, Union, get_args, get_origin

from annotated_types import MaxLen
from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from api.hops import Deferred, check_dependencies, one_hop
from cohort.models import MAX_INTEGER, MIN_INTEGER
from forms.i18n import _, format_decimal

DATE_MIN = date(1900, 1, 1)
DATE_MAX = date(2100, 12, 31)
PARAM_TEXT_MAX = 200
BODY_TEXT_MAX = 10_000
MAX_DEPTH = 32
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WHOLE = re.compile(r"^[-+]?\d+$")
_JSON = re.compile(r"^application/([\w.+-]+\+)?json\b")
_FORM = ("application/x-www-form-urlencoded", "multipart/form-data")



def int_words() -> str:
    """What an integer must be, in the reader's language (checks run inside the request)."""
    return _("must be a whole number from {low} to {high}").format(low=MIN_INTEGER,
                                                                   high=MAX_INTEGER)


def date_words() -> str:
    return _("must be a date written YYYY-MM-DD, from {first} to {last}").format(
        first=DATE_MIN.isoformat(), last=DATE_MAX.isoformat())


@dataclass(frozen=True)
class Spec:
    """What a declared parameter holds, reduced to what the checks need."""

    kind: str  # int, date, str, bool, float, model, list, dict, any
    max_length: int | None = None
    item: Spec | None = None  # list items, dict values
    fields: Mapping[str, Spec] = field(default_factory=dict)  # model fields, by alias


ANY = Spec("any")


def spec_of(annotation: Any, metadata: Sequence[Any] = ()) -> Spec:
    """The ``Spec`` of a type annotation (``Optional``, ``Annotated`` and unions unwrapped)."""
    limit = next((m.max_length for m in metadata if isinstance(m, MaxLen)), None)
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        return spec_of(inner, (*metadata, *extra))
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        return spec_of(options[0], metadata) if len(options) == 1 else ANY
    if origin in (list, tuple, set, frozenset) or (
            isinstance(origin, type) and issubclass(origin, Sequence | frozenset | set)
            and not issubclass(origin, str)):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        return Spec("list", item=spec_of(args[0]) if args else ANY)
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        pair = get_args(annotation)
        return Spec("dict", item=spec_of(pair[1]) if len(pair) == 2 else ANY)
    if not isinstance(annotation, type):
        return ANY
    if issubclass(annotation, bool):
        return Spec("bool")
    if issubclass(annotation, Enum):
        return Spec("str", limit)
    if issubclass(annotation, int):
        return Spec("int")
    if issubclass(annotation, datetime):
        return ANY
    if issubclass(annotation, date):
        return Spec("date")
    if issubclass(annotation, str):
        return Spec("str", limit)
    if issubclass(annotation, float):
        return Spec("float")
    if issubclass(annotation, BaseModel):
        return Spec("model", fields={
            (f.alias or name): spec_of(f.annotation, f.metadata)
            for name, f in annotation.model_fields.items()})
    return ANY


class _Problems:
    """Collects refused values as pydantic-style errors for ``RequestValidationError``."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def add(self, loc: tuple[Any, ...], kind: str, message: str) -> None:
        self.errors.append({"type": kind, "loc": loc, "msg": message, "input": None})

    def text(self, loc: tuple[Any, ...], value: str, limit: int) -> None:
        if "\x00" in value:
            self.add(loc, "nul_character", _("must not contain the NUL character (\\0)"))
        elif len(value) > limit:
            self.add(loc, "string_too_long", _("must be at most {limit} characters long")
                     .format(limit=format_decimal(limit)))

    def raw(self, loc: tuple[Any, ...], value: str, spec: Spec, default_limit: int) -> None:
        """A value as it came in a path, a query string or a form field (always text)."""
        if spec.kind == "int" and _WHOLE.match(value.strip()):
            if len(value) > 20 or not MIN_INTEGER <= int(value) <= MAX_INTEGER:
                self.add(loc, "int_range", int_words())
            return
        if spec.kind == "date":
            self.date_text(loc, value)
            return
        self.text(loc, value, spec.max_length or default_limit)

    def date_text(self, loc: tuple[Any, ...], value: str) -> None:
        try:
            if _ISO_DATE.match(value) and DATE_MIN <= date.fromisoformat(value) <= DATE_MAX:
                return
        except ValueError:
            pass
        if "\x00" in value:
            self.text(loc, value, BODY_TEXT_MAX)
        else:
            self.add(loc, "date_range", date_words())

    def json(self, loc: tuple[Any, ...], value: Any, spec: Spec, depth: int = 0) -> None:
        """A value of a JSON body, against its declared ``spec`` (``ANY``: generic)."""
        if depth > MAX_DEPTH:
            self.add(loc, "too_deep", _("is nested more than {depth} levels deep")
                     .format(depth=MAX_DEPTH))
            return
        if isinstance(value, bool) or value is None:
            return
        if spec.kind == "date" and not isinstance(value, str):
            self.add(loc, "date_range", date_words())  # never a Unix time
            return
        if isinstance(value, int):
            if spec.kind == "int" and not MIN_INTEGER <= value <= MAX_INTEGER:
                self.add(loc, "int_range", int_words())
        elif isinstance(value, float):
            if not math.isfinite(value):
                self.add(loc, "finite_number", _("must be a finite number"))
        elif isinstance(value, str):
            if spec.kind == "date":
                self.date_text(loc, value)
            elif spec.kind == "int":
                self.raw(loc, value, spec, BODY_TEXT_MAX)
            else:
                self.text(loc, value, spec.max_length or BODY_TEXT_MAX)
        elif isinstance(value, list):
            item = spec.item or ANY
            for index, one in enumerate(value):
                self.json((*loc, index), one, item, depth + 1)
        elif isinstance(value, dict):
            for key, one in value.items():
                if spec.kind == "model":  # members it does not declare are ignored
                    if key in spec.fields:
                        self.json((*loc, key), one, spec.fields[key], depth + 1)
                    continue
                self.text((*loc, key), key, PARAM_TEXT_MAX)
                self.json((*loc, key), one, spec.item or ANY, depth + 1)


@dataclass(frozen=True)
class Plan:
    """A route's declared parameters, prepared once when the route is built."""

    path: Mapping[str, Spec]
    query: Mapping[str, Spec]
    body: Spec


def _flat(dependant: Any) -> Iterator[Any]:
    yield dependant
    for sub in getattr(dependant, "dependencies", ()):
        yield from _flat(sub)


def plan_of(route: APIRoute) -> Plan:
    path: dict[str, Spec] = {}
    query: dict[str, Spec] = {}
    for dependant in _flat(route.dependant):
        for param in dependant.path_params:
            path[param.alias] = spec_of(param.field_info.annotation, param.field_info.metadata)
        for param in dependant.query_params:
            query[param.alias] = spec_of(param.field_info.annotation,
                                         param.field_info.metadata)
    body = ANY
    if route.body_field is not None:
        body = spec_of(route.body_field.field_info.annotation,
                       route.body_field.field_info.metadata)
    return Plan(path, query, body)


async def check_request(request: Request, plan: Plan,
                        body_text_max: int | None = BODY_TEXT_MAX) -> None:
    """Raise ``RequestValidationError`` for any value outside the limits (module docstring).

    ``body_text_max`` None: a form field's length is bounded by the request body limit
    only (``api.limits``), for endpoints whose fields carry whole files of records."""
    found = _Problems()
    for name, value in request.path_params.items():
        found.raw(("path", name), str(value), plan.path.get(name, ANY), PARAM_TEXT_MAX)
    for name, value in request.query_params.multi_items():
        found.text(("query", name), name, PARAM_TEXT_MAX)
        found.raw(("query", name), value, plan.query.get(name, ANY), PARAM_TEXT_MAX)
    if request.method not in ("GET", "HEAD", "OPTIONS", "DELETE"):
        await _check_body(request, plan, found, body_text_max)
    if found.errors:
        raise RequestValidationError(found.errors)


async def _check_body(request: Request, plan: Plan, found: _Problems,
                      body_text_max: int | None) -> None:
    kind = request.headers.get("content-type", "").lower()
    if kind.startswith(_FORM):
        try:  # parsed once: the request keeps the form for FastAPI (files spooled to disk)
            form = await request.form()
        except Exception:  # noqa: BLE001 (FastAPI answers an unreadable form: 400)
            return
        declared = plan.body.fields
        for name, value in form.multi_items():
            if declared and name not in declared and "\x00" not in name:
                continue  # a field the form does not take is ignored, like in JSON
            found.text(("body", name), name, PARAM_TEXT_MAX)
            if not isinstance(value, UploadFile):
                found.raw(("body", name), value, plan.body.fields.get(name, ANY),
                          len(value) if body_text_max is None else body_text_max)
        return
    body = await request.body()
    if not body or not (_JSON.match(kind) or not kind):
        return
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return  # FastAPI answers it: 422 (not JSON) or 400 (unreadable)
    found.json(("body",), value, plan.body)


class CheckedRoute(APIRoute):
    """An ``APIRoute`` whose requests pass ``check_request`` before FastAPI parses them,
    and whose endpoint runs in one trip off the event loop (``api.hops.one_hop``)."""

    body_text_max: int | None = BODY_TEXT_MAX

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        #: As written, before ``one_hop`` (what ``include`` builds the app's route from).
        self.written_endpoint = endpoint
        super().__init__(path, one_hop(endpoint), **kwargs)
        check_dependencies(path, self.dependant)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        plan = plan_of(self)

        async def checked(request: Request) -> Response:
            try:
                await check_request(request, plan, self.body_text_max)
            except Exception:
                await request.close()  # a refused upload's spooled files are closed now
                raise
            try:
                return await handler(request)
            except RequestValidationError:
                # Whoever is not signed in hears that first, as before the sign-in was
                # deferred to the endpoint's thread: not how their request was wrong.
                await resolve_pending(request)
                raise

        return checked


async def resolve_pending(request: Request) -> None:
    """What was deferred to the endpoint's thread for this request (``signed_in``), done
    now: the endpoint will not run."""
    pending = getattr(request.state, "signed_in", None)
    if isinstance(pending, Deferred):
        await run_in_threadpool(pending.resolve)


def api_router(*, body_text_max: int | None = BODY_TEXT_MAX, **kwargs: Any) -> APIRouter:
    """An ``APIRouter`` whose every route is checked (``CheckedRoute``); ``body_text_max``
    as in ``check_request`` (the REDCap API's ``data`` field holds a file of records)."""
    if body_text_max == BODY_TEXT_MAX:
        return APIRouter(route_class=CheckedRoute, **kwargs)

    class Route(CheckedRoute):
        pass

    Route.body_text_max = body_text_max
    return APIRouter(route_class=Route, **kwargs)


def include(app: FastAPI, router: APIRouter, *, prefix: str = "",
            responses: dict[int | str, dict[str, Any]] | None = None) -> None:
    """``app.include_router(router, prefix=..., responses=...)``, with each route made
    again on the app itself (as FastAPI did before its 0.16x releases), not reached through
    the router.

    FastAPI now keeps an included router whole and matches a request against each
    included router in turn, each of its routes through a layer of its own, and again
    within the router that matched: 320 us for the retention page (the 19th of 28
    routers), on every request, against about a quarter of that for the same routes
    listed on the app. The routes are the same (path, methods, dependencies, answers,
    schema, names, order: ``tests/api/test_routes_flat.py``), and the app's
    ``dependency_overrides`` reach them as before. What our routers do not use is refused
    rather than dropped: a router included in a router, startup or shutdown handlers
    (and a route added to the router afterwards is not served)."""
    if router.on_startup or router.on_shutdown:
        raise TypeError("a router with startup or shutdown handlers: use include_router")
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"only API routes are included this way: {route!r}")
        newer = {name: getattr(route, name) for name in ("strict_content_type",
                                                         "max_body_size")
                 if hasattr(route, name)}
        app.router.add_api_route(
            prefix + route.path, getattr(route, "written_endpoint", route.endpoint),
            response_model=route.response_model, status_code=route.status_code,
            tags=route.tags, dependencies=route.dependencies, summary=route.summary,
            description=route.description, response_description=route.response_description,
            responses={**(responses or {}), **route.responses}, deprecated=route.deprecated,
            methods=route.methods, operation_id=route.operation_id,
            response_model_include=route.response_model_include,
            response_model_exclude=route.response_model_exclude,
            response_model_by_alias=route.response_model_by_alias,
            response_model_exclude_unset=route.response_model_exclude_unset,
            response_model_exclude_defaults=route.response_model_exclude_defaults,
            response_model_exclude_none=route.response_model_exclude_none,
            include_in_schema=route.include_in_schema, response_class=route.response_class,
            name=route.name, route_class_override=type(route), callbacks=route.callbacks,
            openapi_extra=route.openapi_extra,
            generate_unique_id_function=route.generate_unique_id_function, **newer)


# --------------------------------------------------------------------------- the schema
#: JSON Schema pattern of text without NUL.
NO_NUL = "^[^\\x00]*$"
#: Exactly the dates from DATE_MIN to DATE_MAX, written YYYY-MM-DD (leap days included).
DATE_PATTERN = (
    "^(?:(?:19[0-9]{2}|20[0-9]{2}|2100)-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    "|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
    "|(?:19(?:0[48]|[2468][048]|[13579][26])|20(?:[02468][048]|[13579][26]))-02-29)$")
_TEXT = {"type": "string", "maxLength": BODY_TEXT_MAX, "pattern": NO_NUL}
#: What a free-form value (``Any``, such as a questionnaire answer) may hold.
FREE_VALUE: dict[str, Any] = {"anyOf": [
    dict(_TEXT), {"type": "number"}, {"type": "boolean"}, {"type": "null"},
    {"type": "array", "items": {"anyOf": [dict(_TEXT), {"type": "number"}]}}]}


def document_limits(schema: dict[str, Any]) -> None:
    """Write the limits ``check_request`` applies into the OpenAPI ``schema`` (in place), so
    a client, and schemathesis, knows them: integer minimum and maximum, text maxLength
    and a pattern without NUL, dates as the exact pattern of the accepted range, keys of
    free-form objects bounded. Request bodies are inlined first, so schemas shared with
    responses keep describing what is sent back."""
    components = schema.get("components", {}).get("schemas", {})
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", ()):
                if parameter.get("in") in ("path", "query") and "schema" in parameter:
                    parameter["schema"] = _bounded(
                        _inline(parameter["schema"], components), PARAM_TEXT_MAX)
            for media in operation.get("requestBody", {}).get("content", {}).values():
                if "schema" in media:
                    media["schema"] = _bounded(_inline(media["schema"], components),
                                               BODY_TEXT_MAX)


def _inline(node: Any, components: Mapping[str, Any], depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        return node
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            target = components.get(ref.rsplit("/", 1)[1], {})
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            return _inline(merged, components, depth + 1)
        return {k: _inline(v, components, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, components, depth + 1) for v in node]
    return node


def _bounded(node: Any, text_max: int) -> Any:
    """One (inlined) schema with the limits written in."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if isinstance(out.get(key), list):
            out[key] = [_bounded(v, text_max) for v in out[key]]
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: _bounded(v, text_max) for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = _bounded(out["items"], text_max)
    extra = out.get("additionalProperties")
    if extra is True or extra == {}:
        out["additionalProperties"] = FREE_VALUE
        out["propertyNames"] = {"maxLength": PARAM_TEXT_MAX, "pattern": NO_NUL}
    elif isinstance(extra, dict):
        out["additionalProperties"] = _bounded(extra, text_max)
        out["propertyNames"] = {"maxLength": PARAM_TEXT_MAX, "pattern": NO_NUL}
    kind = out.get("type")
    if kind == "integer":
        out["minimum"] = max(out.get("minimum", MIN_INTEGER), MIN_INTEGER)
        out["maximum"] = min(out.get("maximum", MAX_INTEGER), MAX_INTEGER)
    elif kind == "string" and out.get("format") == "date":
        out["pattern"] = DATE_PATTERN
    elif kind == "string" and "enum" not in out and "format" not in out:
        out["maxLength"] = min(out.get("maxLength", text_max), text_max)
        out.setdefault("pattern", NO_NUL)
    return out
