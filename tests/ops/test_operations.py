"""``/healthz``, request ids, structured logs and metrics (``api.ops``, ``cohort.logs``)."""

from __future__ import annotations

import json
import logging
import logging.config
from pathlib import Path

import pytest

from api.app import create_app
from cohort.db import engine_for, forget_engines
from cohort.logs import RequestIdFilter, logging_config
from cohort.migrate import upgrade
from tests.api.conftest import TestClient, fixed_key_settings


def _head_revision() -> str:
    """The newest migration, read from the files themselves (the one no other revises)."""
    import re as _re

    folder = Path(__file__).resolve().parents[2] / "cohort" / "migrations" / "versions"
    revs: set[str] = set()
    downs: set[str] = set()
    for path in folder.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revs |= set(_re.findall(r"^revision: str = '([^']+)'", text, _re.M))
        downs |= set(_re.findall(r"^down_revision: str \| None = '([^']+)'", text, _re.M))
    (head,) = revs - downs
    return head


HEAD_REVISION = _head_revision()


def _app(url: str) -> TestClient:
    settings = fixed_key_settings().model_copy(update={"database_url": url})
    return TestClient(create_app(settings, engine=engine_for(url)))


def test_healthz_says_whether_the_database_answers_with_the_expected_schema(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'health.db'}"
    with _app(url) as client:
        empty = client.get("/healthz")
        assert empty.status_code == 503 and empty.json()["status"] == "migrations not applied"
        upgrade(url, "0011")
        behind = client.get("/healthz")
        assert behind.status_code == 503 and behind.json()["status"] == "migrations pending"
        assert behind.json()["schema"] == "0011"
        upgrade(url)
        ok = client.get("/healthz")
        assert ok.status_code == 200, ok.text
        head = HEAD_REVISION
        assert ok.json() == {"status": "ok", "database": "reachable", "schema": head,
                             "expected": head}
    forget_engines(url)
    gone = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    with _app(gone) as client:
        down = client.get("/healthz")
        assert down.status_code == 503 and down.json()["status"] == "database unreachable"
        assert "nobody" not in down.text or "password" not in down.text


def test_every_response_carries_a_request_id_and_is_counted(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture
                                                             ) -> None:
    url = f"sqlite:///{tmp_path / 'ids.db'}"
    upgrade(url)
    with _app(url) as client, caplog.at_level(logging.INFO, logger="cohort.requests"):
        mine = client.get("/api/v1/participants/C01-0001-Z", headers={"X-Request-ID": "abc-1"})
        assert mine.status_code == 401 and mine.headers["X-Request-ID"] == "abc-1"
        odd = client.get("/api/v1/rules", headers={"X-Request-ID": "no spaces <allowed>"})
        assert odd.headers["X-Request-ID"] != "no spaces <allowed>"
        assert len(odd.headers["X-Request-ID"]) == 32
        metrics = client.get("/metrics").text
    lines = [r for r in caplog.records if r.name == "cohort.requests"]
    assert [(r.route, r.status) for r in lines][:2] == [  # type: ignore[attr-defined]
        ("/api/v1/participants/{code}", 401), ("/api/v1/rules", 200)]
    assert not any("C01-0001-Z" in r.getMessage() for r in lines)
    assert 'cohort_http_requests_total{method="GET",route="/api/v1/participants/{code}",' \
           'status="401"}' in metrics
    assert "cohort_http_request_duration_seconds_bucket" in metrics
    forget_engines(url)


def test_json_log_lines_name_the_request(capsys: pytest.CaptureFixture[str]) -> None:
    config = logging_config("json", "info")
    names = ["", *config["loggers"]]
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level,
                 logging.getLogger(n).propagate) for n in names}
    logging.config.dictConfig(config)
    try:
        from cohort.logs import request_id

        token = request_id.set("req-42")
        logging.getLogger("cohort.test").info("saved", extra={"route": "/x"})
        request_id.reset(token)
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
        assert line["request_id"] == "req-42" and line["message"] == "saved"
        assert line["level"] == "INFO" and line["route"] == "/x" and "pid" in line
        assert RequestIdFilter().filter(logging.LogRecord("x", 20, "", 0, "m", None, None))
    finally:
        for name, (handlers, level, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate
