"""Every connection a server process accepts has Nagle's algorithm off (api/serving.py):
with ``--workers`` above one, uvicorn's listening socket has protocol number 0 and asyncio
then leaves TCP_NODELAY off, so each response waited 40 ms for a delayed acknowledgement."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner
from uvicorn.server import ServerState

from api.serving import PROTOCOL, NoDelayHttpTools, no_delay
from cohort.cli.main import app


class _Transport(asyncio.Transport):
    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "socket":
            return self.sock
        if name in ("sockname", "peername"):
            return self.sock.getsockname() if name == "sockname" else self.sock.getpeername()
        return default

    def is_closing(self) -> bool:
        return False


@pytest.fixture
def accepted() -> Iterator[socket.socket]:
    """A connection accepted on a listening socket opened the way uvicorn opens it for
    several processes (``socket.socket(family)``: protocol 0)."""
    listener = socket.socket(socket.AF_INET)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    server_side, _ = listener.accept()
    try:
        yield server_side
    finally:
        for s in (server_side, client, listener):
            s.close()


def _nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_no_delay_turns_nagle_off_where_uvicorn_left_it_on(accepted: socket.socket) -> None:
    assert _nodelay(accepted) == 0  # what each of uvicorn's processes got
    no_delay(_Transport(accepted))
    assert _nodelay(accepted) != 0


def test_the_protocol_turns_it_off_as_a_connection_is_made(accepted: socket.socket) -> None:
    config = uvicorn.Config(app=lambda *a: None, http=PROTOCOL)
    config.load()
    assert config.http_protocol_class is NoDelayHttpTools
    loop = asyncio.new_event_loop()
    try:
        protocol = NoDelayHttpTools(config=config, server_state=ServerState(), app_state={},
                                    _loop=loop)
        protocol.connection_made(_Transport(accepted))
    finally:
        loop.close()
    assert _nodelay(accepted) != 0


def test_cohort_serve_uses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    result = CliRunner().invoke(app, ["serve", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert seen["http"] == PROTOCOL and seen["workers"] == 2
