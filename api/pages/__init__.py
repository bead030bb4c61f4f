"""Server-rendered pages (jinja2), mobile first; every POST form carries a CSRF token."""

from __future__ import annotations

from fastapi import FastAPI

from api.inputs import include
from api.pages import (
    account,
    admin,
    auth,
    entry,
    followup,
    jobs,
    monitoring,
    offline,
    participants,
    protection,
)


def include_all(app: FastAPI) -> None:
    for module in (auth, account, participants, entry, followup, monitoring, admin, protection,
                   jobs, offline):
        include(app, module.router)
