"""One typed root for every setting, read from the environment (prefix ``RELAIS_``)."""

from __future__ import annotations

import re
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.errors import CALL_BOUND

# The share of a worker's lease within which a CRM write may still start (the rest covers the
# clock reads and commits around the claim).
LEASE_SEND_SHARE = 0.9


class Settings(BaseSettings):
    """Relais settings. Secrets are ``SecretStr``: they never print and never reach a log."""

    model_config = SettingsConfigDict(env_prefix="RELAIS_", extra="ignore")

    database_url: str = Field(
        "sqlite:///./relais.db",
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user@host/db",
    )
    mappings_dir: Path = Field(Path("./mappings"), description="Folder of the admins' YAML")
    public_url: str | None = Field(
        None,
        description="Public base URL HubSpot calls (e.g. https://relais.example.com); used to "
        "rebuild the signed URI behind a proxy. Without it the request's own URL is used.",
    )

    hubspot_base_url: str = "https://api.hubapi.com"
    hubspot_access_token: SecretStr | None = None
    hubspot_client_secret: SecretStr | None = Field(
        None, description="App client secret; without it POST /webhooks/hubspot answers 503"
    )
    hubspot_timeout_seconds: float = 10.0
    hubspot_owner_cache_seconds: float = 300.0
    hubspot_requests_per_10s: int = Field(
        150, ge=1, description="This process's share of the app's 10-second budget"
    )
    hubspot_max_attempts: int = Field(3, ge=1, description="Tries per call before requeueing")
    hubspot_rate_limit_wait_seconds: float = Field(
        10.0, gt=0, description="Back-off after a 10-second-window 429 without Retry-After"
    )

    salesforce_org_id: str | None = Field(
        None,
        description="Our org (15 or 18 characters); Outbound Messages from another org "
        "are refused. Without it the Outbound Message endpoint is disabled",
    )
    salesforce_outbound_token: SecretStr | None = Field(
        None, description="Optional shared token Outbound Messages must carry (?token=...)"
    )
    salesforce_webhook_secret: SecretStr | None = Field(
        None, description="HMAC secret of POST /webhooks/salesforce; without it, disabled"
    )
    salesforce_login_url: str = "https://login.salesforce.com"
    salesforce_auth: Literal["client_credentials", "jwt", "password"] = "client_credentials"
    salesforce_client_id: str | None = None
    salesforce_client_secret: SecretStr | None = None
    salesforce_username: str | None = None
    salesforce_password: SecretStr | None = None
    salesforce_security_token: SecretStr | None = None
    salesforce_private_key: SecretStr | None = None
    salesforce_ca_bundle: Path | None = None
    salesforce_api_version: str = "59.0"
    salesforce_timeout_seconds: float = 10.0

    max_body_bytes: int = Field(1024 * 1024, description="Largest webhook body accepted")
    signature_window_seconds: int = 300

    worker_threads: int = Field(
        1, ge=1, le=32, description="Worker loops per process; they coordinate like processes"
    )
    worker_batch_size: int = Field(100, ge=1, le=1000)
    worker_poll_seconds: float = Field(0.2, gt=0)
    worker_lease_seconds: float = Field(30.0, gt=0)
    retry_base_seconds: float = Field(2.0, gt=0)
    retry_max_seconds: float = Field(600.0, gt=0)
    retry_max_attempts: int = Field(10, ge=1)
    daily_limit_pause_seconds: float = Field(
        3600.0, gt=0, description="How long a connector stays paused after a DAILY 429"
    )

    rescore_daily_at: str = Field(
        "03:00",
        description="UTC time of day (HH:MM) after which the workers rescore every known lead "
        "(recency decay changes scores without any webhook); 'off': only `relais rescore`",
    )

    admin_tokens: SecretStr | None = Field(
        None, description="Comma-separated bearer tokens for /admin/api/*; none: closed"
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token GET /metrics requires; without it /metrics is open "
        "(keep it on a private network)",
    )
    api_docs: bool = Field(
        True, description="Serve /docs, /redoc and /openapi.json (false: 404, for a public host)"
    )

    log_level: str = "INFO"
    log_json: bool = False

    @field_validator(
        "hubspot_access_token",
        "hubspot_client_secret",
        "salesforce_org_id",
        "salesforce_outbound_token",
        "salesforce_webhook_secret",
        "salesforce_client_id",
        "salesforce_client_secret",
        "salesforce_password",
        "salesforce_security_token",
        "salesforce_private_key",
        "salesforce_ca_bundle",
        "admin_tokens",
        "metrics_token",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        # An empty variable means "not configured", never "the empty string is the secret".
        return None if value == "" else value

    @field_validator("rescore_daily_at")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        value = value.strip().lower()
        if value != "off" and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError(f"RELAIS_RESCORE_DAILY_AT must be HH:MM (UTC) or off, not {value!r}")
        return value

    @model_validator(mode="after")
    def _lease_covers_a_call(self) -> Settings:
        # A write is only sent while the worker's lease can cover the whole call (after it,
        # another worker may take the same write): a lease shorter than one call sends nothing.
        longest = max(self.hubspot_timeout_seconds, self.salesforce_timeout_seconds)
        needed = CALL_BOUND * longest / LEASE_SEND_SHARE
        if self.worker_lease_seconds <= needed:
            raise ValueError(
                f"RELAIS_WORKER_LEASE_SECONDS ({self.worker_lease_seconds:g}) must be longer than "
                f"{needed:g} s: a CRM write is only sent while the lease covers the whole call, "
                f"up to {CALL_BOUND:g} x the longest call timeout ({longest:g} s, "
                "RELAIS_HUBSPOT_TIMEOUT_SECONDS / RELAIS_SALESFORCE_TIMEOUT_SECONDS)"
            )
        return self

    def rescore_time(self) -> time | None:
        """RELAIS_RESCORE_DAILY_AT as a time of day (UTC), None when off."""
        at = self.rescore_daily_at
        return None if at == "off" else time.fromisoformat(at)

    def admin_token_list(self) -> list[str]:
        if self.admin_tokens is None:
            return []
        return [t.strip() for t in self.admin_tokens.get_secret_value().split(",") if t.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
