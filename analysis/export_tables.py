"""What an export needs so that a statistician can rebuild the report's derived variables.

Beside the main file, :func:`write_history_tables` writes two long tables in the same
format: ``<file>.status_history.<ext>`` (every status change with its effective date:
active, lost to follow-up, returned, withdrawn, deceased) and ``<file>.sessions.<ext>``
(every AERLI session with its date, modality and whether it counts for the protocol).
With the visit dates of the main file they are everything loss to follow-up and
per-protocol status are made from (262 of 2,000 demo participants' last contact is a
session). :data:`DERIVED` says, for the codebook, how each derived column is made.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.data import AnalysisData, window_close_day
from forms.safe_cells import neutralise

DERIVED: dict[str, str] = {
    "group_itt": "group given at M0 (intention to treat; it cannot change after M0)",
    "group_pp": "group_itt for per-protocol participants, blank otherwise",
    "per_protocol": "intervention: a session that counts for the protocol (sessions table, "
                    "counts_for_protocol = 1) within the session deadline of inclusion; "
                    "comparison: no AERLI session at all",
    "contaminated": "comparison participant with at least one AERLI session (sessions table)",
    "valid_session_6m": "first session counting for the protocol on or before inclusion + "
                        "the session deadline (sessions table)",
    "sessions": "number of rows of the participant in the sessions table",
    "valid_sessions": "sessions-table rows with counts_for_protocol = 1",
    "first_valid_session": "earliest session_date with counts_for_protocol = 1",
    "last_contact": "latest of the visit dates (main file) and session dates (sessions table)",
    "current_status": "status of the participant's latest row in the status-history table "
                      "(by effective_date); active when there is none",
    "ltfu_event": "1 if current_status is lost_to_follow_up and the loss falls within "
                  "follow-up, else 0",
    "ltfu_outcome": "0 censored, 1 lost to follow-up, 2 died (current status deceased "
                    "within follow-up)",
    "has_m0": "an M0 questionnaire exists",
    "in_window": "questionnaire dated inside its visit window (target day ± half-width)",
    "month": "protocol month of the timepoint (months after inclusion)",
}


def ltfu_text(data: AnalysisData) -> str:
    closes = [(v.name, window_close_day(data.config, v.name))
              for v in data.config.schedule.follow_ups]
    days = ", ".join(f"day {day} for {name}" for name, day in closes)
    end = closes[-1][1]
    return (f"days from inclusion_date to: for a loss, the close of the first visit window "
            f"missed after last_contact ({days}) or the "
            "status's effective_date if earlier (never before last_contact); for a death, "
            "its effective_date; for a withdrawal, its effective_date; else "
            f"{'the close of the first missed window if closed, else the as-of date' if data.censor_at == 'missed_visit' else 'the as-of date'}"  # noqa: E501
            f", capped at day {end} and at the as-of date")


def derived_rows(data: AnalysisData, columns: list[str]) -> pd.DataFrame:
    """Codebook rows for the exported columns that the analysis derives."""
    how = dict(DERIVED)
    how["ltfu_days"] = ltfu_text(data)
    how["ltfu_months"] = "ltfu_days / 30.4375"
    rows = []
    for col in columns:
        base = col[:-3] if col.endswith("_m0") and col not in how else col
        text = how.get(col) or (f"M0 value of {base} (baseline covariate)"
                                if col.endswith("_m0") and base != col else None)
        if text:
            rows.append({"variable": col, "form": "derived", "field_type": "derived",
                         "label": data.variable_labels.get(col, col), "derivation": text,
                         "in_this_export": "yes"})
    return pd.DataFrame(rows)


def history_frames(data: AnalysisData) -> dict[str, pd.DataFrame]:
    """The status-history and sessions tables, long, with the participant's code."""
    who = data.participants[["participant_id", "code", "centre_code", "inclusion_date"]]
    status = data.status_changes.merge(who, on="participant_id", how="inner")
    status = status[["participant_id", "code", "centre_code", "status_change_id", "status",
                     "effective_date"]].sort_values(["participant_id", "effective_date",
                                                     "status_change_id"], kind="stable")
    s = data.sessions.merge(who, on="participant_id", how="inner")
    deadline = s["inclusion_date"] + pd.Timedelta(days=data.config.session_deadline_days)
    s["within_deadline"] = (s["session_date"] <= deadline).astype(int)
    s["counts_for_protocol"] = s["counts_for_protocol"].astype(int)
    sessions = s[["participant_id", "code", "centre_code", "session_id", "session_date",
                  "modality", "setting", "injection_site", "counts_for_protocol",
                  "within_deadline"]].sort_values(["participant_id", "session_date",
                                                   "session_id"], kind="stable")
    return {"status_history": status.reset_index(drop=True),
            "sessions": sessions.reset_index(drop=True)}


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` safe to write as CSV or xlsx cells: formula-like text (headers
    included) neutralised by :func:`forms.safe_cells.neutralise`; numbers untouched.
    Stata, SPSS and Parquet files are written from ``df`` itself and keep the exact text."""
    out = df.rename(columns=lambda c: neutralise(c) if isinstance(c, str) else c)
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(neutralise)
    return out


def write_history_tables(data: AnalysisData, path: Path, fmt: str) -> list[Path]:
    """Write the status-history and sessions tables beside ``path`` in ``fmt``."""
    written = []
    for name, frame in history_frames(data).items():
        out = path.with_name(f"{path.name}.{name}.{fmt}")
        if fmt == "csv":
            spreadsheet_safe(frame).to_csv(out, index=False, lineterminator="\r\n")
        elif fmt == "xlsx":
            spreadsheet_safe(frame).to_excel(out, sheet_name=name, index=False)
        elif fmt == "parquet":
            frame.to_parquet(out, index=False)
        elif fmt == "dta":
            import pyreadstat

            pyreadstat.write_dta(frame, str(out), version=15)
        else:
            import pyreadstat

            pyreadstat.write_sav(frame, str(out))
        written.append(out)
    return written
