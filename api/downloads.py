"""Downloads kept for a short while for one person (the annotated copy of an import), in
the store every server process shares (``cohort.shared``): the page that offers the link
and the request that follows it may be answered by different processes."""

from __future__ import annotations

import json
import secrets

from cohort.shared import SharedStore

KEEP_SECONDS = 3600


def keep_download(store: SharedStore, account_id: int, filename: str, data: bytes) -> str:
    """Keep ``data`` for an hour for this account; the token goes into the link."""
    token = secrets.token_urlsafe(16)
    head = json.dumps({"account": account_id, "filename": filename}).encode()
    store.put(f"download:{token}", head + b"\n" + data, KEEP_SECONDS)
    return token


def kept_download(store: SharedStore, token: str, account_id: int | None
                  ) -> tuple[str, bytes] | None:
    """The file name and bytes kept under ``token`` for this account, else None (expired,
    unknown, or another person's)."""
    if not token.isascii() or len(token) > 64:
        return None
    value = store.get(f"download:{token}")
    if value is None:
        return None
    head, _, data = value.partition(b"\n")
    meta = json.loads(head)
    if meta.get("account") != account_id:
        return None
    return str(meta["filename"]), data
