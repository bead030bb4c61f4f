"""uvicorn's HTTP protocol with Nagle's algorithm off on every connection.

With ``--workers`` above one, uvicorn opens the listening socket itself with
``socket.socket(family)``, whose protocol number is 0, and asyncio turns TCP_NODELAY on
only for sockets whose protocol is TCP's: every connection a server process accepts then
keeps Nagle's algorithm, and a response sent in two writes (headers, then body) waits for
the client's delayed acknowledgement. Measured here with uvicorn 0.54, two processes, one
client on loopback: 42 ms per request, a static page included, against 1.5 ms with one
process. ``cohort serve`` and the benchmarks use this protocol whatever the number of
processes; with one process it changes nothing (asyncio already set the option).
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: What ``uvicorn.run(http=...)`` and ``uvicorn --http`` take.
PROTOCOL = "api.serving:NoDelayHttpTools"


def no_delay(transport: asyncio.BaseTransport) -> None:
    """Turn Nagle's algorithm off on a TCP connection (not on a Unix socket)."""
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # the connection is already gone
        pass


class NoDelayHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, its connections with TCP_NODELAY."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        no_delay(transport)
        super().connection_made(transport)
