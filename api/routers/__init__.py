"""REST resources, one router per resource, all under ``/api/v1``."""

from __future__ import annotations

from fastapi import FastAPI

from api.routers import (
    accounts,
    auth,
    centres,
    deviations,
    meta,
    monitoring,
    participants,
    questionnaires,
    sessions,
)

PREFIX = "/api/v1"


def include_all(app: FastAPI) -> None:
    for module in (auth, centres, accounts, participants, questionnaires, sessions,
                   deviations, monitoring):
        app.include_router(module.router, prefix=PREFIX)
    app.include_router(meta.router)
