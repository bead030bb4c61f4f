"""deviation message id and parameters

Deviations kept their reason as English words only. ``message_id`` (an id of the message
catalogue, ``cohort.messages``) and ``message_params`` (its parameters, with the
participant's code as ``participant``) let a page show the reason in the reader's
language. Existing rows are filled in by reading their words back: each soft or
time-based rule's English sentence, as written before this revision, is matched and its
values taken as parameters; words that match none (edited by hand, or from an older
wording) are kept whole as the parameter of the ``legacy.text`` message, so nothing is
lost. ``message`` itself is left as it was.

The sentences are copied here, not imported: a migration must keep reading the words of
its time whatever the catalogue says later.

Revision ID: 0013
Revises: 0015
Create Date: 2026-12-01 17:10:00.000000
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = '0013'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
LEGACY = "legacy.text"
_DATE = r"\d{4}-\d{2}-\d{2}"

#: rule id -> (regular expression of its English reason before 0013, message id or None to
#: take it from the ``variant`` group as ``<rule id>.<variant>``).
OLD_REASONS: dict[str, tuple[str, str | None]] = {
    "session.comparison_group": (
        r"Session delivered to a comparison-group participant: recorded as a service, "
        r"off-protocol, not counted for the study\.", "session.comparison_group"),
    "session.trained_staff": (
        r"Only (?P<trained>\d+) AERLI-trained worker\(s\) present; the protocol asks "
        r"for (?P<required>\d+)\.", "session.trained_staff"),
    "session.not_in_person": (
        r"Session held (?P<variant>online|phone): AERLI needs the injection observed in "
        r"person, so it does not count for the protocol\.", None),
    "session.high_risk_site": (
        r"Injection observed in the (?P<variant>neck|groin), a high-risk site the protocol "
        r"excludes; please discuss safer sites\.", None),
    "session.after_follow_up": (
        rf"Session on (?P<session_date>{_DATE}) is after the end of follow-up "
        rf"\((?P<end>{_DATE})\)\.", "session.after_follow_up"),
    "visit.out_of_window": (
        rf"(?P<timepoint>M\d+) visit on (?P<visit_date>{_DATE}) is outside its window "
        rf"\((?P<opens>{_DATE}) to (?P<closes>{_DATE}); (?P<offset>[+-]\d+) days from "
        r"target\)\.", "visit.out_of_window"),
    "time.no_session_6m": (
        rf"No valid AERLI session within six months of inclusion "
        rf"\(deadline (?P<deadline>{_DATE})\)\.", "time.no_session_6m"),
    "time.visit_overdue": (
        rf"(?P<timepoint>M\d+) questionnaire overdue: its window closed on "
        rf"(?P<closes>{_DATE})\.", "time.visit_overdue"),
}
_NUMBERS = frozenset({"trained", "required", "offset"})
_CODE = re.compile(r"(?P<participant>[^:\s]+): (?P<reason>.*)", re.S)


def read_back(rule_id: str, message: str) -> tuple[str, dict[str, Any]]:
    """(message id, parameters) of a deviation's English words as stored before 0013."""
    whole = _CODE.fullmatch(message)
    if whole is not None and rule_id in OLD_REASONS:
        pattern, message_id = OLD_REASONS[rule_id]
        found = re.fullmatch(pattern, whole["reason"], re.S)
        if found is not None:
            params: dict[str, Any] = {"participant": whole["participant"]}
            for name, value in found.groupdict().items():
                if name != "variant":
                    params[name] = int(value) if name in _NUMBERS else value
            return message_id or f"{rule_id}.{found['variant']}", params
    return LEGACY, {"text": message}


def upgrade() -> None:
    with op.batch_alter_table('deviation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.String(length=80), nullable=False,
                                      server_default=LEGACY))
        batch_op.add_column(sa.Column('message_params', JSONType, nullable=True))
    deviation = sa.table('deviation', sa.column('id', sa.Integer),
                         sa.column('rule_id', sa.String), sa.column('message', sa.String),
                         sa.column('message_id', sa.String),
                         sa.column('message_params', JSONType))
    connection = op.get_bind()
    rows = connection.execute(sa.select(deviation.c.id, deviation.c.rule_id,
                                        deviation.c.message)).all()
    update = (deviation.update().where(deviation.c.id == sa.bindparam('row_id'))
              .values(message_id=sa.bindparam('new_id'),
                      message_params=sa.bindparam('new_params', type_=JSONType)))
    batch: list[dict[str, Any]] = []
    for row_id, rule_id, message in rows:
        message_id, params = read_back(rule_id, message or "")
        batch.append({"row_id": row_id, "new_id": message_id, "new_params": params})
        if len(batch) >= 1000:
            connection.execute(update, batch)
            batch = []
    if batch:
        connection.execute(update, batch)
    with op.batch_alter_table('deviation', schema=None) as batch_op:
        batch_op.alter_column('message_id', server_default=None)
        batch_op.alter_column('message_params', existing_type=JSONType, nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('deviation', schema=None) as batch_op:
        batch_op.drop_column('message_params')
        batch_op.drop_column('message_id')
