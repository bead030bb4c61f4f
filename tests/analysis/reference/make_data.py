"""Rebuild the reference rows that the R scripts beside this file were run on.

The rows come from the project's own generator (``cohort demo``: 1,000 participants,
seed 12, centre ICC 0.05, as of 2026-11-22), extracted with ``analysis.data.load_frames``.
Run from the repository root: ``.venv/bin/python tests/analysis/reference/make_data.py``;
then ``Rscript tests/analysis/reference/reference.R`` prints the numbers stored in
``test_analysis_r_reference.py``. The CSV files are committed, so CI needs neither step.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

AS_OF = date(2026, 11, 22)


def main() -> None:
    from analysis.data import load_frames
    from cohort.db import create_schema, engine_for, session_scope
    from cohort.demo import build_demo

    with tempfile.TemporaryDirectory() as tmp:
        engine = engine_for(f"sqlite:///{tmp}/ref.db")
        create_schema(engine)
        with session_scope(engine) as session:
            build_demo(session, participants=1000, seed=12, as_of=AS_OF, centre_icc=0.05)
        data = load_frames(engine, as_of=AS_OF)
        engine.dispose()
    p = data.participants
    p.assign(intervention=(p["group_itt"] == "intervention").astype(int))[
        ["participant_id", "centre_code", "intervention", "age_at_inclusion", "ltfu_days",
         "ltfu_months", "ltfu_event", "ltfu_outcome"]
    ].to_csv(HERE / "participants.csv", index=False)
    long = data.long
    out = long[["participant_id", "centre_code", "group_itt", "timepoint", "month",
                "age_at_inclusion", "any_risk_practice", "any_complication"]].copy()
    out["any_risk_practice"] = out["any_risk_practice"].astype("Int64")
    out["any_complication"] = out["any_complication"].astype("Int64")
    out.sort_values(["participant_id", "month"]).to_csv(HERE / "visits.csv", index=False)


if __name__ == "__main__":
    main()
