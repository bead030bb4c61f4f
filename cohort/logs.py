"""Structured logs: one JSON object per line, each carrying the request (or job) id.

The id is kept in a context variable set by the web's request middleware (``api.ops``)
and by the job runner (``cohort.jobs``), so every line written while serving a request,
by any module, names the request it belongs to; a proxy's ``X-Request-ID`` is reused, so
one id follows a request from the proxy's log to ours. Paths are logged as their route
template (``/participants/{code}``), never with the participant's code.
"""

from __future__ import annotations

import logging
import logging.config
from contextvars import ContextVar
from typing import Any

request_id: ContextVar[str | None] = ContextVar("cohort_request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (None outside a request or job)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def logging_config(fmt: str = "json", level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the server (uvicorn's loggers included):
    ``json`` for a log collector, ``text`` for a person at a terminal."""
    formatter: dict[str, Any]
    if fmt == "json":
        formatter = {"()": "pythonjsonlogger.json.JsonFormatter",
                     "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s "
                            "%(process)d",
                     "rename_fields": {"asctime": "time", "levelname": "level",
                                       "name": "logger", "process": "pid"},
                     "datefmt": "%Y-%m-%dT%H:%M:%S%z", "timestamp": False}
    else:
        formatter = {"format": "%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: "
                               "%(message)s"}
    handler = {"class": "logging.StreamHandler", "formatter": "main",
               "filters": ["request_id"], "stream": "ext://sys.stderr"}
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "root": {"handlers": ["main"], "level": upper},
        "loggers": {
            # Our request middleware logs each request (route template, status, time):
            # uvicorn's access log would repeat it with the raw path, codes included.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "uvicorn": {"handlers": ["main"], "level": upper, "propagate": False},
            "uvicorn.error": {"handlers": ["main"], "level": upper, "propagate": False},
            "procrastinate": {"handlers": ["main"], "level": "WARNING", "propagate": False},
        },
    }


def configure(fmt: str = "json", level: str = "info") -> None:
    logging.config.dictConfig(logging_config(fmt, level))
