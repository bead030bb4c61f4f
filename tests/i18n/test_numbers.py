"""Numbers the reader's way: the quick path for counts and the cached patterns give what
Babel gives when asked each time."""

from __future__ import annotations

import random

import pytest
from babel import numbers

from forms.i18n import LANGUAGES, format_decimal, format_percent


@pytest.mark.parametrize("lang", LANGUAGES)
def test_counts_are_grouped_as_babel_groups_them(lang: str) -> None:
    rng = random.Random(5)
    counts = [0, 7, 999, 1000, 1001, 99_999, 100_000, 1_234_567, 10**12,
              *(rng.randrange(10 ** rng.randint(1, 11)) for _ in range(2000))]
    for n in counts:
        assert format_decimal(n, lang=lang) == numbers.format_decimal(n, locale=lang), n
        assert format_decimal(n, 0, lang=lang) == numbers.format_decimal(
            n, format="#,##0", locale=lang), n


@pytest.mark.parametrize("lang", LANGUAGES)
def test_other_numbers_go_through_babel(lang: str) -> None:
    for value, digits in [(-1234, None), (1234.5678, None), (2.675, 2), (0.25, 1),
                          (-0.5, 0), (1234.5, 1)]:
        pattern = None if digits is None else ("#,##0." + "0" * digits if digits
                                               else "#,##0")
        assert format_decimal(value, digits, lang=lang) == numbers.format_decimal(
            value, format=pattern, locale=lang)
    assert format_percent(0.734, lang=lang) == numbers.format_percent(0.734, locale=lang)


def test_french_groups_with_a_narrow_space_and_a_decimal_comma() -> None:
    assert format_decimal(1_234_567, lang="fr") == "1\u202f234\u202f567"
    assert format_decimal(1234.5, 1, lang="fr") == "1\u202f234,5"
    assert format_decimal(1_234_567, lang="en") == "1,234,567"
