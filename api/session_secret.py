"""The key that signs page session cookies when ``COHORT_SECRET_KEY`` is not set.

A constant default would be published with the code, and anyone could forge a cookie for
any account. Instead a random key is generated on first use and kept in a file readable
only by its owner (mode 0600), so restarts (and several workers) keep the same key and
signed-in people stay signed in:

* SQLite: ``<database file>.secret`` next to the database file;
* any other database URL (PostgreSQL): ``cohort-secret.key`` in the working directory.

Production deployments should set ``COHORT_SECRET_KEY`` explicitly (shared by every server).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy.engine import make_url

from cohort.settings import Settings

SECRET_BYTES = 48
OTHER_DATABASES_FILE = "cohort-secret.key"


def secret_path(database_url: str) -> Path:
    """Where the generated key is kept for this database."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        db = Path(url.database)
        return db.with_name(db.name + ".secret")
    return Path.cwd() / OTHER_DATABASES_FILE


def _read(path: Path) -> str:
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise RuntimeError(
            f"The session key file {path} is empty or too short. Delete it so a new key is "
            "generated (everyone will have to sign in again), or set COHORT_SECRET_KEY."
        )
    return key


def load_or_create(path: Path) -> str:
    """The key in ``path``, created (0600, exclusively) if it does not exist yet.

    ``O_EXCL`` makes concurrent first starts agree: one worker writes, the others read.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    key = secrets.token_urlsafe(SECRET_BYTES)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
    return key


def session_secret(settings: Settings) -> str:
    """``COHORT_SECRET_KEY`` if set, else the generated key kept for this database."""
    if settings.secret_key:
        return settings.secret_key
    return load_or_create(secret_path(settings.database_url))
