"""Analysis-ready frames straight from the live database.

One SQL query per table (SQLAlchemy Core through ``pandas.read_sql``), then vectorised
pandas: no per-row ORM loops, so a 100,000-participant cohort loads in seconds. Answers
keep the data dictionary's codes (``'1'``/``'0'`` for yes/no become 0/1 integers so models
can use them); labels travel beside the frames in ``variable_labels``/``value_labels``.

Derived variables, as the protocol defines them:

- ``group_itt``: the group given at M0 (a group cannot change after M0, so the stored
  group is the M0 group);
- ``per_protocol``: intervention participants with at least one session that counts for
  the protocol on or before the six-month deadline; comparison participants with no AERLI
  session at all (``contaminated`` marks those who had one); ``group_pp`` is the group for
  per-protocol participants and missing otherwise;
- every ``calc`` field of the dictionary (the outcome composites ``any_risk_practice``,
  ``any_complication``, ``share_any_equipment``, …), recomputed with the dictionary's own
  expressions so they exist even for old records and follow any change to the dictionary;
- time to loss to follow-up: ``ltfu_days``/``ltfu_months`` from inclusion, ``ltfu_event``
  (1 lost, 0 censored) and ``ltfu_outcome`` (0 censored, 1 lost, 2 died) for competing risks.
  A loss is dated at the close of the first visit window missed after the last contact
  (see ``_time_to_ltfu`` for the whole definition).

Enrolment choices stored as words in the participant table (``gender='man'``,
``reached_via='in_person'``) are turned into the dictionary's codes (``'2'``, ``'1'``), so
that one set of value labels serves the frames, Table 1 and every export.
"""

from __future__ import annotations

import subprocess  # noqa: S404  (only ``git rev-parse`` with fixed arguments)
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from analysis import visits
from cohort.models import (
    AerliSession,
    Centre,
    Deviation,
    Participant,
    Questionnaire,
    Screening,
    StatusChange,
)
from cohort.rules import ProtocolConfig
from cohort.schedule import get_schedule
from cohort.vocab import GENDER_CODES, REACHED_VIA_CODES, Status
from forms.i18n import N_, gettext

DAYS_PER_MONTH = 365.25 / 12

# Participant columns stored as words, with the dictionary code of each word.
CODED_COLUMNS: dict[str, dict[str, str]] = {
    "gender": {str(word): code for code, word in GENDER_CODES.items()},
    "reached_via": {str(word): code for code, word in REACHED_VIA_CODES.items()},
}
# Binary injection-risk outcomes modelled by default (composites first, then each item).
BINARY_OUTCOMES: tuple[str, ...] = (
    "any_risk_practice", "any_complication", "share_syringe", "share_cooker",
    "share_filter", "share_water", "share_any_equipment",
)

Source = Session | Engine | Connection
# How people still followed are censored (see ``_time_to_ltfu``).
CENSOR_RULES = ("missed_visit", "as_of")


def window_close_day(config: ProtocolConfig, timepoint: str) -> int:
    """Days from inclusion to the last day of a visit's window (a visit's name).

    Each visit has its own half-width (the schedule's), so every "has this window
    closed?" question in the analyses goes through here.
    """
    return config.visit(timepoint).closes_day


def follow_up_days(config: ProtocolConfig) -> int:
    """Days from inclusion to the end of follow-up: the close of the last visit's window
    (as ``ProtocolConfig.follow_up_end``)."""
    return config.schedule.last.closes_day


@dataclass
class Snapshot:
    """What a set of estimates was computed from, for the report and the JSON output."""

    as_of: date
    extracted_at: datetime
    database: str
    git_commit: str | None
    rows: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "extracted_at": self.extracted_at.isoformat(),
                "database": self.database, "git_commit": self.git_commit, "rows": self.rows}


