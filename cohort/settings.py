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
    secret_key: str = "change-me-in-production-this-is-only-for-the-demo"
    # Visit windows in days around the target day after inclusion.
    m6_target_day: int = 182
    m12_target_day: int = 365
    window_days: int = 42
    session_deadline_days: int = 183
    echo_sql: bool = False


@cache
def get_settings() -> Settings:
    """Return the process-wide settings; tests call ``get_settings.cache_clear()``."""
    return Settings()
