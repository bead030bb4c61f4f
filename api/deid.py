"""De-identification for statisticians: no staff names, no free text.

Free-text answers are where people write what they should not (names, places, phone
numbers), so they are withheld rather than trusted; the dictionary says which fields are
free text and which are flagged as identifiers.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from cohort.dictionary import get_dictionary

FREE_TEXT_KINDS = frozenset({"text", "notes"})


@cache
def _withheld(dictionary_id: int) -> frozenset[str]:
    del dictionary_id
    dictionary = get_dictionary()
    names = {
        f.name for f in dictionary.fields.values()
        if f.kind in FREE_TEXT_KINDS and not f.validation
    }
    return frozenset(names | set(dictionary.identifier_fields()))


def withheld_fields() -> frozenset[str]:
    return _withheld(id(get_dictionary()))


def deidentify_answers(answers: dict[str, Any]) -> dict[str, Any]:
    hidden = withheld_fields()
    return {k: v for k, v in answers.items() if k not in hidden}
