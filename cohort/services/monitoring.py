"""Read models for research officers and outreach workers: retention and worklists.

Retention per centre is computed with grouped SQL (one query per measure, whatever the
cohort size), because the dashboard is opened many times a day on 20 centres. Visit
windows depend only on the inclusion date, so "due" and "overdue" become ranges of
inclusion dates computed here and compared in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import and_, case, distinct, func
from sqlmodel import Session, col, select

from cohort.models import AerliSession, Centre, Deviation, Participant, Questionnaire
from cohort.rules import ProtocolConfig
from cohort.services.context import Actor, protocol_config
from cohort.vocab import DeviationStatus, Group, Status, Timepoint

FOLLOWING = (Status.ACTIVE, Status.RETURNED, Status.LOST_TO_FOLLOW_UP)


@dataclass
class CentreStatus:
    centre_id: int
    centre_code: str
    centre_name: str
    city: str
    enrolled: int = 0
    intervention: int = 0
    comparison: int = 0
    m0_done: int = 0
    m6_done: int = 0
    m6_in_window: int = 0
    m12_done: int = 0
    m12_in_window: int = 0
    m6_due: int = 0
    m6_overdue: int = 0
    m12_due: int = 0
    m12_overdue: int = 0
    sessions: int = 0
    with_valid_session: int = 0
    open_deviations: int = 0
    withdrawn: int = 0
    deceased: int = 0
    lost_to_follow_up: int = 0
    # Retention by attendance (the analysis report's definition): of the participants
    # whose window has closed, or who came anyway, the % with the questionnaire done
    # inside the window and done at all. Beside it, retention by status: the % not
    # currently recorded as lost to follow-up.
    m6_eligible: int = 0
    m12_eligible: int = 0
    m6_attended_in_window_pct: float | None = None
    m6_attended_pct: float | None = None
    m12_attended_in_window_pct: float | None = None
    m12_attended_pct: float | None = None
    retained_by_status_pct: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def finish(self) -> None:
        """Fill the percentages from the counts (None when there is no denominator)."""
        def pct(n: int, d: int) -> float | None:
            return round(100 * n / d, 1) if d else None

        self.m6_attended_in_window_pct = pct(self.m6_in_window, self.m6_eligible)
        self.m6_attended_pct = pct(self.m6_done, self.m6_eligible)
        self.m12_attended_in_window_pct = pct(self.m12_in_window, self.m12_eligible)
        self.m12_attended_pct = pct(self.m12_done, self.m12_eligible)
        self.retained_by_status_pct = pct(self.enrolled - self.lost_to_follow_up,
                                          self.enrolled)


@dataclass
class WorklistItem:
    participant_id: int
    code: str
    centre_code: str
    group: Group
    status: Status
    timepoint: Timepoint
    opens: date
    target: date
    closes: date
    state: str  # upcoming | due | overdue


@dataclass
class ParticipantRow:
    code: str
    centre_code: str
    group: Group
    status: Status
    inclusion_date: date
    done: list[str] = field(default_factory=list)
    next_timepoint: str | None = None
    next_opens: date | None = None
    next_closes: date | None = None
    window_state: str = "complete"  # upcoming | due | overdue | complete | not_followed
    sessions: int = 0
    valid_sessions: int = 0
    open_deviations: int = 0


def _inclusion_cutoffs(config: ProtocolConfig, tp: Timepoint, as_of: date) -> tuple[date, date]:
    """Inclusion dates for which ``tp``'s window opened (<= first) / closed (< second)."""
    target = config.target_day(tp)
    opened_if_included_by = as_of - timedelta(days=target - config.window_days)
    closed_if_included_before = as_of - timedelta(days=target + config.window_days)
    return opened_if_included_by, closed_if_included_before


def _table(model: Any) -> Any:
    return model.__table__


def _columns(model: Any) -> Any:
    """The table's columns, for grouped SQL that the ORM layer types poorly."""
    return model.__table__.c


def _scoped(statement: Any, actor: Actor, centre_column: Any) -> Any:
    if actor.centre_ids is not None:
        return statement.where(centre_column.in_(actor.centre_ids))
    return statement


