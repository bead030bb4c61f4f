"""Prometheus metrics of the service: requests (latency, errors) and background jobs.

With several server processes each keeps its own counters in files of a shared folder
(prometheus-client's multi-process mode, ``PROMETHEUS_MULTIPROC_DIR``, which ``cohort
serve`` sets up) and ``/metrics`` adds them up; with one process, its own registry.
Labels hold route templates, methods, status codes and job kinds: never a participant's
code or anything typed by a person.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter("cohort_http_requests_total", "HTTP requests answered",
                   ["method", "route", "status"])
LATENCY = Histogram("cohort_http_request_duration_seconds",
                    "Time to answer an HTTP request", ["method", "route"],
                    buckets=LATENCY_BUCKETS)
ERRORS = Counter("cohort_http_errors_total",
                 "Requests answered with a server error (5xx) or that failed unanswered",
                 ["method", "route"])
JOBS = Counter("cohort_jobs_total", "Background jobs finished", ["kind", "outcome"])
JOB_DURATION = Histogram("cohort_job_duration_seconds", "Time a background job ran",
                         ["kind"], buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900))
JOBS_STARTED = Counter("cohort_jobs_started_total", "Background jobs started (retries too)",
                       ["kind"])


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type: summed over every process in multi-process
    mode, this process's own otherwise."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Forget a stopped worker's live gauges (multi-process mode)."""
    if os.environ.get(MULTIPROC_ENV):
        _multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
