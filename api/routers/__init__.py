"""REST resources, one router per resource, all under ``/api/v1``."""

from __future__ import annotations

from fastapi import FastAPI

from api.inputs import include
from api.problems import SIGNED_IN
from api.routers import (
    accounts,
    auth,
    centres,
    deviations,
    jobs,
    meta,
    monitoring,
    participants,
    questionnaires,
    sessions,
)

PREFIX = "/api/v1"


def include_all(app: FastAPI) -> None:
    """Every resource that needs a signed-in person documents the same error bodies
    (``Problem``); ``auth`` documents its own, ``meta`` needs no sign-in."""
    include(app, auth.router, prefix=PREFIX)
    for module in (centres, accounts, participants, questionnaires, sessions, deviations,
                   monitoring, jobs):
        include(app, module.router, prefix=PREFIX, responses=SIGNED_IN)
    include(app, jobs.exports, prefix=PREFIX, responses=SIGNED_IN)
    include(app, meta.router)
