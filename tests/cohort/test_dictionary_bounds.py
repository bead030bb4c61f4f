"""Services hold every entry point to the dictionary before writing (issue 11, classes 2-3).

Enrolments and sessions are checked against the data dictionary (choices, ranges,
lengths) in ``enrol`` and ``log_session`` themselves, so the REST API cannot store what a
page or a workbook would refuse; a session names only staff who may work at the
participant's centre, and any other id is refused exactly like an unknown one.
Rules cited: scope.other_centre (who counts for session.trained_staff).
"""

from __future__ import annotations

from typing import Any

import pytest

from cohort.errors import NotFound, ValidationFailed
from cohort.models import MAX_INTEGER
from cohort.services.enrolment import enrol
from cohort.services.queries import list_sessions
from cohort.vocab import Role
from tests.cohort.helpers import row_counts
from tests.factories import Factory


@pytest.mark.parametrize(("overrides", "field", "code"), [
    ({"age": 200}, "age", "out_of_range"),
    ({"year_of_birth": 3000}, "year_of_birth", "out_of_range"),
    ({"year_of_birth": 1800}, "year_of_birth", "out_of_range"),
])
def test_enrolment_outside_the_dictionary_is_refused(factory: Factory,
                                                      overrides: dict[str, Any], field: str,
                                                      code: str) -> None:
    worker = factory.worker()
    before = row_counts(factory.session)
    with pytest.raises(ValidationFailed) as refused:
        enrol(factory.session, actor=worker, data=factory.enrolment(**overrides),
              on=factory.today)
    assert [(p.field, p.code) for p in refused.value.problems] == [(field, code)]
    assert row_counts(factory.session) == before


@pytest.mark.parametrize(("overrides", "field", "code"), [
    ({"product": "99"}, "product", "not_a_choice"),
    ({"product": "=1+1"}, "product", "not_a_choice"),
    ({"risks": ["2", "9"]}, "risks", "not_a_choice"),
    ({"topics": ["x"]}, "topics", "not_a_choice"),
    ({"note": "n" * 5001}, "note", "too_long"),
    ({"note": "before\x00after"}, "note", "invalid"),
])
def test_session_outside_the_dictionary_is_refused_and_nothing_written(
        factory: Factory, overrides: dict[str, Any], field: str, code: str) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    pair = [factory.staff(), factory.staff()]
    before = row_counts(factory.session)
    with pytest.raises(ValidationFailed) as refused:
        factory.aerli_session(worker, person, staff=pair, **overrides)
    assert [(p.field, p.code) for p in refused.value.problems] == [(field, code)]
    assert row_counts(factory.session) == before
    assert list_sessions(factory.session, actor=worker, code=person.code) == []


def test_session_stores_what_the_dictionary_made_of_it(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    saved = factory.aerli_session(worker, person, product=" 5 ", risks=["3", "1", "3"],
                                  note="  observed in a car park  ")
    assert (saved.record.product, saved.record.risks, saved.record.note) == (
        "5", ["1", "3"], "observed in a car park")
    assert [r.record.id for r in list_sessions(factory.session, actor=worker,
                                               code=person.code)] == [saved.record.id]


def test_another_centres_staff_are_refused_like_unknown_ids(factory: Factory) -> None:
    home, other = factory.centre("C01"), factory.centre("C02")
    worker = factory.worker(home)
    person = factory.participant(worker)
    mine, theirs = factory.staff(centre=home), factory.staff(centre=other)
    statistician = factory.staff(role=Role.STATISTICIAN, national=True)
    before = row_counts(factory.session)
    messages = []
    for stranger in (theirs.id, 987654, MAX_INTEGER + 1, 2**70):
        with pytest.raises(NotFound) as refused:
            factory.aerli_session(worker, person, staff=[mine], staff_ids=[mine.id, stranger])
        messages.append(refused.value.message.replace(str(stranger), "<id>"))
    assert len(set(messages)) == 1, messages
    with pytest.raises(NotFound):
        factory.aerli_session(worker, person, staff=[mine],
                              staff_ids=[mine.id, statistician.id])
    assert row_counts(factory.session) == before
    national = factory.staff(role=Role.RESEARCH_OFFICER, national=True)
    saved = factory.aerli_session(worker, person, staff=[mine],
                                  staff_ids=[mine.id, national.id])
    assert saved.record.counts_for_protocol
