"""Logic that reads another visit is checked with that visit's answers, on every way in.

REDCap reads ``[m0_arm_1][inj_freq]`` and ``[previous-event-name][inj_freq]`` from the
record's other events (REDCap's smart variables: the closest earlier event of the arm where
the field's form is filled). A questionnaire saved here, one at a time or by import, is
validated with the participant's other visits when (and only when) the dictionary's logic
reads other events.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from cohort.dictionary import get_dictionary, use_dictionary
from cohort.errors import ValidationFailed
from cohort.services.bulk import BulkRefused, QuestionnaireRow, save_questionnaires
from cohort.services.questionnaires import save_questionnaire
from cohort.vocab import Timepoint
from forms.loader import dictionary_paths, load_dictionary_text
from tests.factories import Factory, questionnaire_answers

FOLLOW_UP = ('questionnaire_note,questionnaire,Comments,notes,Comments on this questionnaire,'
             ',"Please do not write')
ASKED = ('fewer_injections,questionnaire,,yesno,"Fewer injections than at M0 ([m0_arm_1]'
         '[inj_freq])?",,,,,,,"[event-name] <> \'m0_arm_1\' and '
         '[previous-event-name][inj_freq] >= 4",,,,,,\n')


@pytest.fixture
def reads_m0() -> Iterator[None]:
    path, events = dictionary_paths()
    text = path.read_text(encoding="utf-8")
    assert FOLLOW_UP in text
    use_dictionary(load_dictionary_text(text.replace(FOLLOW_UP, ASKED + FOLLOW_UP),
                                        events_text=events.read_text(encoding="utf-8")))
    assert get_dictionary().reads_other_events
    try:
        yield
    finally:
        use_dictionary(None)


def test_a_question_shown_by_another_visits_answer(factory: Factory, reads_m0: None) -> None:
    worker = factory.worker()
    often = factory.participant(worker, inclusion_date=factory.today - timedelta(days=190))
    rarely = factory.participant(worker, inclusion_date=factory.today - timedelta(days=190))
    factory.questionnaire(worker, often, inj_freq="5")
    factory.questionnaire(worker, rarely, inj_freq="1")
    visit = factory.today - timedelta(days=2)
    # Shown at M6 for the person injecting daily at M0: answered, it is kept.
    saved = save_questionnaire(factory.session, actor=worker, code=often.code,
                               timepoint=Timepoint("M6"), on=factory.today,
                               answers=questionnaire_answers(visit, Timepoint("M6"),
                                                             fewer_injections="1"))
    assert saved.record.answers["fewer_injections"] == "1"
    # Hidden for the other: an answer there is refused as not applying.
    with pytest.raises(ValidationFailed) as caught:
        save_questionnaire(factory.session, actor=worker, code=rarely.code,
                           timepoint=Timepoint("M6"), on=factory.today,
                           answers=questionnaire_answers(visit, Timepoint("M6"),
                                                         fewer_injections="1"))
    assert [p.code for p in caught.value.problems] == ["hidden_has_value"]
    # The import path reads the same other visits.
    with pytest.raises(BulkRefused) as refused:
        save_questionnaires(factory.session, actor=worker, on=factory.today, rows=[
            QuestionnaireRow(rarely.code, Timepoint("M6"), questionnaire_answers(
                visit, Timepoint("M6"), fewer_injections="0"))])
    (error,) = refused.value.errors
    assert [p.code for p in error.error.problems] == ["hidden_has_value"]  # type: ignore[attr-defined]
