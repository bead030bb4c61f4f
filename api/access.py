"""The read and export logs at the web edge: which channel, which client, which route.

``LOGGED_READ`` is the one dependency of every route that shows one participant's records
(pages and API): it finds the participant the person may see (404 otherwise, nothing
logged) and writes one read-log entry for the request through
``cohort.services.access.record_read``. ``log_download`` does the same for what leaves as
a file or a page of a list, through ``record_export``. Neither writes SQL of its own.

API clients may say why they pull records with an ``X-Purpose`` header; it is kept in the
export log. (On the web, a full-cohort download asks for it in its form.)
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Depends, Request
from sqlmodel import Session

from api.deps import CurrentUser, DbSession, SignedIn
from api.problems import is_api
from cohort.models import Participant
from cohort.services.access import record_export, record_read, visible_codes
from cohort.services.context import get_participant
from cohort.vocab import Channel, ExportKind

PURPOSE_HEADER = "X-Purpose"


def channel_of(request: Request) -> Channel:
    return Channel.API if is_api(request) else Channel.WEB


def client_of(request: Request) -> str | None:
    """The client's address as the server sees it (behind a proxy: run uvicorn with
    ``--proxy-headers`` so that this is the person's, not the proxy's)."""
    return request.client.host if request.client else None


def route_of(request: Request) -> str:
    """The path with its parameters named (``/api/v1/participants/{code}/history``): what
    was read, without repeating the participant's code."""
    names = {str(value): name for name, value in request.path_params.items()}
    return "/".join(f"{{{names[part]}}}" if part in names else part
                    for part in request.url.path.split("/"))


def read_participant(request: Request, code: str, user: CurrentUser,
                     session: DbSession) -> Participant:
    """The participant of the path, with one read-log entry for this request."""
    participant = get_participant(session, user.actor, code)
    record_read(session, actor=user.actor, participant=participant,
                channel=channel_of(request), what=route_of(request), client=client_of(request))
    return participant


LOGGED_READ = Depends(read_participant)


def log_download(request: Request, user: SignedIn, session: Session, *, kind: ExportKind,
                 fmt: str, rows: int, fields: Sequence[str] = (),
                 centre_codes: Sequence[str] | None = None, free_text: bool = False,
                 purpose: str | None = None, target: str | None = None) -> None:
    """Log what this request hands over. ``centre_codes`` None: the centres the person
    sees (every centre for national staff: a full-cohort download)."""
    if centre_codes is None:
        centre_codes = visible_codes(session, user.actor)
    record_export(
        session, actor=user.actor, actor_name=user.account.username,
        channel=channel_of(request), client=client_of(request), kind=kind, fmt=fmt,
        rows=rows, fields=fields, centre_codes=centre_codes, free_text=free_text,
        deidentified=user.deidentified,
        purpose=purpose if purpose is not None else request.headers.get(PURPOSE_HEADER),
        target=target or request.url.path)