def centre_status(session: Session, *, actor: Actor, as_of: date) -> list[CentreStatus]:
    """Enrolment, completion, windows, sessions and open deviations per visible centre."""
    config = protocol_config()
    centres = session.exec(_scoped(select(Centre), actor, col(Centre.id)).order_by(Centre.code))
    rows = {c.id: CentreStatus(c.id, c.code, c.name, c.city) for c in centres if c.id}
    if not rows:
        return []
    p = _columns(Participant)
    counts = session.exec(
        _scoped(
            sa.select(
                p.centre_id,
                func.count(),
                func.sum(case((p.group == Group.INTERVENTION, 1), else_=0)),
                func.sum(case((p.status == Status.WITHDRAWN, 1), else_=0)),
                func.sum(case((p.status == Status.DECEASED, 1), else_=0)),
                func.sum(case((p.status == Status.LOST_TO_FOLLOW_UP, 1), else_=0)),
            ).group_by(p.centre_id),
            actor,
            p.centre_id,
        )
    ).all()
    for centre_id, n, n_int, n_wd, n_dec, n_ltfu in counts:
        row = rows[centre_id]
        row.enrolled, row.intervention = int(n), int(n_int or 0)
        row.comparison = row.enrolled - row.intervention
        row.withdrawn, row.deceased = int(n_wd or 0), int(n_dec or 0)
        row.lost_to_follow_up = int(n_ltfu or 0)

    q = _columns(Questionnaire)
    joined = sa.join(_table(Participant), _table(Questionnaire), p.id == q.participant_id)
    done = session.exec(
        _scoped(
            sa.select(
                p.centre_id, q.timepoint, func.count(),
                func.sum(case((q.in_window, 1), else_=0)),
            )
            .select_from(joined)
            .group_by(p.centre_id, q.timepoint),
            actor,
            p.centre_id,
        )
    ).all()
    for centre_id, tp, n, in_window in done:
        prefix = Timepoint(tp).value.lower()
        setattr(rows[centre_id], f"{prefix}_done", int(n))
        if prefix != "m0":
            setattr(rows[centre_id], f"{prefix}_in_window", int(in_window or 0))

    for tp in (Timepoint.M6, Timepoint.M12):
        opened_by, closed_before = _inclusion_cutoffs(config, tp, as_of)
        missing = ~sa.select(q.id).where(q.participant_id == p.id, q.timepoint == tp).exists()
        pending = session.exec(
            _scoped(
                sa.select(
                    p.centre_id,
                    func.sum(case((p.inclusion_date < closed_before, 1), else_=0)),
                    func.sum(
                        case(
                            (and_(p.inclusion_date >= closed_before,
                                  p.inclusion_date <= opened_by), 1),
                            else_=0,
                        )
                    ),
                )
                .where(missing, p.status.in_(FOLLOWING))
                .group_by(p.centre_id),
                actor,
                p.centre_id,
            )
        ).all()
        prefix = tp.value.lower()
        for centre_id, overdue, due in pending:
            setattr(rows[centre_id], f"{prefix}_overdue", int(overdue or 0))
            setattr(rows[centre_id], f"{prefix}_due", int(due or 0))

    for tp in (Timepoint.M6, Timepoint.M12):
        closed_by = as_of - timedelta(days=config.target_day(tp) + config.window_width(tp))
        has = sa.select(q.id).where(q.participant_id == p.id, q.timepoint == tp).exists()
        eligible = session.exec(
            _scoped(
                sa.select(p.centre_id, func.count())
                .where(sa.or_(p.inclusion_date <= closed_by, has))
                .group_by(p.centre_id),
                actor,
                p.centre_id,
            )
        ).all()
        for centre_id, n in eligible:
            setattr(rows[centre_id], f"{tp.value.lower()}_eligible", int(n))

    s = _columns(AerliSession)
    with_sessions = sa.join(_table(Participant), _table(AerliSession), p.id == s.participant_id)
    sessions = session.exec(
        _scoped(
            sa.select(
                p.centre_id, func.count(),
                func.count(distinct(case((s.counts_for_protocol, s.participant_id)))),
            )
            .select_from(with_sessions)
            .group_by(p.centre_id),
            actor,
            p.centre_id,
        )
    ).all()
    for centre_id, n, valid in sessions:
        rows[centre_id].sessions, rows[centre_id].with_valid_session = int(n), int(valid or 0)

    d = _columns(Deviation)
    open_devs = session.exec(
        _scoped(
            sa.select(d.centre_id, func.count())
            .where(d.status != DeviationStatus.RESOLVED)
            .group_by(d.centre_id),
            actor,
            d.centre_id,
        )
    ).all()
    for centre_id, n in open_devs:
        if centre_id in rows:
            rows[centre_id].open_deviations = int(n)
    for row in rows.values():
        row.finish()
    return list(rows.values())


def _state(opens: date, closes: date, as_of: date) -> str:
    if as_of > closes:
        return "overdue"
    if as_of >= opens:
        return "due"
    return "upcoming"


