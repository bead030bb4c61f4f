"""Request dependencies: the database session, the signed-in person, CSRF, the clock.

``CurrentUser`` is the one dependency every protected route takes. API routes accept only a
bearer token and pages only the signed session cookie, so a page cookie can never be used
to call the API from another site (no CSRF surface on the API), and every page POST checks
the session-bound CSRF token. The cookie holds the account id and the account's session
epoch at sign-in; once the epoch is raised (sign-out, new password, account disabled) the
cookie, and every copy of it, is refused.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.hops import Deferred, defers, end_session
from api.problems import DatabaseBusy, NotSignedIn, is_api
from cohort.models import Account, Staff
from cohort.rls import scope_session
from cohort.services.accounts import Person, signed_in_by_session, signed_in_by_token
from cohort.services.context import Actor
from cohort.vocab import Role
from forms.i18n import gettext

bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
SESSION_ACCOUNT = "account_id"
SESSION_EPOCH = "epoch"
#: The language the account chose (copied at sign-in and when changed on the account page),
#: read by ``api.app.ReaderLanguage`` before any dependency runs.
SESSION_LANGUAGE = "lang"
SESSION_CSRF = "csrf"


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SETUP_LOCK = threading.Lock()


@dataclass(frozen=True)
class _SqliteWriter:
    engine: Engine
    #: One writer of this process at a time, in order (a semaphore, not a lock: the turn
    #: is given back from the thread that commits, through the event loop).
    turn: anyio.Semaphore


class _Turn:
    """A writing request's turn in its process's queue: given back as soon as its
    transaction ends (the rest of the request, its answer written out and its session
    closed, no longer holds the other writers back), taken again before the request
    begins another transaction (on SQLite a transaction of a writer begins IMMEDIATE, so
    it takes the database's write lock at once: without the turn, a writer queued behind
    could hold the turn while waiting for that lock, and this one wait for the turn), and
    given back when the request ends.

    Only the session's outermost transaction counts: a savepoint released (an enrolment,
    each row of an import) ends no transaction, the write lock is still held."""

    def __init__(self, turn: anyio.Semaphore, wait_seconds: float) -> None:
        self.turn = turn
        self.wait_seconds = wait_seconds
        self.loop = asyncio.get_running_loop()
        self.held = True

    def watch(self, session: Session) -> None:
        event.listen(session, "after_transaction_create", self._begins)
        event.listen(session, "after_transaction_end", self._ends)

    def give_back(self) -> None:
        """On the event loop, at the end of the request."""
        if self.held:
            self.held = False
            self.turn.release()

    def _ends(self, session: Session, transaction: SessionTransaction) -> None:
        """In the thread that ended the transaction; the release goes through the loop
        (in order with a later ``_begins``' request for the turn)."""
        if transaction.parent is None and self.held:
            self.held = False
            self.loop.call_soon_threadsafe(self.turn.release)

    def _begins(self, session: Session, transaction: SessionTransaction) -> None:
        """In the thread about to begin a transaction, before it touches the database."""
        if transaction.parent is None and not self.held:
            try:
                anyio.from_thread.run(self._take)
            except RuntimeError:  # not a worker thread: SQLite's own wait, as elsewhere
                return
            self.held = True

    async def _take(self) -> None:
        try:
            with anyio.fail_after(self.wait_seconds):
                await self.turn.acquire()
        except TimeoutError:
            raise DatabaseBusy() from None


def _sqlite_writer(request: Request, write: bool | None = None) -> _SqliteWriter | None:
    """For a writing request on SQLite (by its method, unless ``write`` says), an engine
    whose transactions begin IMMEDIATE, and a queue of this process's writers.

    A deferred transaction that reads and then writes while another one writes fails at
    once with "database is locked"; IMMEDIATE makes it wait instead. SQLite's own wait
    sleeps in growing steps (up to 100 ms), so writers of this process also queue, in
    order, on an async semaphore that hands over at once and holds no worker thread while
    it waits; a writer gives its turn back when its transaction ends (``_Turn``). Other
    processes still wait through the busy timeout.
    """
    engine: Engine = request.app.state.engine
    writing = request.method not in READ_METHODS if write is None else write
    if not writing or engine.dialect.name != "sqlite":
        return None
    writer: _SqliteWriter | None = getattr(request.app.state, "sqlite_writer", None)
    if writer is None:
        with _SETUP_LOCK:
            writer = getattr(request.app.state, "sqlite_writer", None)
            if writer is None:
                writer = _SqliteWriter(engine.execution_options(sqlite_begin="IMMEDIATE"),
                                       anyio.Semaphore(1))
                request.app.state.sqlite_writer = writer
    return writer


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One database session per request; services commit, anything left is rolled back
    (in a worker thread: closing may talk to the database). Also kept as
    ``request.state.db_session`` (the sign-in throttle works on it).

    A writer on SQLite that waits longer than ``write_wait_seconds`` for this process's
    queue (another request writing, such as a long import) answers 503 with Retry-After,
    like a database busy past its timeout, instead of waiting without end."""
    async with session_for(request, write=None) as session:
        yield session


@asynccontextmanager
async def session_for(request: Request, *, write: bool | None) -> AsyncIterator[Session]:
    """``get_session`` for a route that knows better than its method whether it writes
    (the REDCap API answers reads and writes alike with POST); None: by the method.

    A context manager, not a generator to iterate: when the route raises, the session is
    closed and the SQLite writer queue released in the same task (an abandoned async
    generator would be finalised later in another task, which may not release the
    queue's lock: every later write of the process would then wait and answer 503)."""
    writer = _sqlite_writer(request, write)
    if writer is None:
        session = Session(request.app.state.engine, expire_on_commit=False)
        request.state.db_session = session
        try:
            yield session
        finally:
            await _end(session)
        return
    try:
        with anyio.fail_after(request.app.state.settings.write_wait_seconds):
            await writer.turn.acquire()
    except TimeoutError:
        raise DatabaseBusy() from None
    turn = _Turn(writer.turn, request.app.state.settings.write_wait_seconds)
    try:
        session = Session(writer.engine, expire_on_commit=False)
        turn.watch(session)
        request.state.db_session = session
        try:
            yield session
        finally:
            await _end(session)
    finally:
        turn.give_back()


async def _end(session: Session) -> None:
    """The request's session ended: in a worker thread if a transaction is still open
    (rolling it back talks to the database), else here (a committed save, a rendered page
    whose transaction ``api.hops`` already ended: closing it says nothing to the database)."""
    if session.in_transaction():
        await run_in_threadpool(end_session, session)
    else:
        session.close()


DbSession = Annotated[Session, Depends(get_session)]


async def get_today(request: Request) -> date:
    """Today's date for rules and windows (tests pin it through ``app.state.today``).

    ``async`` only so that FastAPI runs it on the event loop instead of sending it to a
    worker thread: on SQLite that hop happened while the request held the writer lock."""
    today: date = request.app.state.today()
    return today


Today = Annotated[date, Depends(get_today)]


class SignedIn(Deferred):
    """The person making the request, resolved from their account's staff row.

    Looked up when first needed, in the thread that needs it: every route runs its
    synchronous endpoint through ``api.hops.one_hop``, which resolves it in the endpoint's
    own worker thread before the endpoint runs (one trip off the event loop instead of
    two); a synchronous dependency that reads it first (``LOGGED_READ``) resolves it in
    its own. No route runs without it resolved: a person not signed in is refused
    (``NotSignedIn``) before the endpoint does anything."""

    __slots__ = ("_session", "_token", "_cookie", "_found")

    def __init__(self, session: Session, *, token: str | None,
                 cookie: Mapping[str, Any] | None) -> None:
        """``token`` for the API, ``cookie`` (the page session's contents) for pages. Not
        the request itself: the request keeps this object (``request.state``), and the
        two would make a cycle that only the garbage collector's passes free."""
        self._session = session
        self._token = token
        self._cookie = cookie
        self._found: Person | None = None

    def resolve(self) -> None:
        self._person()

    def _person(self) -> Person:
        if self._found is None:
            self._found = _look_up(self._session, self._token, self._cookie)
        return self._found

    @property
    def account(self) -> Account:
        return self._person().account

    @property
    def staff(self) -> Staff:
        return self._person().staff

    @property
    def actor(self) -> Actor:
        return self._person().actor

    @property
    def role(self) -> Role:
        return self.staff.role

    @property
    def deidentified(self) -> bool:
        """Statisticians see de-identified data only (no staff names, no free text)."""
        return self.staff.role is Role.STATISTICIAN


@defers
async def signed_in(
    request: Request,
    session: DbSession,
    token: Annotated[str | None, Depends(bearer)],
) -> SignedIn:
    """The person, to be looked up in the endpoint's thread (``SignedIn``); kept as
    ``request.state.signed_in`` so that a refused request's answer can say whether it
    was signed in first (``api.inputs.CheckedRoute``)."""
    user = (SignedIn(session, token=token, cookie=None) if is_api(request)
            else SignedIn(session, token=None, cookie=request.session))
    request.state.signed_in = user
    return user


def _look_up(session: Session, token: str | None, cookie: Mapping[str, Any] | None) -> Person:
    """The API signs in by bearer token only, pages by the session cookie only."""
    found: Person | None = None
    if cookie is not None:
        found = cookie_account(session, cookie)
    elif token:
        found = signed_in_by_token(session, token)
    if found is None:
        raise NotSignedIn()
    scope_session(session, found.actor.centre_ids)  # row-level security (PostgreSQL)
    return found


CurrentUser = Annotated[SignedIn, Depends(signed_in)]


def cookie_account(session: Session, cookie: Mapping[str, Any]) -> Person | None:
    """The person of a still-valid page session cookie's contents (the request's, or a copy
    kept after it was cleared), else None."""
    account_id = cookie.get(SESSION_ACCOUNT)
    epoch = cookie.get(SESSION_EPOCH)
    if not isinstance(account_id, int) or not isinstance(epoch, int):
        return None
    return signed_in_by_session(session, account_id, epoch)


def start_page_session(request: Request, account: Account) -> None:
    """A fresh session (and CSRF token) bound to the account's current session epoch."""
    request.session.clear()
    request.session[SESSION_ACCOUNT] = account.id
    request.session[SESSION_EPOCH] = account.session_epoch
    if account.language:
        request.session[SESSION_LANGUAGE] = account.language


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        request.session[SESSION_CSRF] = token
    return token


async def check_csrf(request: Request) -> None:
    """Every page POST carries the session's token in a hidden ``csrf_token`` field."""
    if request.method != "POST":
        return
    form = await request.form()
    sent = form.get("csrf_token")
    expected = request.session.get(SESSION_CSRF)
    if not isinstance(sent, str) or not isinstance(expected, str) or not secrets.compare_digest(
        sent, expected
    ):
        from fastapi import HTTPException

        raise HTTPException(
            status_code=403,
            detail=gettext("This form has expired. Please go back, reload the page and try again."),
        )
