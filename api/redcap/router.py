"""``POST /api/``: REDCap 14's API, answered by ``cohort.redcap``.

Success is status 200 exactly (REDCapR treats anything else as a failure). Errors follow
``returnFormat`` (else ``format``, else xml, as REDCap does): 400 for a parameter that
cannot be honoured, 403 for a missing, malformed, revoked or unknown token or a role that
may not do this, 429 after repeated bad tokens from one address (the sign-in throttle),
503 when the database is busy. The form decides whether the request writes (a record
import), so reads never wait behind the SQLite writer queue.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Annotated
from xml.sax.saxutils import escape

from fastapi import Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from api.access import PURPOSE_HEADER, client_of
from api.deps import session_for
from api.inputs import api_router
from api.redcap import answers
from api.redcap.answers import Failure
from api.redcap.params import Params
from api.throttle import client_address, throttle_of
from cohort.db import BUSY_MESSAGE, is_busy
from cohort.errors import ActionNotAllowed, CohortError, OutsideCentreScope
from cohort.excel.importer import ImportBusy
from cohort.redcap import BadParameter, project
from cohort.redcap.export import RecordQuery, prepare_export
from cohort.redcap.importing import ImportOutcome, ImportRequest, import_records
from cohort.rls import scope_session
from cohort.services.context import Actor, actor_for
from cohort.services.redcap_tokens import signed_in_by_redcap_token

log = logging.getLogger(__name__)
router = api_router(body_text_max=None)
#: The throttle's "username" for bad tokens (counted per client address).
THROTTLE_KEY = "(redcap api token)"
NO_PERMISSION = "You do not have permissions to use the API"


def _is_import(params: Params) -> bool:
    return params.text("content") == "record" and params.given("data")


async def redcap_params(request: Request) -> Params:
    """The form, read once (``api.limits`` has already refused an oversized body)."""
    form = await request.form(max_part_size=request.app.state.settings.max_upload_bytes)
    return Params.of([(k, v if isinstance(v, str) else "") for k, v in form.multi_items()])


RedcapParams = Annotated[Params, Depends(redcap_params)]


async def redcap_session(request: Request, params: RedcapParams) -> AsyncIterator[Session]:
    """A reading session, or for a record import a writing one (the SQLite writer queue)."""
    async with session_for(request, write=_is_import(params)) as session:
        yield session


RedcapSession = Annotated[Session, Depends(redcap_session)]


def _error_format(params: Params) -> str:
    fmt = (params.text("returnFormat") or params.text("format") or "xml").lower()
    return fmt if fmt in ("csv", "json", "xml") else "xml"


def _actor(request: Request, session: Session, params: Params) -> Actor:
    """The token's account, as an actor; bad tokens count towards the throttle."""
    throttle, address = throttle_of(request), client_address(request)
    wait = throttle.wait_seconds(THROTTLE_KEY, address)
    if wait:
        minutes = max(1, math.ceil(wait / 60))
        raise Failure(429, f"Too many requests with a wrong token from this address; please "
                      f"wait about {minutes} minute{'s' if minutes != 1 else ''}.", wait)
    found = signed_in_by_redcap_token(session, params.text("token"))
    if found is None:
        throttle.failed(THROTTLE_KEY, address)
        raise Failure(403, NO_PERMISSION)
    request.state.redcap_username = found[0].username
    actor = actor_for(session, found[1])
    scope_session(session, actor.centre_ids)  # row-level security (PostgreSQL)
    return actor


@router.post("/api/", include_in_schema=False)
@router.post("/api", include_in_schema=False)
def redcap_api(request: Request, params: RedcapParams, session: RedcapSession) -> Response:
    """Every REDCap call: check the token, then answer the ``content`` asked for."""
    fmt = _error_format(params)
    try:
        actor = _actor(request, session, params)
        content = params.text("content")
        handler = HANDLERS.get(content)
        if handler is None:
            raise BadParameter(f"The content '{content}' is not offered by this server "
                               f"(offered: {', '.join(sorted(HANDLERS))}).")
        return handler(request, session, actor, params)
    except Failure as failure:
        return answers.error(failure.status, failure.message, fmt, failure.retry_after)
    except (ActionNotAllowed, OutsideCentreScope) as refused:
        return answers.error(403, refused.message, fmt)
    except ImportBusy:
        return answers.error(503, BUSY_MESSAGE, fmt, 60)
    except CohortError as refused:
        return answers.error(400, refused.message, fmt)
    except OperationalError as problem:
        if not is_busy(problem):
            raise
        return answers.error(503, BUSY_MESSAGE, fmt, 60)


def _no_action(params: Params) -> None:
    action = params.text("action")
    if action and action != "export":
        raise BadParameter(f"action={action} is not offered: this project's design is loaded "
                           "by the data manager from the data dictionary.")


def _version(request: Request, session: Session, actor: Actor, params: Params) -> Response:
    return answers.plain(project.REDCAP_VERSION)


