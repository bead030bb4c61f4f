"""Slow down password guessing: a few failed sign-ins per account and address, then a wait.

Kept in memory (one per app): enough for the single-process server the study runs; the
key includes the client address so that someone guessing cannot lock a colleague out from
elsewhere.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from fastapi import HTTPException, Request

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


class SignInThrottle:
    """Counts failed sign-ins per (username, address) over a sliding window."""

    def __init__(self, *, max_failures: int = MAX_FAILURES, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        stamps = self._failures.setdefault(key, deque())
        cutoff = self.clock() - self.window
        while stamps and stamps[0] <= cutoff:
            stamps.popleft()
        return stamps

    def wait_seconds(self, username: str, address: str) -> int:
        """0 when a sign-in may be tried now, else how long to wait."""
        with self._lock:
            stamps = self._recent((username.strip().lower(), address))
            if len(stamps) < self.max_failures:
                return 0
            return max(1, math.ceil(stamps[0] + self.window - self.clock()))

    def failed(self, username: str, address: str) -> None:
        with self._lock:
            self._recent((username.strip().lower(), address)).append(self.clock())

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._failures.pop((username.strip().lower(), address), None)


def throttle_of(request: Request) -> SignInThrottle:
    throttle = getattr(request.app.state, "sign_in_throttle", None)
    if throttle is None:
        throttle = request.app.state.sign_in_throttle = SignInThrottle()
    return throttle


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def refuse_if_throttled(request: Request, username: str) -> None:
    """429 with Retry-After when this account was tried too often from this address."""
    wait = throttle_of(request).wait_seconds(username, client_address(request))
    if wait:
        minutes = max(1, math.ceil(wait / 60))
        raise HTTPException(
            status_code=429,
            detail=(f"Too many sign-in attempts for this account. Please wait about "
                    f"{minutes} minute{'s' if minutes != 1 else ''} and try again."),
            headers={"Retry-After": str(wait)},
        )
