"""Reads the web layer used to do itself, now services scoped by the actor: participant
codes for the deviations queue, one centre's retention, an account with its staff member,
and the report workbook's role check (rule scope.role)."""

from __future__ import annotations

import pytest

from cohort import rules
from cohort.errors import ActionNotAllowed, NotFound
from cohort.excel.report import may_report, report_workbook
from cohort.messages import msg
from cohort.services import accounts, queries
from cohort.services.context import COMMAND_LINE
from cohort.vocab import Role
from tests.factories import Factory


def test_participant_codes_only_of_visible_centres(factory: Factory) -> None:
    worker_a, worker_b = factory.worker(factory.centre("C01")), factory.worker(
        factory.centre("C02"))
    pa, pb = factory.participant(worker_a), factory.participant(worker_b)
    ids = [pa.id, pb.id, None]
    assert queries.participant_codes(factory.session, actor=worker_a, ids=ids) == {
        pa.id: pa.code}
    officer = factory.actor(factory.staff(role=Role.RESEARCH_OFFICER, national=True))
    assert queries.participant_codes(factory.session, actor=officer, ids=ids) == {
        pa.id: pa.code, pb.id: pb.code}
    assert queries.participant_codes(factory.session, actor=officer, ids=[]) == {}


def test_centre_retention_reads_another_centre_as_unknown(factory: Factory) -> None:
    worker_a = factory.worker(factory.centre("C01"))
    factory.centre("C02")
    factory.participant(worker_a)
    centre, row = queries.centre_retention(factory.session, actor=worker_a, code="c01",
                                           as_of=factory.today)
    assert centre.code == "C01" and row.centre_id == centre.id and row.enrolled == 1
    with pytest.raises(NotFound, match="No centre with code C02"):
        queries.centre_retention(factory.session, actor=worker_a, code="C02",
                                 as_of=factory.today)


def test_account_with_staff_for_admins_only(factory: Factory) -> None:
    staff = factory.staff()
    account = accounts.create_account(factory.session, actor=COMMAND_LINE, staff_id=staff.id or 0,
                                      username="someone", password="long enough password")
    found, found_staff = accounts.account_with_staff(factory.session, actor=COMMAND_LINE,
                                                     account_id=account.id or 0)
    assert found.id == account.id and found_staff.id == staff.id
    with pytest.raises(NotFound):
        accounts.account_with_staff(factory.session, actor=COMMAND_LINE, account_id=999_999)
    with pytest.raises(ActionNotAllowed):
        accounts.account_with_staff(factory.session, actor=factory.worker(),
                                    account_id=account.id or 0)


@pytest.mark.parametrize("role", [Role.OUTREACH_WORKER, Role.STATISTICIAN])
def test_report_workbook_refused_to_other_roles(factory: Factory, role: Role) -> None:
    someone = factory.actor(factory.staff(role=role, national=role is Role.STATISTICIAN))
    with pytest.raises(ActionNotAllowed) as refused:
        report_workbook(factory.session, actor=someone, as_of=factory.today)
    assert refused.value.rule_id == "scope.role"
    assert "research officers" in refused.value.message
    # The refusal of reviewing deviations, from the one role table (action "review").
    assert refused.value.message_data == msg("scope.role.review")
    assert not may_report(someone)


@pytest.mark.parametrize("role", list(Role))
def test_the_report_is_offered_to_the_people_who_review(factory: Factory, role: Role) -> None:
    someone = factory.actor(factory.staff(role=role, national=role is not Role.OUTREACH_WORKER))
    assert may_report(someone) is rules.may(role, "review")


@pytest.mark.parametrize("role", [Role.RESEARCH_OFFICER, Role.ADMIN])
def test_report_workbook_for_officers_and_data_managers(factory: Factory, role: Role) -> None:
    factory.centre("C01")
    someone = factory.actor(factory.staff(role=role, national=True))
    data = report_workbook(factory.session, actor=someone, as_of=factory.today)
    assert data[:2] == b"PK"
