"""Study codes: pseudonymous, checkable, catching the usual copying mistakes."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from cohort.codes import CODE_PATTERN, is_valid_code, make_code


def test_code_shape() -> None:
    code = make_code("C04", 123)
    assert CODE_PATTERN.match(code)
    assert code.startswith("C04-0123-")
    assert is_valid_code(code)
    assert is_valid_code(code.lower())


@given(st.integers(min_value=1, max_value=20), st.integers(min_value=1, max_value=99_999))
def test_any_single_character_change_is_caught(centre: int, seq: int) -> None:
    code = make_code(f"C{centre:02d}", seq)
    for i, ch in enumerate(code):
        if not ch.isdigit():
            continue
        for other in "0123456789":
            if other != ch:
                assert not is_valid_code(code[:i] + other + code[i + 1:])


@given(st.integers(min_value=1, max_value=20), st.integers(min_value=1, max_value=99_999))
def test_adjacent_digit_swaps_are_caught(centre: int, seq: int) -> None:
    code = make_code(f"C{centre:02d}", seq)
    for i, j in itertools.pairwise(range(len(code))):
        a, b = code[i], code[j]
        if a != b and a.isdigit() and b.isdigit():
            swapped = code[:i] + b + a + code[j + 1:]
            assert not is_valid_code(swapped)


def test_malformed_codes() -> None:
    for bad in ["", "C04-123-K", "X04-0123-K", "C04-0123-KK", "C04_0123_K"]:
        assert not is_valid_code(bad)
