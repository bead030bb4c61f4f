"""``cohort serve`` as a real server process on loopback, for the multi-process tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
SECRET = "multi-worker-test-key-" * 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base: str
    log: Path
    process: subprocess.Popen[bytes]

    def lines(self) -> list[dict[str, Any]]:
        """The server's JSON log lines so far."""
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def pids_of(self, request_ids: set[str]) -> set[int]:
        """Which server processes answered these requests (from the logs)."""
        return {int(line["pid"]) for line in self.lines()
                if line.get("request_id") in request_ids and "pid" in line}

    def from_several(self, send: Callable[[httpx.Client], httpx.Response],
                     check: Callable[[httpx.Response], None], *,
                     cookies: httpx.Cookies | None = None, together: int = 8,
                     at_most: int = 96) -> set[int]:
        """Sends the same request on fresh connections, ``together`` at a time, until two
        processes have answered (every answer passing ``check``); returns the processes.

        One connection after another, a quiet server's connections often all go to the
        process that woke first: requests in flight together are what reach several."""
        ids: set[str] = set()

        def one(_: int) -> str:
            with client(cookies) as c:
                got = send(c)
            check(got)
            return got.headers["X-Request-ID"]

        with ThreadPoolExecutor(together) as pool:
            for _ in range(0, at_most, together):
                ids |= set(pool.map(one, range(together)))
                if len(self.pids_of(ids)) >= 2:
                    break
        time.sleep(0.2)  # the last log lines
        return self.pids_of(ids)


def client(cookies: httpx.Cookies | None = None) -> httpx.Client:
    """A client that opens a new connection for every request, so that the kernel hands
    each one to any of the server's processes."""
    return httpx.Client(timeout=60, cookies=cookies,
                        limits=httpx.Limits(max_keepalive_connections=0))


@contextmanager
def serve(url: str, tmp: Path, *, workers: int = 4, env: dict[str, str] | None = None,
          port: int | None = None) -> Iterator[Server]:
    port = port or free_port()
    log = tmp / f"server-{port}-{time.monotonic_ns()}.log"
    environment = {**os.environ, "COHORT_DATABASE_URL": url, "COHORT_SECRET_KEY": SECRET,
                   "COHORT_LOG_FORMAT": "json", **(env or {})}
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "cohort.cli.main", "serve", "--port", str(port),
             "--workers", str(workers)],
            cwd=ROOT, env=environment, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    server = Server(base, log, process)
    try:
        deadline = time.monotonic() + 240  # several processes importing on a busy machine
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.2)
        time.sleep(0.5 * workers)  # let every worker process come up
        yield server
    finally:
        stop(server)


def stop(server: Server, sig: int = signal.SIGTERM) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, sig)
        try:
            server.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)
