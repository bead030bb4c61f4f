"""Run every benchmark in this folder, one after the other (``make bench``).

Each script prints its own figures and the ratio to its floor; extra arguments given as
``BENCH_ARGS_<NAME>`` environment variables are passed through (e.g.
``BENCH_ARGS_DEMO="--participants 2000"``).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
ORDER = ["bench_validation", "bench_demo", "bench_import", "bench_api", "bench_analysis",
         "bench_redcap_export", "bench_workbook_limits"]


def main() -> int:
    failed = []
    for name in ORDER:
        script = HERE / f"{name}.py"
        if not script.exists():
            continue
        extra = shlex.split(os.environ.get(f"BENCH_ARGS_{name.removeprefix('bench_').upper()}", ""))
        print(f"\n=== {name} {' '.join(extra)}", flush=True)
        if subprocess.call([sys.executable, str(script), *extra]) != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
