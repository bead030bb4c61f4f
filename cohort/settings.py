"""Configuration from the environment, read once and overridable in tests.

Everything a deployment changes (database URL, visit windows, the secret that signs
cookies) lives here so that no module reads ``os.environ`` on its own.
"""

from __future__ import annotations

from functools import cache

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
    # Visit windows in days around the target day after inclusion.
    m6_target_day: int = 182
    m12_target_day: int = 365
    window_days: int = 42
    # M6 and M12 half-widths of their own (COHORT_M6_WINDOW_DAYS, COHORT_M12_WINDOW_DAYS);
    # unset, both use window_days.
    m6_window_days: int | None = None
    m12_window_days: int | None = None
    session_deadline_days: int = 183
    echo_sql: bool = False
    # The declared primary endpoint of the outcome analysis (ANRS-AERLI's): the group ×
    # time interaction of this outcome at this visit. Every other outcome × visit is a
    # secondary endpoint, with Holm-adjusted p-values.
    primary_outcome: str = "any_risk_practice"
    primary_visit: str = "M6"
    # Seed of everything random in the report (imputations); printed in the report.
    analysis_seed: int = 20261122
    # Processes the report fits its models in (1: one after the other, in this process).
    analysis_workers: int = 2


@cache
def get_settings() -> Settings:
    """Return the process-wide settings; tests call ``get_settings.cache_clear()``."""
    return Settings()
