"""Locking the study at its end: every write refused, reads still work, history kept.

Rules: study.locked, scope.role (only the data manager locks).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from cohort import rules
from cohort.demo import build_demo
from cohort.errors import ActionNotAllowed, CohortError, StudyLocked
from cohort.models import Deviation, StudyLock
from cohort.rules import LockFacts
from cohort.services import queries
from cohort.services.bulk import BulkRefused, QuestionnaireRow, save_questionnaires
from cohort.services.checks import run_checks
from cohort.services.context import Actor
from cohort.services.deviations import review
from cohort.services.enrolment import ScreeningCreate, log_screening
from cohort.services.locks import lock, lock_history, retention_report, unlock
from cohort.services.lockstate import read_lock_state
from cohort.services.participants import change_group, change_status
from cohort.services.questionnaires import update_questionnaire
from cohort.vocab import DeviationStatus, Group, Modality, Role, ScreeningOutcome, Status, Timepoint
from tests.cohort.helpers import row_counts
from tests.factories import Factory, questionnaire_answers


def test_rule_refuses_a_locked_study_or_centre_and_nothing_else() -> None:
    rules.enforce("lock", LockFacts(3, False, frozenset({4})))
    rules.enforce("lock", LockFacts(None, False, frozenset({4})))
    with pytest.raises(StudyLocked) as centre:
        rules.enforce("lock", LockFacts(4, False, frozenset({4})))
    assert centre.value.rule_id == "study.locked"
    assert "centre" in centre.value.message
    with pytest.raises(StudyLocked):
        rules.enforce("lock", LockFacts(None, True, frozenset()))


def _manager(factory: Factory) -> Actor:
    return factory.actor(factory.staff(role=Role.ADMIN, national=True))


def _writes(factory: Factory, worker: Actor) -> dict[str, Callable[[], object]]:
    """One call of every write service a person can make, for a participant of C01."""
    person = factory.participant(worker)
    m0 = factory.questionnaire(worker, person).record
    officer = factory.actor(factory.staff(role=Role.RESEARCH_OFFICER, national=True))
    flagged = factory.aerli_session(worker, person,
                                    staff=[factory.staff(trained=False)]).deviations[0]
    s, today = factory.session, factory.today
    centre = factory.centre("C01")
    pair = [factory.staff(), factory.staff()]

    return {
        "enrol": lambda: factory.participant(worker),
        "questionnaire": lambda: factory.questionnaire(worker, person, Timepoint("M6")),
        "update": lambda: update_questionnaire(
            s, actor=worker, code=person.code, timepoint=Timepoint("M0"),
            answers=questionnaire_answers(person.inclusion_date, share_syringe="1"),
            expected_version=m0.version, on=today),
        "session": lambda: factory.aerli_session(worker, person, staff=pair),
        "status": lambda: change_status(s, actor=worker, code=person.code,
                                        status=Status.WITHDRAWN, effective_date=today, on=today),
        "group": lambda: change_group(s, actor=worker, code=person.code, group=Group.COMPARISON),
        "screening": lambda: log_screening(s, actor=worker, data=ScreeningCreate(
            screened_on=today, centre_code=centre.code, outcome=ScreeningOutcome.DECLINED,
            reached_via=Modality.IN_PERSON)),
        "review": lambda: review(s, actor=officer, deviation_id=flagged.id or 0,
                                 status=DeviationStatus.ACKNOWLEDGED),
    }


@pytest.mark.parametrize("scope", ["study", "centre"])
def test_every_write_is_refused_and_nothing_written_while_reads_still_work(
        factory: Factory, scope: str) -> None:
    worker = factory.worker(factory.centre("C01"))
    writes = _writes(factory, worker)
    person = factory.participant(worker)
    lock(factory.session, actor=_manager(factory), reason="end of follow-up",
         centre_code=None if scope == "study" else "C01")
    before = row_counts(factory.session)
    for name, write in writes.items():
        with pytest.raises(StudyLocked) as refused:
            write()
        assert refused.value.rule_id == "study.locked", name
        factory.session.rollback()
    bulk_row = QuestionnaireRow(code=person.code, timepoint=Timepoint("M0"),
                                answers=questionnaire_answers(person.inclusion_date))
    with pytest.raises(BulkRefused) as bulk:
        save_questionnaires(factory.session, actor=worker, rows=[bulk_row], on=factory.today)
    assert isinstance(bulk.value.errors[0].error, StudyLocked)
    assert row_counts(factory.session) == before
    # Reads are untouched.
    assert queries.list_questionnaires(factory.session, actor=worker, code=person.code) == []
    assert queries.list_sessions(factory.session, actor=worker, code=person.code) == []


def test_a_centre_lock_leaves_the_other_centres_open(factory: Factory) -> None:
    open_worker = factory.worker(factory.centre("C02"))
    factory.worker(factory.centre("C01"))
    lock(factory.session, actor=_manager(factory), reason="centre closed", centre_code="C01")
    assert factory.participant(open_worker).code.startswith("C02")


def test_unlock_with_a_reason_opens_writes_again_and_history_is_kept(factory: Factory) -> None:
    worker = factory.worker(factory.centre("C01"))
    manager = _manager(factory)
    lock(factory.session, actor=manager, reason="end of study")
    with pytest.raises(StudyLocked):
        factory.participant(worker)
    with pytest.raises(CohortError, match="already locked"):
        lock(factory.session, actor=manager, reason="again")
    with pytest.raises(CohortError, match="reason"):
        unlock(factory.session, actor=manager, reason="  ")
    unlock(factory.session, actor=manager, reason="late M12 questionnaires to enter")
    assert factory.participant(worker).code
    with pytest.raises(CohortError, match="not locked"):
        unlock(factory.session, actor=manager, reason="twice")
    history = lock_history(factory.session, actor=manager)
    assert [(h.action, h.scope) for h in history][-2:] == [("lock", "whole study"),
                                                           ("unlock", "whole study")]
    nested = factory.session.begin_nested()
    with pytest.raises(sa.exc.DBAPIError, match="(?i)append-only|never rewritten"):
        factory.session.execute(sa.text("DELETE FROM study_lock"))
    nested.rollback()


def test_a_save_reads_the_latest_lock_of_the_study_and_of_its_centre(factory: Factory) -> None:
    """A questionnaire's save reads the lock with its participant, in one statement
    (``lockstate.latest_of``): the latest entry of the study and of the participant's
    centre decide, as the whole history folded does."""
    worker = factory.worker(factory.centre("C01"))
    factory.worker(factory.centre("C02"))
    manager = _manager(factory)
    person = factory.participant(worker)
    lock(factory.session, actor=manager, reason="audit visit", centre_code="C01")
    unlock(factory.session, actor=manager, reason="audit done", centre_code="C01")
    lock(factory.session, actor=manager, reason="centre closed", centre_code="C02")
    lock(factory.session, actor=manager, reason="end of study")
    unlock(factory.session, actor=manager, reason="late questionnaires")
    statements: list[str] = []
    listen = sa.event.listens_for(factory.session.get_bind(), "before_cursor_execute")

    @listen
    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    try:
        assert factory.questionnaire(worker, person).record.id
    finally:
        sa.event.remove(factory.session.get_bind(), "before_cursor_execute", seen)
    assert not any("FROM study_lock ORDER BY" in s for s in statements)
    assert sum("study_lock" in s for s in statements) == 1
    folded = read_lock_state(factory.session)
    assert not folded.locked(person.centre_id) and folded.locked(
        factory.centre("C02").id)
    lock(factory.session, actor=manager, reason="centre closed", centre_code="C01")
    with pytest.raises(StudyLocked):
        factory.questionnaire(worker, person, Timepoint("M6"))


def test_only_the_data_manager_locks(factory: Factory) -> None:
    officer = factory.actor(factory.staff(role=Role.RESEARCH_OFFICER, national=True))
    with pytest.raises(ActionNotAllowed) as refused:
        lock(factory.session, actor=officer, reason="end")
    assert refused.value.rule_id == "scope.role"


def test_checks_skip_a_locked_centre_and_refuse_a_locked_study(factory: Factory) -> None:
    c1, c2 = factory.centre("C01"), factory.centre("C02")
    inclusion = factory.today - timedelta(days=240)
    for centre in (c1, c2):
        worker = factory.worker(centre)
        factory.questionnaire(worker, factory.participant(worker, inclusion_date=inclusion))
    manager = _manager(factory)
    lock(factory.session, actor=manager, reason="C01 closed", centre_code="C01")
    report = run_checks(factory.session, as_of=factory.today)
    assert {d.centre_id for d in report.raised} == {c2.id}
    lock(factory.session, actor=manager, reason="end of study")
    with pytest.raises(StudyLocked):
        run_checks(factory.session, as_of=factory.today)
    raised = factory.session.exec(select(Deviation).where(Deviation.centre_id == c1.id)).all()
    assert not [d for d in raised if d.severity == "time"]


def test_the_demo_refuses_a_locked_study_and_writes_nothing(factory: Factory) -> None:
    lock(factory.session, actor=_manager(factory), reason="end of study")
    before = row_counts(factory.session)
    with pytest.raises(StudyLocked):
        build_demo(factory.session, participants=5, as_of=factory.today)
    assert row_counts(factory.session) == before


def test_retention_lists_what_is_due_and_deletes_nothing(
        factory: Factory, monkeypatch: pytest.MonkeyPatch, settings_env: None) -> None:
    monkeypatch.setenv("COHORT_RETENTION_YEARS", "2")
    worker = factory.worker(factory.centre("C01"))
    factory.questionnaire(worker, factory.participant(worker))
    lock(factory.session, actor=_manager(factory), reason="C01 closed", centre_code="C01")
    locked_on = factory.session.exec(select(StudyLock.at)).all()[-1].date()
    before = row_counts(factory.session)
    not_yet = retention_report(factory.session, as_of=locked_on)
    item = next(i for i in not_yet.items if i.scope == "centre C01")
    assert item.locked_since == locked_on
    assert (item.due_on.year, item.due_on.month) == (locked_on.year + 2, locked_on.month)
    assert not item.due and item.records["participants"] == 1
    later = retention_report(factory.session, as_of=item.due_on)
    assert [i.scope for i in later.due] == ["centre C01"]
    assert later.due[0].records["questionnaires"] == 1
    assert row_counts(factory.session) == before
