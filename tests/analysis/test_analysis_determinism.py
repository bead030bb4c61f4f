"""Same data, same numbers: the whole report run twice in fresh processes (once with two
worker processes, once with one) gives identical estimates, and prints its seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from .conftest import AS_OF


def _report(url: str, out: Path, workers: int) -> pd.DataFrame:
    env = {**os.environ, "COHORT_DATABASE_URL": url, "COHORT_ANALYSIS_WORKERS": str(workers),
           "COHORT_ANALYSIS_SEED": "20261122"}
    done = subprocess.run(
        [sys.executable, "-m", "cohort.cli.main", "analyse", "all", "-o", str(out),
         "--as-of", AS_OF.isoformat()],
        env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return pd.read_csv(out / "estimates.csv")


def test_report_twice_in_fresh_processes_gives_identical_estimates(demo_url: str,
                                                                   tmp_path: Path) -> None:
    first = _report(demo_url, tmp_path / "a", workers=2)
    second = _report(demo_url, tmp_path / "b", workers=1)
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    assert {"ITT", "mixed-effects", "IPTW"} <= set(first["analysis"].dropna())
    html = (tmp_path / "a" / "index.html").read_text(encoding="utf-8")
    assert "Random seed of the imputations: <b>20261122</b>" in html
