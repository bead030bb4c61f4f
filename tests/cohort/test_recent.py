"""``cohort.recent``: the last values by key, and one maker per key at a time."""

from __future__ import annotations

import threading
import time

from cohort.recent import OneAtATime, Recent


def test_recent_keeps_the_last_values_each_until_its_time() -> None:
    kept: Recent[str] = Recent(2)
    kept.put("a", "1")
    kept.put("b", "2")
    assert kept.get("a") == "1"          # read: now the newest
    kept.put("c", "3")                   # pushes out the oldest, b
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == ("1", None, "3")
    kept.put("d", "4", ttl_seconds=0.05)
    time.sleep(0.1)
    assert kept.get("d") is None
    kept.pop("a")
    assert kept.get("a") is None


def test_one_maker_per_key_the_others_find_what_it_made() -> None:
    once = OneAtATime()
    kept: dict[str, int] = {}
    made: list[int] = []
    started = threading.Event()

    def make() -> int:
        started.set()
        time.sleep(0.2)
        made.append(1)
        kept["k"] = 42
        return 42

    answers: list[int] = []
    threads = [threading.Thread(target=lambda: answers.append(
        once.get("k", lambda: kept.get("k"), make))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [42] * 4 and made == [1]
    assert once._making == {}  # noqa: SLF001 - no lock left behind
