"""``filterLogic``: REDCap's logic syntax, parsed and evaluated by ``forms.expressions``.

As in a longitudinal REDCap project the logic is evaluated on each row (record and event,
or repeat instance): ``[field]`` is the field on that row, blank where the row's event does
not hold it, and ``[m0_arm_1][study_group]`` reads another event of the same record. So
``[study_group] = '1'`` keeps M0 rows only, and ``[m0_arm_1][study_group] = '1'`` keeps
every row of the intervention group's records. Logic that does not parse, or that names a
field or event the project does not have, is refused before anything is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cohort.dictionary import get_dictionary
from cohort.redcap import BadParameter
from cohort.redcap.project import RECORD_ID
from cohort.redcap.values import FlatRow
from forms import Env, ExpressionError, compile_expression, parse_expression
from forms.functions import truthy

RowTest = Callable[[FlatRow, Mapping[str, Mapping[str, Any]]], bool]


def compile_filter(text: str) -> RowTest | None:
    """A test of one row against the logic (None: no logic given)."""
    if not text.strip():
        return None
    try:
        node = parse_expression(text)
    except ExpressionError as error:
        raise BadParameter(f"The filterLogic cannot be read: {error}") from None
    dictionary = get_dictionary()
    events = set(dictionary.events.events)
    for ref in node.references():
        if ref.name != RECORD_ID and ref.name not in dictionary.fields:
            raise BadParameter(f"The filterLogic names [{ref.name}], which is not a field of "
                               "this project.")
        if ref.event and ref.event not in events:
            raise BadParameter(f"The filterLogic names the event [{ref.event}], which is not "
                               f"an event of this project ({', '.join(sorted(events))}).")
    evaluate = compile_expression(node)

    def test(row: FlatRow, others: Mapping[str, Mapping[str, Any]]) -> bool:
        values = {RECORD_ID: row.record, **row.values}
        return truthy(evaluate(Env(values, others=others, event=row.event)))

    return test
