"""Bodies as REDCap writes them: CSV (``\\n`` line ends, header first) or JSON, and errors
in the caller's ``returnFormat`` (``ERROR: …``, ``{"error": "…"}``, ``<error>…</error>``).

Error texts stay in English whatever the caller's ``Accept-Language`` (issue 14): REDCap
itself answers its API in English, and the programs that call it (PyCap, REDCapR, REDCap
Mobile, sites' scripts) are read by developers and some match on REDCap's own words
("You do not have permissions to use the API"). Record values pass through unchanged.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

from fastapi.responses import Response

from cohort.redcap import BadParameter

CSV = "text/csv; charset=utf-8"
JSON = "application/json; charset=utf-8"
XML = "application/xml; charset=utf-8"


class Failure(Exception):
    """An answer other than 200: its status, message and (429, 503) Retry-After."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def error(status: int, message: str, fmt: str, retry_after: int | None = None) -> Response:
    if fmt == "json":
        body, media = json.dumps({"error": message}, ensure_ascii=False), JSON
    elif fmt == "csv":
        body, media = f"ERROR: {message}", CSV
    else:
        body, media = (f'<?xml version="1.0" encoding="UTF-8" ?>\n<hash>\n  '
                       f"<error>{escape(message)}</error>\n</hash>"), XML
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return Response(body, status_code=status, media_type=media, headers=headers)


def data_format(fmt: str) -> str:
    """The export formats offered (REDCap's default, xml, is refused with a reason)."""
    if fmt not in ("csv", "json"):
        raise BadParameter(f"The format '{fmt}' is not offered here: send format=csv or "
                           "format=json.")
    return fmt


def csv_text(rows: Sequence[Mapping[str, Any]], header: Sequence[str] | None = None) -> str:
    names = list(header) if header is not None else list(rows[0]) if rows else []
    out = io.StringIO()
    writer = csv.DictWriter(out, names, lineterminator="\n", extrasaction="ignore")
    if names:
        writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def rows(data: Sequence[Mapping[str, Any]], fmt: str,
         header: Sequence[str] | None = None) -> Response:
    """A list of rows (metadata, events, …) as CSV or JSON, status 200."""
    if data_format(fmt) == "json":
        return Response(json.dumps(list(data), ensure_ascii=False), media_type=JSON)
    return Response(csv_text(data, header), media_type=CSV)


def plain(text: str) -> Response:
    return Response(text, media_type="text/plain; charset=utf-8")
