"""Configuration from the environment, read once and overridable in tests.

Everything a deployment changes (database URL, visit windows, the secret that signs
cookies) lives here so that no module reads ``os.environ`` on its own.
"""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings read from ``COHORT_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="COHORT_", extra="ignore")

    database_url: str = "sqlite:///cohort.db"
    # Signs the page session cookie. Unset: a random key is generated once and kept in a
    # 0600 file (see ``api.session_secret``); never a published constant.
    secret_key: str | None = None
    # Send the session cookie over HTTPS only. Off for the loopback demo; turn it on
    # (COHORT_COOKIE_SECURE=true) in any deployment served over TLS.
    cookie_secure: bool = False
    # The visits come from the event mapping (cohort.schedule); their target days and
    # half-widths from here. A visit named M<n> is due at n months (M6: day 182) unless
    # COHORT_VISIT_TARGET_DAYS='{"M6": 180}' says otherwise; every visit's window is
    # window_days either side unless COHORT_VISIT_WINDOW_DAYS='{"M24": 60}' gives its own;
    # inclusion's questionnaire may be filled up to m0_window_days after inclusion.
    # COHORT_VISIT_LABELS='{"M24": "Two years"}' names them on pages.
    visit_target_days: dict[str, int] = Field(default_factory=dict)
    visit_window_days: dict[str, int] = Field(default_factory=dict)
    visit_labels: dict[str, str] = Field(default_factory=dict)
    window_days: int = 42
    m0_window_days: int = 14
    # Deprecated shorthands for the OUTSIDER schedule (COHORT_M6_TARGET_DAY…): they fill
    # the M6/M12 entries of the dicts above when those do not give them.
    m6_target_day: int | None = None
    m12_target_day: int | None = None
    m6_window_days: int | None = None
    m12_window_days: int | None = None
    session_deadline_days: int = 183
    # Years the data are kept after the study (or a centre) is locked; then `cohort archive`
    # lists them as due for deletion (it never deletes). COHORT_RETENTION_YEARS.
    retention_years: int = Field(default=20, ge=0, le=100)
    echo_sql: bool = False
    # COHORT_DEFAULT_LANGUAGE ("en" or "fr"): the language of a reader who chose none and
    # whose browser asks for none we speak. Read by forms.i18n (the lowest layer) from the
    # environment; kept here so every setting is listed in one place.
    default_language: str = "en"
    # The project title the REDCap API reports (content=project).
    study_title: str = "OUTSIDER cohort"

    # Limits on what comes in (README, "Limits"). A request body past max_body_bytes is
    # refused while it streams in (413); workbook and REDCap uploads may be up to
    # max_upload_bytes.
    max_body_bytes: int = 1024 * 1024
    max_upload_bytes: int = 20 * 1024 * 1024
    # Workbooks and REDCap exports (cohort.excel.guard): rows over all sheets, columns,
    # and the size of the XML once decompressed, all checked before a sheet is parsed.
    workbook_max_rows: int = 20_000
    workbook_max_columns: int = 1_000
    workbook_max_xml_bytes: int = 160 * 1024 * 1024
    # How long a web write waits for another writer (a long import) before it answers 503
    # with Retry-After: the server's own queue on SQLite, lock_timeout on PostgreSQL
    # (SQLite's busy timeout for other processes is the same 10 s).
    write_wait_seconds: float = 10.0

    # The declared primary endpoint of the outcome analysis (ANRS-AERLI's): the group ×
    # time interaction of this outcome at this visit. Every other outcome × visit is a
    # secondary endpoint, with Holm-adjusted p-values.
    primary_outcome: str = "any_risk_practice"
    primary_visit: str = "M6"
    # Seed of everything random in the report (imputations); printed in the report.
    analysis_seed: int = 20261122
    # Processes the report fits its models in (1: one after the other, in this process).
    analysis_workers: int = 2

    # Running as a service (README, "Deployment"). Redis for the values every server
    # process shares (annotated downloads, the retention cache); unset: the database.
    redis_url: str | None = None
    # Web imports of a file larger than this run as background jobs (progress on a page);
    # smaller ones answer at once. Exports and the analysis report always run as jobs.
    job_import_bytes: int = Field(default=256 * 1024, ge=0)
    # Days a finished job's files (uploads, exports, reports) are kept for download.
    job_keep_days: int = Field(default=7, ge=1, le=365)
    # Run background jobs inside each server process (a dedicated `cohort worker` may run
    # them instead, or as well: COHORT_JOBS_IN_SERVER=false leaves them to it).
    jobs_in_server: bool = True
    # A job whose process stopped sending heartbeats for this long (it was killed, or its
    # machine restarted) is started again by another worker (PostgreSQL).
    job_stalled_seconds: float = Field(default=30.0, ge=3, le=3600)
    # Days a phone keeps its offline copy (participant list, forms) without the worker
    # signing in again; then the copy is wiped and only unsent entries wait (COHORT_OFFLINE_DAYS).
    offline_days: int = Field(default=7, ge=1, le=60)
    # Once a server process has started, what it holds (the libraries, the app: about
    # 150,000 objects) is left out of the garbage collector's full passes (gc.freeze), which
    # otherwise walked it every few seconds under load, holding every request for
    # 115-190 ms (COHORT_FREEZE_HEAP=false to keep the interpreter's default).
    freeze_heap: bool = True
    # Logs: one JSON object per line with the request id (json), or plain lines (text).
    log_format: str = Field(default="json", pattern="^(json|text)$")
    log_level: str = Field(default="info", pattern="^(debug|info|warning|error)$")


@cache
def get_settings() -> Settings:
    """Return the process-wide settings; tests call ``get_settings.cache_clear()``."""
    return Settings()