@dataclass
class AnalysisData:
    """Tidy frames of one extraction.

    ``participants``: one row per participant with baseline covariates and derived
    variables; ``questionnaires``: long format, one row per participant and timepoint;
    ``sessions``, ``deviations``, ``screening``, ``status_changes``: one row per record.
    """

    participants: pd.DataFrame
    questionnaires: pd.DataFrame
    sessions: pd.DataFrame
    deviations: pd.DataFrame
    screening: pd.DataFrame
    status_changes: pd.DataFrame
    snapshot: Snapshot
    variable_labels: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    config: ProtocolConfig = field(default_factory=ProtocolConfig)
    censor_at: str = "missed_visit"
    #: Answers that were one of the project's missing-data codes (``UNK``, ``NA`` …): one
    #: row per participant, timepoint and variable. In every other frame they are missing
    #: (NaN), so every analysis counts them as missing; the exports write them back.
    missing_codes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["participant_id", "timepoint", "variable", "code"]))
    #: The data dictionary the labels come from (its translations label the report).
    dictionary: Any = field(default=None, repr=False, compare=False)

    def labels(self, lang: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        """Variable and value labels in ``lang`` (the dictionary's translation, English
        where it has none); the frames' own labels are the English ones."""
        if lang == "en" or self.dictionary is None:
            return self.variable_labels, self.value_labels
        in_language = getattr(self.dictionary, "in_language", None)
        return _labels(in_language(lang) if in_language else self.dictionary, lang)

    @property
    def long(self) -> pd.DataFrame:
        """Questionnaires joined with the participant-level variables (one row per visit)."""
        overlap = [c for c in self.questionnaires.columns
                   if c in self.participants.columns and c != "participant_id"]
        merged = self.questionnaires.drop(columns=overlap).merge(
            self.participants, on="participant_id", how="left", validate="many_to_one")
        first = ["participant_id", "code", "centre_code", "group_itt", "timepoint", "month"]
        return merged[first + [c for c in merged.columns if c not in first]]


def _read(conn: Connection, stmt: Any) -> pd.DataFrame:
    result = conn.execute(stmt)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _connection(source: Source) -> tuple[Connection, bool]:
    if isinstance(source, Session):
        return source.connection(), False
    if isinstance(source, Engine):
        return source.connect(), True
    return source, False


def _safe_url(conn: Connection) -> str:
    return conn.engine.url.render_as_string(hide_password=True)


def git_commit(start: Path | None = None) -> str | None:
    """The commit of the code that produced the estimates, when run from a clone."""
    try:
        out = subprocess.run(  # noqa: S603
            ["git", "rev-parse", "HEAD"], cwd=start or Path(__file__).resolve().parent,  # noqa: S607
            capture_output=True, text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def load_frames(source: Source, *, as_of: date, config: ProtocolConfig | None = None,
                dictionary: Any | None = None, censor_at: str = "missed_visit"
                ) -> AnalysisData:
    """Extract every table the analyses need, as of ``as_of`` (later records are ignored).

    ``source`` may be a session, an engine or a connection; nothing is written.
    ``censor_at`` chooses how people still followed are censored for time to loss to
    follow-up: where a loss would be dated (``"missed_visit"``, default: the close of the
    first missed window, else the as-of date) or at the as-of date (``"as_of"``).
    """
    config = config or _default_config()
    conn, owned = _connection(source)
    try:
        raw = _extract(conn, as_of)
        database = _safe_url(conn)
    finally:
        if owned:
            conn.close()
    return build_frames(raw, as_of=as_of, config=config, dictionary=dictionary,
                        database=database, censor_at=censor_at)


def _default_config() -> ProtocolConfig:
    from cohort.services.context import protocol_config

    return protocol_config()


def _extract(conn: Connection, as_of: date) -> dict[str, pd.DataFrame]:
    p, c, q = Participant.__table__, Centre.__table__, Questionnaire.__table__  # type: ignore[attr-defined]
    s, d = AerliSession.__table__, Deviation.__table__  # type: ignore[attr-defined]
    sc, scr = StatusChange.__table__, Screening.__table__  # type: ignore[attr-defined]
    return {
        "participants": _read(conn, sa.select(
            p.c.id.label("participant_id"), p.c.code, p.c.centre_id,
            c.c.code.label("centre_code"), p.c.inclusion_date, p.c.age_at_inclusion,
            p.c.year_of_birth, p.c.gender, p.c.reached_via, p.c.group, p.c.status,
        ).join(c, c.c.id == p.c.centre_id).where(p.c.inclusion_date <= as_of)
            .order_by(p.c.id)),
        "questionnaires": _read(conn, sa.select(
            q.c.participant_id, q.c.timepoint, q.c.visit_date, q.c.in_window,
            q.c.completeness, q.c.answers,
        ).where(q.c.visit_date <= as_of).order_by(q.c.participant_id, q.c.visit_date)),
        "sessions": _read(conn, sa.select(
            s.c.id.label("session_id"), s.c.participant_id, s.c.session_date, s.c.setting,
            s.c.modality, s.c.injection_site, s.c.counts_for_protocol,
        ).where(s.c.session_date <= as_of).order_by(s.c.id)),
        "deviations": _read(conn, sa.select(
            d.c.id.label("deviation_id"), d.c.rule_id, d.c.severity, d.c.entity,
            d.c.record_id, d.c.participant_id, d.c.centre_id, d.c.status, d.c.raised_at,
        ).order_by(d.c.id)),
        "status_changes": _read(conn, sa.select(
            sc.c.id.label("status_change_id"), sc.c.participant_id, sc.c.status,
            sc.c.effective_date,
        ).where(sc.c.effective_date <= as_of).order_by(sc.c.participant_id,
                                                       sc.c.effective_date, sc.c.id)),
        "screening": _read(conn, sa.select(
            scr.c.id.label("screening_id"), scr.c.screened_on, scr.c.centre_id,
            scr.c.outcome, scr.c.reason, scr.c.participant_id,
        ).where(scr.c.screened_on <= as_of).order_by(scr.c.id)),
    }


def _as_str(series: pd.Series) -> pd.Series:
    """Enum columns come back as enums from the ORM types; keep their readable words."""
    return series.map(lambda v: getattr(v, "value", v))


def _to_date(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series)


def _to_codes(words: pd.Series, codes: dict[str, str], column: str,
              dictionary: Any) -> pd.Series:
    """Stored words -> dictionary codes; a word with no code is an error, never a blank.

    Codes already in the dictionary's form pass through (a REDCap-loaded value, say).
    """
    known = set(dictionary.fields[column].choices) if column in dictionary.fields else set()
    mapped = words.map(lambda v: codes.get(v, v if v in known else None) if isinstance(
        v, str) else None)
    unknown = sorted({str(v) for v in words[mapped.isna() & words.notna()]})
    if unknown:
        raise ValueError(
            f"participants.{column} holds {', '.join(map(repr, unknown))}, which has no code in "
            f"the data dictionary's '{column}' choices ({', '.join(sorted(known))}); add the "
            "choice to data_dictionary.csv or correct the stored value.")
    return mapped.astype(object)


def _yesno_fields(dictionary: Any) -> set[str]:
    if dictionary is None:
        return set()
    return {name for name, f in dictionary.fields.items()
            if f.kind == "choice" and set(f.choices) == {"0", "1"}}


def build_frames(raw: dict[str, pd.DataFrame], *, as_of: date, config: ProtocolConfig,
                 dictionary: Any | None = None, database: str = "",
                 censor_at: str = "missed_visit") -> AnalysisData:
    """Turn raw extracted tables into the tidy, derived frames (no database needed).

    Split from :func:`load_frames` so that benchmarks and tests can feed synthetic tables.
    """
    if dictionary is None:
        import forms

        dictionary = forms.default_dictionary()
    parts = raw["participants"].copy()
    for col in ("gender", "reached_via", "group", "status"):
        parts[col] = _as_str(parts[col])
    for col, codes in CODED_COLUMNS.items():
        parts[col] = _to_codes(parts[col], codes, col, dictionary)
    parts["inclusion_date"] = _to_date(parts["inclusion_date"])

    questionnaires, missing_codes = _questionnaires(raw["questionnaires"], dictionary)
    sessions = raw["sessions"].copy()
    for col in ("setting", "modality", "injection_site"):
        sessions[col] = _as_str(sessions[col])
    sessions["session_date"] = _to_date(sessions["session_date"])
    sessions["counts_for_protocol"] = sessions["counts_for_protocol"].astype(bool)
    status = raw["status_changes"].copy()
    status["status"] = _as_str(status["status"])
    status["effective_date"] = _to_date(status["effective_date"])
    deviations = raw["deviations"].copy()
    for col in ("severity", "status"):
        deviations[col] = _as_str(deviations[col])
    screening = raw["screening"].copy()
    screening["outcome"] = _as_str(screening["outcome"])
    screening["screened_on"] = _to_date(screening["screened_on"])

    parts = _exposure(parts, sessions, config)
    parts = _baseline(parts, questionnaires)
    parts = _time_to_ltfu(parts, questionnaires, sessions, status, as_of, config, censor_at)
    questionnaires = questionnaires.merge(
        parts[["participant_id", "code", "centre_code", "group_itt"]], on="participant_id",
        how="inner", validate="many_to_one")
    first = ["participant_id", "code", "centre_code", "group_itt", "timepoint", "month"]
    questionnaires = questionnaires[first + [c for c in questionnaires.columns
                                             if c not in first]]

    variable_labels, value_labels = _labels(dictionary)
    snapshot = Snapshot(
        as_of=as_of, extracted_at=datetime.now(UTC), database=database,
        git_commit=git_commit(),
        rows={"participants": len(parts), "questionnaires": len(questionnaires),
              "sessions": len(sessions), "deviations": len(deviations),
              "screening": len(screening), "status_changes": len(status)},
    )
    return AnalysisData(parts, questionnaires, sessions, deviations, screening, status,
                        snapshot, variable_labels, value_labels, config, censor_at,
                        missing_codes, dictionary)


def _set_aside_missing_codes(wide: pd.DataFrame, raw: pd.DataFrame, dictionary: Any
                             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The project's missing-data codes become NaN (counted as missing by every analysis);
    which answer held which code is returned apart, for the exports."""
    codes = set(getattr(dictionary, "missing_codes", {}) or {})
    found = []
    if codes:
        for column in wide.columns:
            if column not in dictionary.fields:
                continue
            values = wide[column]
            mask = values.map(lambda v: isinstance(v, str) and v in codes)
            if mask.any():
                found += [{"participant_id": raw.at[i, "participant_id"],
                           "timepoint": str(_as_str(raw.loc[[i], "timepoint"]).iloc[0]),
                           "variable": column, "code": values.at[i]}
                          for i in values.index[mask]]
                wide[column] = values.where(~mask, np.nan)
    frame = pd.DataFrame(found, columns=["participant_id", "timepoint", "variable", "code"])
    return wide, frame


def _questionnaires(raw: pd.DataFrame, dictionary: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    answers = raw["answers"].map(lambda a: a if isinstance(a, dict) else _json(a))
    wide = pd.DataFrame(answers.tolist(), index=raw.index)
    wide, missing_codes = _set_aside_missing_codes(wide, raw, dictionary)
    wide = wide.drop(columns=[c for c in ("visit_date",) if c in wide.columns])
    base = raw.drop(columns=["answers"]).copy()
    base["timepoint"] = _as_str(base["timepoint"])
    base["visit_date"] = _to_date(base["visit_date"])
    base["in_window"] = base["in_window"].astype(bool)
    base["month"] = base["timepoint"].map(visits.months()).astype("int64")
    out = pd.concat([base, wide], axis=1)
    calcs = compute_calc_columns(out, dictionary)
    out = out.drop(columns=[c for c in calcs.columns if c in out.columns])
    out = pd.concat([out, calcs], axis=1)
    for name in _yesno_fields(dictionary) | set(calcs.columns):
        if name in out.columns:
            out[name] = pd.to_numeric(out[name], errors="coerce").astype("Float64")
    return out, missing_codes


def _calc_inputs(dictionary: Any, name: str, seen: set[str] | None = None) -> set[str]:
    """The answered fields a calc depends on: its references, through other calcs and
    through the branching logic of what it reads (a hidden field counts as blank)."""
    seen = set() if seen is None else seen
    if name in seen or name not in dictionary.fields:
        return set()
    seen.add(name)
    f = dictionary.fields[name]
    nodes = [n for n in (f.calc_node, f.branching_node) if n is not None]
    out: set[str] = set()
    for node in nodes:
        for ref in node.references():
            if ref.event:
                raise ValueError(
                    f"calc field '{name}' reads [{ref.event}][{ref.name}] from another event; "
                    "the analysis frames compute calcs within one questionnaire only — "
                    "export the data and compute this variable in the statistics package.")
            ref_field = dictionary.fields.get(ref.name)
            if ref_field is not None and ref_field.is_calc:
                out |= _calc_inputs(dictionary, ref.name, seen)
            else:
                out.add(ref.name)
                out |= _calc_inputs(dictionary, ref.name, seen) - {ref.name}
    return out


def compute_calc_columns(frame: pd.DataFrame, dictionary: Any) -> pd.DataFrame:
    """Every calc field of the dictionary whose inputs are in ``frame``, one column each.

    The dictionary's own evaluator (``compute_calcs``) decides each value, so the frames
    follow the dictionary's rule whatever it is. It runs once per distinct combination
    of a calc's inputs, not per row: yes/no composites have at most 3^k combinations,
    so 300,000 questionnaires cost a few hundred evaluations instead of 300,000.
    Blank results are missing (``None``).
    """
    columns: dict[str, pd.Series] = {}
    for name, f in dictionary.fields.items():
        if not f.is_calc:
            continue
        inputs = sorted(_calc_inputs(dictionary, name))
        present = [c for c in inputs if c in frame.columns]
        if not present:
            continue
        block = frame[present].map(_calc_key)
        combos = block.drop_duplicates()
        values = []
        for combo in combos.itertuples(index=False):
            answers = {k: list(v) if isinstance(v, tuple) else v
                       for k, v in zip(present, combo, strict=True) if v != ""}
            values.append(dictionary.compute_calcs(answers).get(name))
        lookup = combos.assign(__value=values)
        merged = block.merge(lookup, on=present, how="left", validate="many_to_one")
        columns[name] = pd.Series(merged["__value"].to_numpy(), index=frame.index,
                                  dtype=object)
    return pd.DataFrame(columns, index=frame.index)


def _calc_key(value: Any) -> Any:
    """A hashable stand-in for an answer (lists of ticked codes become tuples)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, list):
        return tuple(value)
    return value


def _json(value: Any) -> dict[str, Any]:
    import json

    if value is None:
        return {}
    loaded = json.loads(value)
    return loaded if isinstance(loaded, dict) else {}


def _exposure(parts: pd.DataFrame, sessions: pd.DataFrame,
              config: ProtocolConfig) -> pd.DataFrame:
    parts = parts.copy()
    parts["group_itt"] = parts["group"]
    deadline = parts["inclusion_date"] + pd.Timedelta(days=config.session_deadline_days)
    s = sessions.merge(parts[["participant_id", "inclusion_date"]], on="participant_id")
    s_deadline = s["inclusion_date"] + pd.Timedelta(days=config.session_deadline_days)
    valid = s[s["counts_for_protocol"] & (s["session_date"] <= s_deadline)]
    n_sessions = sessions.groupby("participant_id").size()
    n_valid = sessions[sessions["counts_for_protocol"]].groupby("participant_id").size()
    first_valid = valid.groupby("participant_id")["session_date"].min()
    pid = parts["participant_id"]
    parts["sessions"] = pid.map(n_sessions).fillna(0).astype("int64")
    parts["valid_sessions"] = pid.map(n_valid).fillna(0).astype("int64")
    parts["first_valid_session"] = pid.map(first_valid)
    parts["valid_session_6m"] = parts["first_valid_session"].notna() & (
        parts["first_valid_session"] <= deadline)
    is_int = parts["group"] == "intervention"
    parts["contaminated"] = ~is_int & (parts["sessions"] > 0)
    parts["per_protocol"] = (is_int & parts["valid_session_6m"]) | (
        ~is_int & ~parts["contaminated"])
    parts["group_pp"] = parts["group"].where(parts["per_protocol"])
    parts["intervention"] = is_int.astype("int64")
    return parts


def _baseline(parts: pd.DataFrame, q: pd.DataFrame) -> pd.DataFrame:
    """Inclusion's answers become baseline covariates (suffix ``_m0`` for the repeated
    items, whatever the first visit is called)."""
    m0 = q[q["timepoint"] == get_schedule().baseline.name].drop_duplicates("participant_id")
    baseline_only = ["housing", "income_source", "education", "years_injecting",
                     "age_first_injection", "prison_ever"]
    keep = ["participant_id"] + [c for c in baseline_only if c in m0.columns]
    out = parts.merge(m0[keep], on="participant_id", how="left", validate="one_to_one")
    for name in (*BINARY_OUTCOMES, "oat_current", "inj_freq"):
        if name in m0.columns:
            out[f"{name}_m0"] = out["participant_id"].map(
                m0.set_index("participant_id")[name])
    for name in ("years_injecting", "age_first_injection"):
        if name in out.columns:
            out[name] = pd.to_numeric(out[name], errors="coerce")
    out["has_m0"] = out["participant_id"].isin(m0["participant_id"])
    return out


def _time_to_ltfu(parts: pd.DataFrame, q: pd.DataFrame, sessions: pd.DataFrame,
                  status: pd.DataFrame, as_of: date, config: ProtocolConfig,
                  censor_at: str) -> pd.DataFrame:
    """Time to loss to follow-up: loss is the event, death competes, the rest is censored.

    Who is lost: only a *current* status of ``lost_to_follow_up`` (someone recorded as lost
    who later returned was not lost; the protocol never drops anybody).

    When the loss happens (the definition the report states): a loss can only be seen at
    a scheduled visit, so a lost participant is **at risk until the window of the first
    visit they missed after their last contact closes, and the loss is dated then** (M6:
    day 182 + the M6 half-width; M12: the end of follow-up). Last contact is the latest
    questionnaire or AERLI session. Dating the loss at the last contact instead would put
    everyone never seen after M0 at day 0 (a vertical drop of the Kaplan–Meier curve, and
    events that Aalen–Johansen cannot place); dating it at the day the status was typed
    would measure the team's paperwork. If the status's effective date is earlier than
    that close (someone who moved away, say), the loss is dated on it, never before the
    last contact, and stays there in later snapshots. Events therefore concentrate at the
    two window closes: the hazard is essentially discrete, and Efron ties handle it.

    Death is dated by its status. A loss or death dated after the end of follow-up (the
    M12 window's close) is censored there. Withdrawal is censored at its date. Everyone
    else, with
    the default ``censor_at="missed_visit"``, is censored where a loss would have been
    dated: at the close of the first window missed after their last contact if it has
    closed (they are known not to be lost before it, and nothing after), otherwise at the
    as-of date capped at the end of follow-up (a person enrolled 60 days ago has been
    followed for 60 days, not 0). ``censor_at="as_of"`` censors them all at the as-of date
    (capped likewise), for studies that record statuses promptly.
    """
    parts = parts.copy()
    latest = status.groupby("participant_id").tail(1).set_index("participant_id")
    seen = pd.concat([
        q[["participant_id", "visit_date"]].rename(columns={"visit_date": "d"}),
        sessions[["participant_id", "session_date"]].rename(columns={"session_date": "d"}),
    ]).groupby("participant_id")["d"].max()
    pid = parts["participant_id"]
    inclusion = parts["inclusion_date"]
    as_of_ts = pd.Timestamp(as_of)
    current = pid.map(latest["status"]).fillna(Status.ACTIVE.value)
    current_date = pd.to_datetime(pid.map(latest["effective_date"]))
    last_contact = pid.map(seen).fillna(inclusion)
    last_contact = last_contact.where(last_contact >= inclusion, inclusion)
    lost = current == Status.LOST_TO_FOLLOW_UP.value
    died = current == Status.DECEASED.value
    withdrawn = current == Status.WITHDRAWN.value
    follow_up_end = inclusion + pd.Timedelta(days=follow_up_days(config))
    followed_to = follow_up_end.where(follow_up_end <= as_of_ts, as_of_ts)
    followed_to = followed_to.where(followed_to >= last_contact, last_contact)
    # The close of the first follow-up window missed after the last contact (NaT if none).
    first_missed = pd.Series(pd.NaT, index=parts.index, dtype="datetime64[ns]")
    for tp in reversed(visits.follow_up_names(config.schedule)):
        closes = inclusion + pd.Timedelta(days=window_close_day(config, tp))
        done = pid.isin(q.loc[q["timepoint"] == tp, "participant_id"])
        first_missed = first_missed.mask(~done & (closes >= last_contact), closes)
    missed_closed = first_missed.notna() & (first_missed <= as_of_ts)
    recorded = current_date.where(current_date >= last_contact, last_contact)
    # The earlier of the two, so a snapshot taken after the missed window closed does not
    # move a loss that was recorded before it.
    lost_on = first_missed.where(missed_closed & (first_missed < recorded), recorded)
    if censor_at == "missed_visit":
        censor = first_missed.where(missed_closed, followed_to)
    elif censor_at == "as_of":
        censor = followed_to
    else:
        raise ValueError(f"unknown censoring rule '{censor_at}'; use "
                         f"{' or '.join(CENSOR_RULES)}")
    end = censor.where(~withdrawn, current_date).where(~lost, lost_on)
    end = end.where(~died, current_date)
    # A loss or death after the end of follow-up did not happen during the study.
    after = end > follow_up_end
    lost, died = lost & ~after, died & ~after
    end = end.where(~after, follow_up_end)
    end = end.where(end <= as_of_ts, as_of_ts)
    end = end.where(end >= inclusion, inclusion)
    parts["current_status"] = current
    parts["last_contact"] = last_contact
    parts["ltfu_days"] = (end - inclusion).dt.days.astype("int64")
    parts["ltfu_months"] = parts["ltfu_days"] / DAYS_PER_MONTH
    parts["ltfu_event"] = lost.astype("int64")
    parts["ltfu_outcome"] = np.where(lost, 1, np.where(died, 2, 0)).astype("int64")
    return parts


def _labels(dictionary: Any, lang: str = "en"
            ) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The dictionary's labels and those of the derived variables (in ``lang``)."""

    variable = {name: f.label for name, f in dictionary.fields.items()}
    value = {name: dict(f.choices) for name, f in dictionary.fields.items() if f.choices}
    variable.update({name: gettext(text, lang) for name, text in DERIVED_LABELS.items()})
    return variable, value


#: Labels of the variables the analysis derives (English; translated where shown).
DERIVED_LABELS = {
    "participant_id": N_("Participant record number (database id)"),
    "code": N_("Study code (pseudonymised)"),
    "centre_code": N_("Partner centre"),
    "timepoint": N_("Questionnaire timepoint"),
    "month": N_("Months since inclusion (protocol timepoint)"),
    "group_itt": N_("Group at M0 (intention to treat)"),
    "group_pp": N_("Group, per-protocol participants only"),
    "per_protocol": N_("Follows the protocol (intervention: valid session within 6 months; "
              "comparison: no AERLI session)"),
    "contaminated": N_("Comparison participant who received an AERLI session"),
    "valid_session_6m": N_("At least one protocol session within 6 months of inclusion"),
    "sessions": N_("AERLI sessions received"),
    "valid_sessions": N_("AERLI sessions that count for the protocol"),
    "ltfu_days": N_("Days from inclusion to loss to follow-up (close of the first visit "
              "window missed after the last contact), death or censoring"),
    "ltfu_months": N_("Months from inclusion to loss to follow-up (close of the first "
              "visit window missed after the last contact), death or censoring"),
    "last_contact": N_("Date of the latest questionnaire or AERLI session"),
    "ltfu_event": N_("Lost to follow-up (1) or censored (0)"),
    "ltfu_outcome": N_("0 censored, 1 lost to follow-up, 2 died"),
    "age_at_inclusion": N_("Age at inclusion (years)"),
    "in_window": N_("Questionnaire completed within its visit window"),
}
