"""Finding a participant by study code (issue 15 B1): case, spaces and dashes do not
matter, and when one character is mistyped the check character points to the code meant."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from cohort.codes import compact, likely_codes, make_code, search_codes
from cohort.services.queries import find_codes
from tests.factories import Factory


def test_typing_variants_find_the_same_code() -> None:
    code = make_code("C04", 123)
    others = [make_code("C04", 124), make_code("C05", 123)]
    for typed in (code, code.lower(), code.replace("-", ""), " c04 0123 ", "0123",
                  code.lower().replace("-", " ")):
        found, suggested = search_codes(typed, [code, *others])
        assert code in found and suggested == [], typed
    assert compact("c04-0123-k") == "C040123K"


@settings(deadline=None, max_examples=40)
@given(st.integers(min_value=1, max_value=20), st.integers(min_value=1, max_value=99_999))
def test_one_wrong_character_suggests_the_code_meant(centre: int, seq: int) -> None:
    code = make_code(f"C{centre:02d}", seq)
    for i, ch in enumerate(code):
        if ch == "-" or i == 0:
            continue
        options = "0123456789" if ch.isdigit() else "ABCDEFGHJKLMNPQRSTVWXYZ"
        for other in options:
            if other == ch:
                continue
            slip = code[:i] + other + code[i + 1:]
            assert code in likely_codes(slip), slip
            # Each suggestion is itself a valid code one slip away: few of them.
            assert len(likely_codes(slip)) <= 12


@settings(deadline=None, max_examples=40)
@given(st.integers(min_value=1, max_value=20), st.integers(min_value=1, max_value=9_999))
def test_swapped_neighbours_suggest_the_code_meant(centre: int, seq: int) -> None:
    code = make_code(f"C{centre:02d}", seq)
    packed = compact(code)
    for i, j in itertools.pairwise(range(1, len(packed))):
        if packed[i] != packed[j]:
            swapped = packed[:i] + packed[j] + packed[i] + packed[j + 1:]
            assert code in likely_codes(swapped), swapped


def test_a_valid_code_or_garbage_suggests_nothing() -> None:
    code = make_code("C04", 123)
    assert likely_codes(code) == []
    assert likely_codes("hello") == likely_codes("") == likely_codes("C04") == []


def test_suggestions_are_only_codes_on_the_list() -> None:
    code, listed = make_code("C04", 123), make_code("C04", 9)
    slip = code[:7] + ("9" if code[7] != "9" else "8") + code[8:]
    found, suggested = search_codes(slip, [listed, code])
    assert found == [] and suggested == [code]
    assert search_codes(slip, [listed]) == ([], [])


def test_find_codes_in_the_database_is_scoped(factory: Factory) -> None:
    worker_a = factory.worker(factory.centre("C01"))
    worker_b = factory.worker(factory.centre("C02"))
    mine = factory.participant(worker_a)
    theirs = factory.participant(worker_b)
    typed = mine.code.lower().replace("-", " ")
    assert list(find_codes(factory.session, actor=worker_a, query=typed).ids.values()) == [
        mine.code]
    # Another centre's code reads like one that does not exist: no match, no suggestion.
    other = find_codes(factory.session, actor=worker_a, query=theirs.code)
    assert other.ids == {} and other.suggestions == []
    slip = mine.code[:-1] + ("A" if mine.code[-1] != "A" else "B")
    near = find_codes(factory.session, actor=worker_a, query=slip)
    assert near.ids == {} and near.suggestions == [mine.code]
    assert not find_codes(factory.session, actor=worker_a, query=" - ").active
