"""Staff set-up: every path that adds or changes staff enforces the same checks.

An outreach worker belongs to a centre; only research officers are limited to a list of
centres; an AERLI training date is not in the future. Changes are audited and committed
once; a refused part leaves the rest undone.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session, col, select

from cohort.errors import ActionNotAllowed, CohortError, NotFound, ValidationFailed
from cohort.models import Account, ApiToken, AuditEntry, Centre, Staff, StaffCreate
from cohort.services import account_admin, accounts, setup
from cohort.services.context import COMMAND_LINE, actor_for
from cohort.vocab import Role
from tests.cohort.helpers import row_counts
from tests.conftest import TODAY
from tests.factories import Factory


@pytest.fixture
def commits(session: Session) -> Iterator[list[int]]:
    """How many times the session committed."""
    seen: list[int] = []

    def count(_: Session) -> None:
        seen.append(1)

    event.listen(session, "after_commit", count)
    yield seen
    event.remove(session, "after_commit", count)


def staff_audit(session: Session, staff_id: int) -> dict[str, tuple[str | None, str | None]]:
    rows = session.exec(select(AuditEntry).where(
        AuditEntry.table_name == "staff", AuditEntry.record_id == staff_id,
        AuditEntry.action == "update").order_by(col(AuditEntry.id))).all()
    return {r.field or "": (r.old_value, r.new_value) for r in rows}


def field_of(error: ValidationFailed) -> str:
    assert len(error.problems) == 1
    return error.problems[0].field


# ----------------------------------------------------------------- create_staff checks
def test_outreach_worker_without_centre_is_refused_naming_the_field(factory: Factory) -> None:
    before = row_counts(factory.session)
    with pytest.raises(ValidationFailed) as refused:
        setup.create_staff(factory.session, actor=COMMAND_LINE, data=StaffCreate(
            display_name="New worker", role=Role.OUTREACH_WORKER))
    assert field_of(refused.value) == "centre_id"
    assert "belong to a centre" in refused.value.message
    assert "--" not in refused.value.message
    assert row_counts(factory.session) == before


@pytest.mark.parametrize("role", [Role.OUTREACH_WORKER, Role.STATISTICIAN, Role.ADMIN])
def test_only_research_officers_are_limited_to_centres(factory: Factory, role: Role) -> None:
    home, other = factory.centre("C01"), factory.centre("C02")
    before = row_counts(factory.session)
    with pytest.raises(ValidationFailed) as refused:
        setup.create_staff(factory.session, actor=COMMAND_LINE, data=StaffCreate(
            display_name="Someone", role=role,
            centre_id=home.id if role is Role.OUTREACH_WORKER else None),
            extra_centre_ids=[other.id or 0])
    assert field_of(refused.value) == "extra_centre_codes"
    assert "Only research officers" in refused.value.message
    assert row_counts(factory.session) == before


def test_research_officer_limited_to_centres_is_audited(factory: Factory) -> None:
    a, b = factory.centre("C01"), factory.centre("C02")
    officer = setup.create_staff(factory.session, actor=COMMAND_LINE, data=StaffCreate(
        display_name="Regional officer", role=Role.RESEARCH_OFFICER),
        extra_centre_ids=[a.id or 0, b.id or 0, a.id or 0])
    assert actor_for(factory.session, officer).centre_ids == {a.id, b.id}
    assert staff_audit(factory.session, officer.id or 0)["centre_access"] == (None, "C01, C02")


def test_create_staff_account_wording_speaks_to_every_interface(factory: Factory) -> None:
    with pytest.raises(ValidationFailed) as refused:
        accounts.create_staff_account(factory.session, actor=COMMAND_LINE, username="new.worker",
                                      password="long enough password",
                                      role=Role.OUTREACH_WORKER)
    assert "--centre" not in refused.value.message and "centre_id" == field_of(refused.value)


def test_centre_codes_are_looked_up_by_one_helper(factory: Factory,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """``centre_ids_for`` and ``create_staff_account`` both go through ``centre_by_code``:
    the same normalising (`` c02 `` is C02) and the same message for an unknown code."""
    a, b = factory.centre("C01"), factory.centre("C02")
    asked: list[str] = []
    lookup = setup.centre_by_code

    def spy(session: Session, code: str) -> Centre:
        asked.append(code)
        return lookup(session, code)

    monkeypatch.setattr(setup, "centre_by_code", spy)
    monkeypatch.setattr(account_admin, "centre_by_code", spy)
    assert setup.centre_ids_for(factory.session, actor=COMMAND_LINE, codes=[" c02 ", "C01"]) == \
        [b.id, a.id]
    account = accounts.create_staff_account(
        factory.session, actor=COMMAND_LINE, username="regional.officer",
        password="long enough password", role=Role.RESEARCH_OFFICER, centre_code="c01",
        limit_to=["C02"])
    assert asked == [" c02 ", "C01", "c01", "C02"]
    staff = factory.session.get(Staff, account.staff_id)
    assert staff is not None and actor_for(factory.session, staff).centre_ids == {a.id, b.id}
    for refused in (lambda: setup.centre_ids_for(factory.session, actor=COMMAND_LINE,
                                              codes=["C77"]),
                    lambda: accounts.create_staff_account(
                        factory.session, actor=COMMAND_LINE, username="someone.else",
                        password="long enough password", role=Role.RESEARCH_OFFICER,
                        limit_to=["C77"])):
        with pytest.raises(NotFound, match="No centre with code C77"):
            refused()


def test_training_date_in_the_future_refused_at_creation(factory: Factory) -> None:
    with pytest.raises(ValidationFailed) as refused:
        setup.create_staff(factory.session, actor=COMMAND_LINE, on=TODAY, data=StaffCreate(
            display_name="Trained soon", role=Role.OUTREACH_WORKER,
            centre_id=factory.centre("C01").id, aerli_trained_on=TODAY + timedelta(days=1)))
    assert field_of(refused.value) == "aerli_trained_on"


# ----------------------------------------------------------------- update_staff
def test_training_recorded_and_cleared_with_audit_in_one_commit(
        factory: Factory, commits: list[int]) -> None:
    worker = factory.staff(trained=False)
    admin = factory.actor(factory.staff(role=Role.ADMIN, national=True))
    commits.clear()
    trained = setup.set_training(factory.session, actor=admin, staff_id=worker.id or 0,
                                 trained_on=date(2026, 1, 15), on=TODAY)
    assert trained.aerli_trained_on == date(2026, 1, 15)
    assert len(commits) == 1
    entry = factory.session.exec(select(AuditEntry).where(
        AuditEntry.table_name == "staff", AuditEntry.record_id == worker.id,
        AuditEntry.field == "aerli_trained_on")).one()
    assert (entry.actor_id, entry.old_value, entry.new_value) == (admin.staff_id, None,
                                                                 "2026-01-15")
    setup.update_staff(factory.session, actor=admin, staff_id=worker.id or 0, on=TODAY,
                       trained_on=None)
    factory.session.refresh(worker)
    assert worker.aerli_trained_on is None
    assert staff_audit(factory.session, worker.id or 0)["aerli_trained_on"] == ("2026-01-15",
                                                                                None)


def test_training_date_in_the_future_is_refused_with_a_clear_message(factory: Factory) -> None:
    worker = factory.staff(trained=False)
    before = row_counts(factory.session)
    with pytest.raises(ValidationFailed) as refused:
        setup.set_training(factory.session, actor=COMMAND_LINE, staff_id=worker.id or 0,
                           trained_on=TODAY + timedelta(days=30), on=TODAY)
    assert field_of(refused.value) == "aerli_trained_on"
    assert refused.value.problems[0].code == "date_in_future"
    assert "in the future" in refused.value.message and TODAY.isoformat() in refused.value.message
    assert row_counts(factory.session) == before


def test_unknown_staff_and_other_roles_are_refused(factory: Factory) -> None:
    with pytest.raises(NotFound, match="No staff member with id 999999"):
        setup.update_staff(factory.session, actor=COMMAND_LINE, staff_id=999_999, on=TODAY,
                           trained_on=TODAY)
    worker = factory.staff()
    for role in (Role.OUTREACH_WORKER, Role.RESEARCH_OFFICER, Role.STATISTICIAN):
        someone = factory.actor(factory.staff(role=role, national=role is not
                                              Role.OUTREACH_WORKER))
        with pytest.raises(ActionNotAllowed) as refused:
            setup.update_staff(factory.session, actor=someone, staff_id=worker.id or 0,
                               on=TODAY, trained_on=None)
        assert refused.value.rule_id == "scope.role"


def test_centre_limits_replaced_for_research_officers_only(factory: Factory) -> None:
    a, b = factory.centre("C01"), factory.centre("C02")
    officer = factory.staff(role=Role.RESEARCH_OFFICER, national=True)
    setup.update_staff(factory.session, actor=COMMAND_LINE, staff_id=officer.id or 0, on=TODAY,
                       extra_centre_ids=[b.id or 0])
    assert actor_for(factory.session, officer).centre_ids == {b.id}
    setup.update_staff(factory.session, actor=COMMAND_LINE, staff_id=officer.id or 0, on=TODAY,
                       extra_centre_ids=[a.id or 0, b.id or 0])
    assert actor_for(factory.session, officer).centre_ids == {a.id, b.id}
    assert staff_audit(factory.session, officer.id or 0)["centre_access"] == ("C02", "C01, C02")
    setup.update_staff(factory.session, actor=COMMAND_LINE, staff_id=officer.id or 0, on=TODAY,
                       extra_centre_ids=[])
    assert actor_for(factory.session, officer).centre_ids is None  # national again
    worker = factory.staff(centre=a)
    with pytest.raises(ValidationFailed) as refused:
        setup.update_staff(factory.session, actor=COMMAND_LINE, staff_id=worker.id or 0, on=TODAY,
                           extra_centre_ids=[b.id or 0])
    assert field_of(refused.value) == "extra_centre_codes"


def test_a_refused_part_leaves_the_other_undone(factory: Factory) -> None:
    admin_staff = factory.staff(role=Role.ADMIN, national=True, trained=False)
    admin = factory.actor(admin_staff)
    before = row_counts(factory.session)
    with pytest.raises(CohortError, match="another data manager"):
        setup.update_staff(factory.session, actor=admin, staff_id=admin_staff.id or 0,
                           on=TODAY, trained_on=date(2025, 1, 1), active=False)
    factory.session.rollback()
    factory.session.refresh(admin_staff)
    assert admin_staff.aerli_trained_on is None and admin_staff.active
    assert row_counts(factory.session) == before


def test_marking_staff_inactive_ends_their_sign_ins(factory: Factory) -> None:
    worker = factory.staff()
    account = accounts.create_account(factory.session, actor=COMMAND_LINE, staff_id=worker.id or 0,
                                      username="leaving", password="long enough password")
    token = accounts.issue_token(factory.session, account=account)
    epoch = account.session_epoch
    setup.update_staff(factory.session, actor=COMMAND_LINE, staff_id=worker.id or 0, on=TODAY,
                       active=False)
    setup.update_staff(factory.session, actor=COMMAND_LINE, staff_id=worker.id or 0, on=TODAY,
                       active=True)
    assert accounts.account_for_token(factory.session, token) is None
    refreshed = factory.session.get(Account, account.id)
    assert refreshed is not None and refreshed.session_epoch == epoch + 1
    assert factory.session.exec(select(ApiToken).where(
        ApiToken.account_id == account.id)).one().revoked
    changes = factory.session.exec(select(AuditEntry.old_value, AuditEntry.new_value).where(
        AuditEntry.table_name == "staff", AuditEntry.record_id == worker.id,
        AuditEntry.field == "active").order_by(col(AuditEntry.id))).all()
    assert [tuple(c) for c in changes] == [("True", "False"), ("False", "True")]