def participant_overview(
    session: Session, *, actor: Actor, as_of: date, centre_id: int | None = None
) -> list[ParticipantRow]:
    """Each visible participant with their next visit and its window state."""
    config = protocol_config()
    p = Participant
    statement = _scoped(
        select(p, Centre.code).join(Centre, col(Centre.id) == p.centre_id), actor, col(p.centre_id)
    )
    if centre_id is not None:
        statement = statement.where(p.centre_id == centre_id)
    participants = session.exec(statement.order_by(p.code)).all()
    ids = [part.id for part, _ in participants]
    if not ids:
        return []
    done: dict[int, list[str]] = {}
    for pid, tp in session.exec(
        select(Questionnaire.participant_id, Questionnaire.timepoint).where(
            col(Questionnaire.participant_id).in_(ids)
        )
    ).all():
        done.setdefault(pid, []).append(Timepoint(tp).value)
    s = _columns(AerliSession)
    sessions: dict[int, tuple[int, int]] = {}
    per_participant: Any = (
        sa.select(s.participant_id, func.count(),
                  func.sum(case((s.counts_for_protocol, 1), else_=0)))
        .where(s.participant_id.in_(ids))
        .group_by(s.participant_id)
    )
    for pid, n, valid in session.exec(per_participant).all():
        sessions[pid] = (int(n), int(valid or 0))
    d = _columns(Deviation)
    open_per_participant: Any = (
        sa.select(d.participant_id, func.count())
        .where(d.participant_id.in_(ids), d.status != DeviationStatus.RESOLVED)
        .group_by(d.participant_id)
    )
    devs = {pid: int(n) for pid, n in session.exec(open_per_participant).all()}
    out = []
    for part, centre_code in participants:
        assert part.id is not None  # noqa: S101
        row = ParticipantRow(
            code=part.code, centre_code=centre_code, group=part.group, status=part.status,
            inclusion_date=part.inclusion_date, done=sorted(done.get(part.id, []), key=_tp_order),
            sessions=sessions.get(part.id, (0, 0))[0],
            valid_sessions=sessions.get(part.id, (0, 0))[1],
            open_deviations=int(devs.get(part.id, 0)),
        )
        if part.status in (Status.WITHDRAWN, Status.DECEASED):
            row.window_state = "not_followed"
        else:
            # What is next comes after the latest visit done: an M6 missed before an M12
            # that was done is passed, not "next" (the person moved on, and so do we).
            latest = max((_tp_order(v) for v in row.done), default=-1)
            for tp in list(Timepoint)[latest + 1:]:
                if tp.value not in row.done:
                    opens, _target, closes = config.window(tp, part.inclusion_date)
                    row.next_timepoint, row.next_opens, row.next_closes = tp.value, opens, closes
                    row.window_state = _state(opens, closes, as_of)
                    break
        out.append(row)
    return out


def _tp_order(value: str) -> int:
    return [t.value for t in Timepoint].index(value)


def worklist(
    session: Session,
    *,
    actor: Actor,
    as_of: date,
    centre_id: int | None = None,
    horizon_days: int = 30,
) -> list[WorklistItem]:
    """Follow-up visits overdue, due now, or opening within ``horizon_days``.

    Lost-to-follow-up participants stay on the list: nobody is dropped.
    """
    config = protocol_config()
    p = Participant
    statement = _scoped(
        select(p, Centre.code)
        .join(Centre, col(Centre.id) == p.centre_id)
        .where(col(p.status).in_(FOLLOWING)),
        actor,
        col(p.centre_id),
    )
    if centre_id is not None:
        statement = statement.where(p.centre_id == centre_id)
    horizon = as_of + timedelta(days=horizon_days)
    # Only participants whose M6 window opens before the horizon can have work due.
    earliest_open = config.m6_target_day - config.window_days
    statement = statement.where(col(p.inclusion_date) <= horizon - timedelta(days=earliest_open))
    participants = session.exec(statement).all()
    ids = [part.id for part, _ in participants]
    done: set[tuple[int, Timepoint]] = set()
    for chunk_start in range(0, len(ids), 5000):
        chunk = ids[chunk_start:chunk_start + 5000]
        done.update(
            (pid, Timepoint(tp))
            for pid, tp in session.exec(
                select(Questionnaire.participant_id, Questionnaire.timepoint).where(
                    col(Questionnaire.participant_id).in_(chunk),
                    col(Questionnaire.timepoint).in_([Timepoint.M6, Timepoint.M12]),
                )
            ).all()
        )
    items = []
    for part, centre_code in participants:
        assert part.id is not None  # noqa: S101
        for tp in (Timepoint.M6, Timepoint.M12):
            if (part.id, tp) in done:
                continue
            opens, target, closes = config.window(tp, part.inclusion_date)
            if opens > horizon:
                continue
            items.append(
                WorklistItem(part.id, part.code, centre_code, part.group, part.status, tp,
                             opens, target, closes, _state(opens, closes, as_of))
            )
    order = {"overdue": 0, "due": 1, "upcoming": 2}
    items.sort(key=lambda i: (order[i.state], i.closes, i.code))
    return items
