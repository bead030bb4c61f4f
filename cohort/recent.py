"""What one process keeps of values that are costly to make, and makes once at a time.

The retention figures are named by the state of the data they were made from (the newest
audit entry, the reach, the day): a value kept under such a key is never stale, so a
process may keep it, and when several requests ask for the same new key at once, one
makes it while the others wait for it rather than make it again each. ``Recent`` keeps
the last few values; ``OneAtATime`` gives each key one maker.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class Recent(Generic[V]):
    """The last ``size`` values put, by key, each until its time to live runs out (none:
    until pushed out by newer ones); safe to share between threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._values.get(key)
            if found is None:
                return None
            if found[1] <= time.monotonic():
                del self._values[key]
                return None
            self._values.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: V, ttl_seconds: float | None = None) -> None:
        until = float("inf") if ttl_seconds is None else time.monotonic() + ttl_seconds
        with self._lock:
            self._values[key] = (value, until)
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)

    def pop(self, key: Hashable) -> None:
        with self._lock:
            self._values.pop(key, None)


class OneAtATime:
    """One maker per key at a time: ``get`` answers ``look()`` if it finds the value, else
    the first caller runs ``make()`` while the others for the same key wait, then find
    what it made (``make`` keeps it where ``look`` reads)."""

    def __init__(self) -> None:
        self._making: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, look: Callable[[], V | None], make: Callable[[], V]) -> V:
        found = look()
        if found is not None:
            return found
        with self._lock:
            making = self._making.setdefault(key, threading.Lock())
        try:
            with making:
                found = look()
                if found is None:
                    found = make()
        finally:
            with self._lock:
                self._making.pop(key, None)
        return found
