"""One trip off the event loop per request.

FastAPI runs every synchronous dependency, then the synchronous endpoint, then the check of
its answer against the response model, each in its own trip to a worker thread, and the
end of the request's database session in another. Under load the server's process is busy
all the time, and each trip costs it processor time of its own (a task, a queue, waking a
thread, handing the result back) and a wait for the interpreter lock on both sides: about
a fifth of what a save or the retention page cost in a mixed run went to the trips.

So every route of the app (``api.inputs.CheckedRoute``) runs its synchronous endpoint
through ``one_hop``: FastAPI sees a coroutine, which makes one trip, in which what was
deferred to the endpoint's thread (``Deferred``: looking up the signed-in person) is done
first, then the endpoint. A page already rendered needs its database session no more, and
its transaction ends in that same thread; closing the session then has nothing left to say
to the database and is done on the loop (``api.deps.session_for``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.dependencies.models import Dependant
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response, StreamingResponse

#: The dependencies whose value is ``Deferred`` (``api.deps.signed_in``).
_DEFERRING: set[Callable[..., Any]] = set()


def defers(dependency: Callable[..., Any]) -> Callable[..., Any]:
    """Mark ``dependency`` as giving a ``Deferred`` value (``check_dependencies``)."""
    _DEFERRING.add(dependency)
    return dependency


def check_dependencies(path: str, dependant: Dependant) -> None:
    """Refuse, when the route is built, an asynchronous dependency that takes a deferred
    value: it would get it unresolved, on the event loop, before the person is known
    (a synchronous one resolves it by reading it, in its own thread; the endpoint gets it
    resolved)."""
    for sub in dependant.dependencies:
        if (any(d.call in _DEFERRING for d in sub.dependencies)
                and inspect.iscoroutinefunction(sub.call)):
            name = getattr(sub.call, "__qualname__", repr(sub.call))
            raise TypeError(f"{path}: the asynchronous dependency {name} takes a deferred "
                            "value (the signed-in person); make it synchronous")
        check_dependencies(path, sub)


class Deferred:
    """A dependency's value whose work (database statements) is done in the thread of the
    endpoint that receives it, before the endpoint runs, or by the first synchronous
    dependency that asks for it. ``resolve`` does the work once and may raise."""

    def resolve(self) -> None:
        raise NotImplementedError


def one_hop(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` as FastAPI should call it: a coroutine that resolves what is deferred
    and runs a synchronous endpoint in one trip to a worker thread (an asynchronous one on
    the loop, after one trip for what is deferred, if anything is)."""
    if inspect.iscoroutinefunction(endpoint):
        @functools.wraps(endpoint)
        async def resolved_first(**values: Any) -> Any:
            if any(isinstance(value, Deferred) for value in values.values()):
                await run_in_threadpool(_resolve, values)
            return await endpoint(**values)

        return resolved_first

    @functools.wraps(endpoint)
    async def in_one_trip(**values: Any) -> Any:
        return await run_in_threadpool(_run, endpoint, values)

    return in_one_trip


def _resolve(values: dict[str, Any]) -> None:
    for value in values.values():
        if isinstance(value, Deferred):
            value.resolve()


def _run(endpoint: Callable[..., Any], values: dict[str, Any]) -> Any:
    _resolve(values)
    answer = endpoint(**values)
    if isinstance(answer, Response) and not isinstance(answer, StreamingResponse | FileResponse):
        # Rendered: nothing will read the session again (a streamed answer may), and
        # what was not committed is not wanted (the session's clean-up closes it).
        for value in values.values():
            if isinstance(value, Session):
                value.rollback()
    return answer


def end_session(session: Session) -> None:
    """Roll back what was not committed and let the connection go (may talk to the
    database: in a worker thread)."""
    try:
        session.rollback()
    finally:
        session.close()
