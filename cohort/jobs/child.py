"""A job's work in a process of its own: ``python -m cohort.cli.jobchild JOB_ID``.

The runners (a server process's thread, procrastinate's worker, ``cohort worker``) start
one per job and wait for it. A job is long and busy (pandas, statsmodels, openpyxl): run
in a thread of a web server process it would hold the interpreter lock for seconds at a
time, delay every request of that process, stop its heartbeats, and make uvicorn's
supervisor take the process for hung and kill it. In a child process it delays nothing,
and the parent stays free to answer. The child reads the same ``COHORT_*`` settings, with
the database given by the parent.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from cohort.jobs import store
from forms.i18n import N_, _, use_language

log = logging.getLogger("cohort.jobs")
#: The child's entry point: it sits with the command line, above the domain, because it
#: loads every kind of job (the analysis package registers its own).
CHILD_MODULE = "cohort.cli.jobchild"
STOPPED = N_("This job stopped unexpectedly (its process ended); nothing was saved. Please "
              "try again; if it happens again, give the administrator the job number {job}.")


def run_in_child(url: str, job_id: str) -> int:
    """Run the job in a child process and wait for it; its exit code. A child that died
    without finishing the job (killed, out of memory) leaves it marked failed."""
    env = {**os.environ, "COHORT_DATABASE_URL": url}
    done = subprocess.run([sys.executable, "-m", CHILD_MODULE, job_id],  # noqa: S603
                          env=env, check=False)
    if done.returncode != 0:
        from cohort.db import engine_for

        engine = engine_for(url)
        if store.status_of(engine, job_id) == store.RUNNING:
            with use_language(store.language_of(engine, job_id)):
                store.fail(engine, job_id, _(STOPPED).format(job=job_id))
            log.error("job process ended with code %s", done.returncode,
                      extra={"job": job_id})
    return done.returncode
