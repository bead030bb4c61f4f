"""Fixtures of the analysis tests: one small demo cohort, extracted once per run.

The demo cohort is written through the real services into an SQLite file (120
participants, seed 7), so the frames have the shape the live database gives.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from analysis.data import AnalysisData, load_frames
from cohort.db import create_schema, engine_for, session_scope

AS_OF = date(2026, 11, 22)


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    from cohort.demo import build_demo

    path: Path = tmp_path_factory.mktemp("analysis-demo") / "demo.db"
    url = f"sqlite:///{path}"
    engine = engine_for(url)
    create_schema(engine)
    with session_scope(engine) as session:
        build_demo(session, participants=120, seed=7, as_of=AS_OF)
    return url


@pytest.fixture(scope="session")
def demo_data(demo_url: str) -> AnalysisData:
    return load_frames(engine_for(demo_url), as_of=AS_OF)
