"""Rebuild the reference rows that the R scripts beside this file were run on.

The rows come from the project's own generator (``cohort demo``: 1,000 participants,
seed 12, centre ICC 0.05, as of 2026-11-22), extracted with ``analysis.data.load_frames``.
Run from the repository root: ``.venv/bin/python tests/analysis/reference/make_data.py``;
then ``Rscript reference.R`` and ``Rscript weights.R`` (from this folder) print the
numbers stored in ``test_analysis_r_reference.py`` and ``test_analysis_weights_r.py``.
The CSV files are committed, so CI needs neither step.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path

import pandas as pd

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
    weight_models(data)


def weight_models(data: object) -> None:
    """The weights' models' inputs (``weights.R``): the propensity score's rows and each
    follow-up visit's completion rows, as the report builds them; categorical columns
    carry a ``cat_`` prefix so that R and pandas read them as categories."""
    from analysis.design import PS_COVARIATES
    from analysis.design import covariate_frame as _covariate_frame
    from analysis.weighting import censoring_blocks

    def named(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.rename(columns={c: f"cat_{c}" for c in frame.columns
                                     if frame[c].dtype == object and c != "centre_code"})

    p = data.participants  # type: ignore[attr-defined]
    ps = _covariate_frame(p, PS_COVARIATES)
    ps.insert(0, "treated", (p["group_itt"] == "intervention").astype(int))
    ps.insert(0, "centre_code", p["centre_code"].astype(str))
    ps.insert(0, "participant_id", p["participant_id"])
    named(ps).to_csv(HERE / "ps.csv", index=False)
    for tp, block in censoring_blocks(data).items():  # type: ignore[arg-type]
        named(block).to_csv(HERE / f"completion_{tp.lower()}.csv", index=False)


if __name__ == "__main__":
    main()
