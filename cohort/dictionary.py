"""The data dictionary the services validate against (the study's own by default).

A deployment may point ``COHORT_DICTIONARY`` at another REDCap dictionary; tests may call
``use_dictionary`` to swap in a small one.
"""

from __future__ import annotations

from functools import cache

import forms
from forms import DataDictionary

_override: list[DataDictionary] = []


@cache
def _default() -> DataDictionary:
    return forms.default_dictionary()


def get_dictionary() -> DataDictionary:
    return _override[-1] if _override else _default()


def use_dictionary(dictionary: DataDictionary | None) -> None:
    """Replace (or with None restore) the dictionary used by the services."""
    _override.clear()
    if dictionary is not None:
        _override.append(dictionary)
