"""De-identification is applied by the read services, so every caller (API, pages, command
line, exports) gets it: statisticians never receive free text; others get the stored record."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from cohort.models import AerliSession, Questionnaire
from cohort.services import queries
from cohort.services.deid import withheld_fields
from cohort.vocab import Role, Timepoint
from tests.factories import Factory

NOTE = "Met Jeanne at the car park behind 12 rue X"


@pytest.fixture
def recorded(factory: Factory) -> tuple[str, Factory]:
    worker = factory.worker()
    person = factory.participant(worker)
    factory.questionnaire(worker, person, questionnaire_note=NOTE)
    factory.aerli_session(worker, person, note=NOTE)
    return person.code, factory


def test_statistician_gets_no_free_text_answers(recorded: tuple[str, Factory]) -> None:
    code, factory = recorded
    stat = factory.actor(factory.staff(role=Role.STATISTICIAN, national=True))
    listed = queries.list_questionnaires(factory.session, actor=stat, code=code)
    one = queries.get_questionnaire(factory.session, actor=stat, code=code,
                                    timepoint=Timepoint("M0"))
    for q in (*listed, one):
        assert "questionnaire_note" not in q.answers
        assert not set(q.answers) & withheld_fields()
        assert q.answers["share_syringe"] == "0" and q.version >= 1
    sessions = queries.list_sessions(factory.session, actor=stat, code=code)
    assert sessions and all(s.record.note is None for s in sessions)


def test_others_get_the_stored_record_untouched(recorded: tuple[str, Factory],
                                                session: Session) -> None:
    code, factory = recorded
    officer = factory.actor(factory.staff(role=Role.RESEARCH_OFFICER, national=True))
    stat = factory.actor(factory.staff(role=Role.STATISTICIAN, national=True))
    queries.list_questionnaires(factory.session, actor=stat, code=code)
    queries.list_sessions(factory.session, actor=stat, code=code)
    [q] = queries.list_questionnaires(factory.session, actor=officer, code=code)
    assert q.answers["questionnaire_note"] == NOTE
    found = queries.get_questionnaire(factory.session, actor=officer, code=code,
                                      timepoint=Timepoint("M0"))
    assert found.answers["questionnaire_note"] == NOTE
    [s] = queries.list_sessions(factory.session, actor=officer, code=code)
    assert s.record.note == NOTE
    session.expire_all()
    stored = session.get(Questionnaire, q.id)
    assert stored is not None and stored.answers["questionnaire_note"] == NOTE
    stored_session = session.get(AerliSession, s.record.id)
    assert stored_session is not None and stored_session.note == NOTE
