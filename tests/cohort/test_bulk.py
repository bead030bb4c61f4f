"""Bulk questionnaire writes (imports): the same rules as one by one, all or nothing.

Rules: visit.duplicate, date.in_future, visit.out_of_window, scope.other_centre.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from cohort.errors import DateInFuture, DuplicateTimepoint, NotFound, ValidationFailed
from cohort.models import AuditEntry, Deviation, Questionnaire
from cohort.services.bulk import BulkRefused, QuestionnaireRow, save_questionnaires
from cohort.vocab import Timepoint
from tests.cohort.helpers import row_counts
from tests.factories import Factory, questionnaire_answers


def _row(person: object, timepoint: Timepoint = Timepoint("M0"), days: int = 0,
         ref: str = "", **answers: object) -> QuestionnaireRow:
    inclusion = person.inclusion_date  # type: ignore[attr-defined]
    return QuestionnaireRow(
        code=person.code,  # type: ignore[attr-defined]
        timepoint=timepoint,
        answers=questionnaire_answers(inclusion + timedelta(days=days), timepoint, **answers),
        ref=ref,
    )


def test_rows_are_saved_like_single_writes_with_audit_and_deviations(
        factory: Factory) -> None:
    worker = factory.worker()
    people = [factory.participant(worker) for _ in range(3)]
    single = factory.questionnaire(worker, people[0], Timepoint("M6"),
                                   visit_date=people[0].inclusion_date + timedelta(days=250))
    rows = [_row(people[1], Timepoint("M0")), _row(people[1], Timepoint("M6"), 250),
            _row(people[2], Timepoint("M0"))]
    result = save_questionnaires(factory.session, actor=worker, rows=rows, on=factory.today)

    assert [s.record.timepoint for s in result.saved] == [Timepoint("M0"), Timepoint("M6"),
                                                           Timepoint("M0")]
    assert [d.rule_id for d in result.deviations] == ["visit.out_of_window"]
    late = result.saved[1].record
    for name in ("in_window", "completeness", "answers", "visit_date", "staff_id"):
        assert getattr(late, name) == getattr(single.record, name), name
    assert result.deviations[0].message.replace(people[1].code, "X") == \
        single.deviations[0].message.replace(people[0].code, "X")
    ids = [s.record.id for s in result.saved]
    audited = factory.session.exec(select(AuditEntry.record_id).where(
        AuditEntry.table_name == "questionnaire", AuditEntry.action == "create")).all()
    assert set(ids) <= set(audited)
    stored = factory.session.exec(select(Deviation).where(
        Deviation.record_id == late.id, Deviation.entity == "questionnaire")).one()
    assert stored.rule_id == "visit.out_of_window"


def test_every_refused_row_is_reported_and_nothing_is_written(factory: Factory) -> None:
    c1, c2 = factory.centre("C01"), factory.centre("C02")
    worker, elsewhere = factory.worker(c1), factory.worker(c2)
    mine = factory.participant(worker)
    theirs = factory.participant(elsewhere)
    factory.questionnaire(worker, mine)
    fresh = factory.participant(worker)
    before = row_counts(factory.session)
    rows = [
        _row(fresh, ref="A2"),                                    # fine on its own
        _row(fresh, ref="A3"),                                    # same timepoint twice
        _row(mine, Timepoint("M6"), 182, ref="A4", inj_freq="9"),  # not a choice
        _row(theirs, ref="A5"),                                   # another centre
        QuestionnaireRow("C01-9999-X", Timepoint("M0"), {}, "A6"),   # unknown code
        _row(fresh, Timepoint("M6"), days=5000, ref="A7"),          # in the future
    ]
    with pytest.raises(BulkRefused) as refused:
        save_questionnaires(factory.session, actor=worker, rows=rows, on=factory.today)
    errors = {e.row.ref: type(e.error) for e in refused.value.errors}
    assert errors == {"A3": DuplicateTimepoint, "A4": ValidationFailed, "A5": NotFound,
                      "A6": NotFound, "A7": DateInFuture}
    assert str(refused.value) == "5 rows refused; nothing was saved."
    assert row_counts(factory.session) == before


def test_the_same_rows_twice_write_nothing_new_but_a_changed_row_is_a_duplicate(
        factory: Factory) -> None:
    worker = factory.worker()
    people = [factory.participant(worker) for _ in range(2)]
    rows = [_row(p) for p in people]
    first = save_questionnaires(factory.session, actor=worker, rows=rows, on=factory.today)
    assert len(first.saved) == 2
    before = row_counts(factory.session)
    again = save_questionnaires(factory.session, actor=worker, rows=rows, on=factory.today)
    assert (len(again.saved), len(again.unchanged)) == (0, 2)
    assert row_counts(factory.session) == before

    changed = [rows[0], _row(people[1], inj_freq="1")]
    with pytest.raises(BulkRefused) as refused:
        save_questionnaires(factory.session, actor=worker, rows=changed, on=factory.today)
    assert [type(e.error) for e in refused.value.errors] == [DuplicateTimepoint]
    assert refused.value.errors[0].error.rule_id == "visit.duplicate"  # type: ignore[attr-defined]
    assert row_counts(factory.session) == before
    stored = factory.session.exec(select(Questionnaire).where(
        Questionnaire.participant_id == people[1].id)).one()
    assert stored.answers["inj_freq"] == "3"
