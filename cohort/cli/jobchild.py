"""``python -m cohort.cli.jobchild JOB_ID``: one job in a process of its own.

Started by :func:`cohort.jobs.child.run_in_child` (see there why a child process). An
entry point like the command line: it loads the analysis package, whose jobs register
themselves, so it lives here, above the domain.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import analysis.jobs  # noqa: F401  (registers the export and analysis jobs)
from cohort.db import engine_for
from cohort.jobs.runner import execute
from cohort.logs import configure
from cohort.settings import get_settings


def main(job_id: str) -> int:
    """Run one job (the parent waits for this process; its exit code is the answer)."""
    settings = get_settings()
    configure(settings.log_format, settings.log_level)
    engine = engine_for(settings.database_url)
    # SQLite: never take over a running job (its heartbeat cannot be written while its
    # transaction holds the lock); ``ThreadRunner.recover`` requeues those of dead processes.
    never = timedelta(days=3650) if engine.dialect.name == "sqlite" else None
    execute(engine, job_id, stale_after=never)
    return 0


if __name__ == "__main__":  # pragma: no cover - run by cohort.jobs.child.run_in_child
    sys.exit(main(sys.argv[1]))