def _lister(build: Callable[[Params], Sequence[Mapping[str, object]]]
            ) -> Callable[[Request, Session, Actor, Params], Response]:
    def handle(request: Request, session: Session, actor: Actor, params: Params) -> Response:
        _no_action(params)
        fmt = answers.data_format(params.text("format", "xml").lower())
        return answers.rows(build(params), fmt)
    return handle


def _project(request: Request, session: Session, actor: Actor, params: Params) -> Response:
    """One row in CSV; in JSON a single object, as REDCap answers it."""
    _no_action(params)
    info = project.project_info()
    if answers.data_format(params.text("format", "xml").lower()) == "json":
        return Response(json.dumps(info, ensure_ascii=False), media_type=answers.JSON)
    return answers.rows([info], "csv")


def _dags(request: Request, session: Session, actor: Actor, params: Params) -> Response:
    _no_action(params)
    fmt = answers.data_format(params.text("format", "xml").lower())
    return answers.rows(project.dags(session, actor), fmt,
                        ["data_access_group_name", "unique_group_name", "data_access_group_id"])


def _records(request: Request, session: Session, actor: Actor, params: Params) -> Response:
    action = params.text("action")
    if action and action not in ("export", "import"):
        raise BadParameter(f"action={action} is refused: participants and their records are "
                           "never deleted in this study (record status instead).")
    params.choice("type", ("flat", "eav"), "flat")
    if params.text("type", "flat").lower() != "flat":
        raise BadParameter("Only type=flat is offered (one row per record and event).")
    if params.given("data"):
        return _import(request, session, actor, params)
    query = RecordQuery(
        records=params.items("records"), fields=params.items("fields"),
        forms=params.items("forms"), events=params.items("events"),
        labels=params.choice("rawOrLabel", ("raw", "label"), "raw") == "label",
        label_headers=params.choice("rawOrLabelHeaders", ("raw", "label"), "raw") == "label",
        checkbox_labels=params.flag("exportCheckboxLabel"),
        dags=params.flag("exportDataAccessGroups"),
        filter_logic=params.raw("filterLogic"),
        date_begin=params.text("dateRangeBegin"), date_end=params.text("dateRangeEnd"),
        blank_gray=params.flag("exportBlankForGrayFormStatus"),
        decimal=params.text("decimalCharacter"),
        delimiter=params.choice("csvDelimiter", (",", "tab", ";", "|", "^"), ","),
        format=answers.data_format(params.text("format", "xml").lower()),
    )
    params.flag("exportSurveyFields")  # checked; no surveys, so nothing to add
    export = prepare_export(session, actor=actor, query=query)
    export.log(actor_name=request.state.redcap_username, client=client_of(request),
               purpose=request.headers.get(PURPOSE_HEADER))
    media = answers.JSON if query.format == "json" else answers.CSV
    return StreamingResponse(export.chunks(), media_type=media)


def _import(request: Request, session: Session, actor: Actor, params: Params) -> Response:
    outcome = import_records(session, actor=actor, on=request.app.state.today(),
                             request=ImportRequest(
        data=params.raw("data"), format=params.text("format", "xml").lower(),
        overwrite=params.choice("overwriteBehavior", ("normal", "overwrite"),
                                "normal") == "overwrite",
        date_format=params.choice("dateFormat", ("YMD", "DMY", "MDY"), "YMD"),
        force_auto_number=params.flag("forceAutoNumber")))
    what = params.choice("returnContent", ("count", "ids", "auto_ids", "nothing"), "count")
    return _imported(outcome, what, _error_format(params))


def _imported(outcome: ImportOutcome, what: str, fmt: str) -> Response:
    """REDCap's answer to an import: the count, the record ids, or nothing."""
    if what == "nothing":
        return answers.plain("")
    values: list[object] = ([outcome.count] if what == "count"
                            else list(outcome.ids if what == "ids" else outcome.auto_ids))
    column = "count" if what == "count" else "id"
    if fmt == "json":
        body = {"count": outcome.count} if what == "count" else values
        return Response(json.dumps(body, ensure_ascii=False), media_type=answers.JSON)
    if fmt == "xml":
        items = "".join(f"<{column}>{escape(str(v))}</{column}>" for v in values)
        return Response(f'<?xml version="1.0" encoding="UTF-8" ?>\n<ids>{items}</ids>'
                        if what != "count" else f'<?xml version="1.0" encoding="UTF-8" ?>\n'
                        f"{items}", media_type=answers.XML)
    return answers.rows([{column: v} for v in values], "csv", [column])


HANDLERS: dict[str, Callable[[Request, Session, Actor, Params], Response]] = {
    "version": _version,
    "project": _project,
    "metadata": _lister(lambda p: list(project.metadata(p.items("fields"),
                                                        p.items("forms")))),
    "instrument": _lister(lambda p: list(project.instruments())),
    "event": _lister(lambda p: project.events(p.items("arms"))),
    "arm": _lister(lambda p: project.arms()),
    "formEventMapping": _lister(lambda p: project.form_event_mapping(p.items("arms"))),
    "exportFieldNames": _lister(lambda p: list(project.export_field_names(
        p.text("field") or None))),
    "repeatingFormsEvents": _lister(lambda p: list(project.repeating_forms())),
    "dag": _dags,
    "record": _records,
}
