"""``cohort.recent``: the last values by key, one maker per key at a time, and values
shared only with those who asked before their making began."""

from __future__ import annotations

import threading
import time

import pytest

from cohort.recent import Fresh, OneAtATime, Recent


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


def test_a_fresh_value_is_shared_only_with_those_who_asked_before_it_was_begun() -> None:
    """A asks first and makes #1; B, C and D ask while #1 is being made, so #1 may miss
    what changed just before they asked: they wait for it, then share one making, #2."""
    fresh = Fresh()
    made: list[float] = []
    lock = threading.Lock()

    def make() -> tuple[int, float]:
        with lock:
            made.append(time.monotonic())
            number = len(made)
        time.sleep(0.2)
        return number, made[number - 1]

    answers: dict[str, tuple[float, tuple[int, float]]] = {}

    def ask(name: str) -> None:
        asked = time.monotonic()
        answers[name] = (asked, fresh.get("view", make))

    first = threading.Thread(target=ask, args=("A",))
    first.start()
    time.sleep(0.05)
    later = [threading.Thread(target=ask, args=(name,)) for name in "BCD"]
    for t in later:
        t.start()
    for t in [first, *later]:
        t.join()
    assert answers["A"][1][0] == 1
    assert {answers[name][1][0] for name in "BCD"} == {2}
    assert len(made) == 2
    # Every value was begun after its reader asked.
    assert all(began >= asked for asked, (_, began) in answers.values())
    assert fresh._flights == {}  # noqa: SLF001 - nothing left behind


def test_a_failed_making_is_not_shared_the_waiters_make_their_own() -> None:
    fresh = Fresh()
    calls: list[str] = []
    started = threading.Event()

    def failing() -> str:
        calls.append("failing")
        started.set()
        time.sleep(0.1)
        raise RuntimeError("database gone")

    def working() -> str:
        calls.append("working")
        return "figures"

    errors: list[BaseException] = []

    def first() -> None:
        try:
            fresh.get("view", failing)
        except RuntimeError as error:
            errors.append(error)

    t = threading.Thread(target=first)
    t.start()
    started.wait()
    # Asked while the failing one ran: waits, then makes its own.
    assert fresh.get("view", working) == "figures"
    t.join()
    assert [str(e) for e in errors] == ["database gone"]
    assert calls == ["failing", "working"]
    with pytest.raises(RuntimeError):
        fresh.get("other", failing)
