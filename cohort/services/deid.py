"""One de-identification policy for statisticians: no staff names, no free text.

Free text is where people write what they should not (names, places, phone numbers), so
it is withheld rather than trusted. Applied by the read services (``queries``,
``participants``, ``deviations``), so the API, the pages and any other caller see the same
thing: questionnaire answers keep only coded fields, and the free-text notes on records (a
status change's ``reason``, a deviation's ``resolution_comment``, an AERLI session's
``note``) are emptied. Exports (``analysis``) should call ``deidentify_answers`` and
``redact_records`` too.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, TypeVar

from sqlmodel import SQLModel

from cohort.dictionary import get_dictionary
from cohort.services.context import Actor
from cohort.vocab import Role

FREE_TEXT_KINDS = frozenset({"text", "notes"})
# Free-text columns of study records, per table.
FREE_TEXT_COLUMNS: dict[str, frozenset[str]] = {
    "status_change": frozenset({"reason"}),
    "deviation": frozenset({"resolution_comment"}),
    "screening": frozenset({"reason"}),
    "aerli_session": frozenset({"note"}),
}
# Tables whose ``answers`` come from the data dictionary: only coded fields are kept.
ANSWER_TABLES = frozenset({"questionnaire"})

T = TypeVar("T", bound=SQLModel)


def deidentified(actor: Actor) -> bool:
    """Statisticians read de-identified data only."""
    return actor.role is Role.STATISTICIAN


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
    """Dictionary fields never shown de-identified: free text and flagged identifiers."""
    return _withheld(id(get_dictionary()))


def deidentify_answers(answers: dict[str, Any]) -> dict[str, Any]:
    hidden = withheld_fields()
    return {k: v for k, v in answers.items() if k not in hidden}


def redact(record: T) -> T:
    """A detached copy of ``record`` with its free-text columns emptied and, for a
    questionnaire, its free-text answers left out (the stored record is untouched: the copy
    is never added to a session)."""
    table = str(getattr(record, "__tablename__", ""))
    hidden = FREE_TEXT_COLUMNS.get(table, frozenset())
    values = record.model_dump()
    for name in hidden:
        values[name] = None
    if table in ANSWER_TABLES and isinstance(values.get("answers"), dict):
        values["answers"] = deidentify_answers(values["answers"])
    return type(record).model_validate(values)


def redact_records(actor: Actor, records: Iterable[T]) -> list[T]:
    """``records`` as the actor may read them: unchanged, or redacted for statisticians."""
    if not deidentified(actor):
        return list(records)
    return [redact(r) for r in records]
