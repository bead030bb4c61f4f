"""Request body size, enforced while the body streams in: before sign-in and before parsing.

FastAPI reads a request's whole body before it resolves any dependency, so without this a
400 MB JSON body sent by nobody in particular is held in memory before the 401. This pure
ASGI middleware (the outermost of ours) refuses a body whose declared ``Content-Length``
is over the limit without reading a byte of it, and stops reading a streamed (chunked)
body at the first chunk past the limit. Both answer 413 with a problem document (an HTML
page for page requests).

Limits (settings, see the README's "Limits"): ``COHORT_MAX_BODY_BYTES`` for every request,
and ``COHORT_MAX_UPLOAD_BYTES`` (plus room for the form around the file) for the paths in
``UPLOAD_PATHS``, where people send workbooks. A new endpoint that takes uploads adds its
path there.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from forms.i18n import _, format_decimal

#: Paths that take a file upload, and so the larger limit.
#: Workbook uploads, and the REDCap API (``POST /api/``), whose record imports carry a file.
UPLOAD_PATHS = frozenset({"/workbooks/import", "/api/", "/api", "/api/v1/imports"})
#: Room for the multipart form around an uploaded file (boundaries, other fields).
FORM_OVERHEAD = 64 * 1024


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when the body passes the limit. An ``HTTPException``, so that
    FastAPI passes it on (it turns other errors met while reading a body into a 400) and
    the problem handlers answer it."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large(limit))


def too_large(limit: int) -> str:
    return _("The request body is larger than this server accepts ({limit} bytes). "
             "Nothing was read or saved: send less at a time.").format(
                 limit=format_decimal(limit))


def limit_for(path: str, max_body: int, max_upload: int) -> int:
    return max_upload + FORM_OVERHEAD if path in UPLOAD_PATHS else max_body


class BodyLimit:
    """See the module docstring."""

    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"], self.max_body, self.max_upload)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, send, limit)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    """413 without reading the body; the connection is closed after it."""
    detail = too_large(limit)
    headers: list[tuple[bytes, bytes]] = [(b"connection", b"close")]
    body: bytes
    if scope["path"].startswith("/api/"):
        problem: dict[str, Any] = {
            "type": "/problems/too-large", "title": "Request too large", "status": 413,
            "detail": detail, "instance": scope["path"]}
        body = json.dumps(problem).encode()
        headers.append((b"content-type", b"application/problem+json"))
    else:
        body = (f"<!doctype html><title>Request too large</title><h1>Request too large</h1>"
                f"<p>{detail}</p>").encode()
        headers.append((b"content-type", b"text/html; charset=utf-8"))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
