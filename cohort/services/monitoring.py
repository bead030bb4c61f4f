"""Read models for research officers and outreach workers: retention and worklists.

Retention per centre is computed with grouped SQL (one query per measure, whatever the
cohort size), because the dashboard is opened many times a day on 20 centres. Visit
windows depend only on the inclusion date, so "due" and "overdue" become ranges of
inclusion dates computed here and compared in SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import and_, case, distinct, func
from sqlmodel import Session, col, select

from cohort.models import AerliSession, Centre, Deviation, Participant, Questionnaire
from cohort.rules import ProtocolConfig
from cohort.schedule import get_schedule
from cohort.services.context import Actor, protocol_config
from cohort.vocab import DeviationStatus, Group, Status, Timepoint

FOLLOWING = (Status.ACTIVE, Status.RETURNED, Status.LOST_TO_FOLLOW_UP)


def _pct(n: int, d: int) -> float | None:
    return round(100 * n / d, 1) if d else None


@dataclass
class VisitStatus:
    """One visit of the schedule at one centre (or summed over centres).

    ``done``: questionnaires saved; ``in_window``: of them, inside the window. For follow-up
    visits, among participants still followed without the questionnaire: ``due`` (window
    open now) and ``overdue`` (window closed). Retention by attendance (the analysis
    report's definition): of the ``eligible`` participants (window closed, or came anyway),
    the % with the questionnaire done inside the window and done at all."""

    visit: str
    done: int = 0
    in_window: int = 0
    due: int = 0
    overdue: int = 0
    eligible: int = 0
    attended_in_window_pct: float | None = None
    attended_pct: float | None = None

    def finish(self) -> None:
        self.attended_in_window_pct = _pct(self.in_window, self.eligible)
        self.attended_pct = _pct(self.done, self.eligible)


@dataclass
class CentreStatus:
    """A centre's enrolment, visits (one entry per visit of the schedule, in order),
    sessions, deviations and losses."""

    centre_id: int
    centre_code: str
    centre_name: str
    city: str
    enrolled: int = 0
    intervention: int = 0
    comparison: int = 0
    visits: list[VisitStatus] = field(default_factory=list)
    sessions: int = 0
    with_valid_session: int = 0
    open_deviations: int = 0
    withdrawn: int = 0
    deceased: int = 0
    lost_to_follow_up: int = 0
    # Beside attendance, retention by status: the % not currently recorded as lost.
    retained_by_status_pct: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CentreStatus:
        """The row ``as_dict`` gave (the retention cache keeps rows as JSON)."""
        visits = [VisitStatus(**v) for v in values.get("visits", [])]
        return cls(**{**values, "visits": visits})

    def visit(self, name: str) -> VisitStatus:
        return next(v for v in self.visits if v.visit == name)

    @property
    def overdue(self) -> int:
        return sum(v.overdue for v in self.visits)

    def finish(self) -> None:
        """Fill the percentages from the counts (None when there is no denominator)."""
        for visit in self.visits:
            visit.finish()
        self.retained_by_status_pct = _pct(self.enrolled - self.lost_to_follow_up,
                                           self.enrolled)


def total_status(rows: list[CentreStatus]) -> CentreStatus:
    """The centres' rows summed (percentages recomputed from the summed counts)."""
    total = CentreStatus(0, "all", "All centres", "",
                         visits=[VisitStatus(v.name) for v in get_schedule()])
    for row in rows:
        for key in ("enrolled", "intervention", "comparison", "sessions",
                    "with_valid_session", "open_deviations", "withdrawn", "deceased",
                    "lost_to_follow_up"):
            setattr(total, key, getattr(total, key) + getattr(row, key))
        for mine, theirs in zip(total.visits, row.visits, strict=True):
            for key in ("done", "in_window", "due", "overdue", "eligible"):
                setattr(mine, key, getattr(mine, key) + getattr(theirs, key))
    total.finish()
    return total


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
    visit = config.visit(tp)
    opened_if_included_by = as_of - timedelta(days=visit.opens_day)
    closed_if_included_before = as_of - timedelta(days=visit.closes_day)
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
    schedule = config.schedule
    rows = empty_rows(session, actor=actor)
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
        if tp not in schedule:
            continue
        row_visit = rows[centre_id].visit(tp)
        row_visit.done = int(n)
        if tp != schedule.baseline.name:
            row_visit.in_window = int(in_window or 0)

    for visit in schedule.follow_ups:
        tp = Timepoint(visit.name)
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
        for centre_id, overdue, due in pending:
            rows[centre_id].visit(tp).overdue = int(overdue or 0)
            rows[centre_id].visit(tp).due = int(due or 0)

    for visit in schedule.follow_ups:
        tp = Timepoint(visit.name)
        closed_by = as_of - timedelta(days=visit.closes_day)
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
            rows[centre_id].visit(tp).eligible = int(n)

    add_sessions_and_deviations(session, actor=actor, rows=rows)
    for row in rows.values():
        row.finish()
    return list(rows.values())


def empty_rows(session: Session, *, actor: Actor) -> dict[int, CentreStatus]:
    """A row of zeros per visible centre, in code order, by centre id."""
    centres = session.exec(_scoped(select(Centre), actor, col(Centre.id)).order_by(Centre.code))
    schedule = protocol_config().schedule
    return {c.id: CentreStatus(c.id, c.code, c.name, c.city,
                               visits=[VisitStatus(v.name) for v in schedule])
            for c in centres if c.id}


def add_sessions_and_deviations(session: Session, *, actor: Actor,
                                rows: dict[int, CentreStatus]) -> None:
    """Sessions, participants with a session that counts, and open deviations per centre
    (two grouped statements, read by the summary and by one centre's recount alike)."""
    p = _columns(Participant)
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


def _state(opens: date, closes: date, as_of: date) -> str:
    if as_of > closes:
        return "overdue"
    if as_of >= opens:
        return "due"
    return "upcoming"


def participant_overview(
    session: Session, *, actor: Actor, as_of: date, centre_id: int | None = None,
    participant_id: int | None = None,
) -> list[ParticipantRow]:
    """Each visible participant with their next visit and its window state (of one centre,
    or the one participant, when asked)."""
    config = protocol_config()
    p = Participant
    statement = _scoped(
        select(p, Centre.code).join(Centre, col(Centre.id) == p.centre_id), actor, col(p.centre_id)
    )
    if centre_id is not None:
        statement = statement.where(p.centre_id == centre_id)
    if participant_id is not None:
        statement = statement.where(p.id == participant_id)
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
        done.setdefault(pid, []).append(str(tp))
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
            inclusion_date=part.inclusion_date,
            done=sorted(done.get(part.id, []), key=_tp_order(config)),
            sessions=sessions.get(part.id, (0, 0))[0],
            valid_sessions=sessions.get(part.id, (0, 0))[1],
            open_deviations=int(devs.get(part.id, 0)),
        )
        if part.status in (Status.WITHDRAWN, Status.DECEASED):
            row.window_state = "not_followed"
        else:
            # What is next comes after the latest visit done: an M6 missed before an M12
            # that was done is passed, not "next" (the person moved on, and so do we).
            visits = list(config.schedule)
            order = {visit.name: n for n, visit in enumerate(visits)}
            latest = max((order.get(str(v), -1) for v in row.done), default=-1)
            for visit in visits[latest + 1:]:
                if visit.name not in row.done:
                    opens, _target, closes = config.window(visit.name, part.inclusion_date)
                    row.next_timepoint, row.next_opens, row.next_closes = visit.name, opens, closes
                    row.window_state = _state(opens, closes, as_of)
                    break
        out.append(row)
    return out


def _tp_order(config: ProtocolConfig) -> Callable[[str], int]:
    names = config.schedule.names
    return lambda value: names.index(value) if value in names else len(names)


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
    # Only participants whose first follow-up window opens before the horizon can have
    # work due.
    follow_ups = config.schedule.follow_ups
    if not follow_ups:
        return []
    earliest_open = min(v.opens_day for v in follow_ups)
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
                    col(Questionnaire.timepoint).in_([v.name for v in follow_ups]),
                )
            ).all()
        )
    items = []
    for part, centre_code in participants:
        assert part.id is not None  # noqa: S101
        for visit in follow_ups:
            tp = Timepoint(visit.name)
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
