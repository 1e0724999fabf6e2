"""Worker processes for the crash and scale-out tests: real `relais worker` subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def worker_env(settings: Settings, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    token = settings.hubspot_access_token
    assert token is not None
    env.update(
        {
            "RELAIS_DATABASE_URL": settings.database_url,
            "RELAIS_MAPPINGS_DIR": str(settings.mappings_dir),
            "RELAIS_HUBSPOT_BASE_URL": settings.hubspot_base_url,
            "RELAIS_HUBSPOT_ACCESS_TOKEN": token.get_secret_value(),
            "RELAIS_WORKER_POLL_SECONDS": "0.05",
            "RELAIS_HUBSPOT_TIMEOUT_SECONDS": str(settings.hubspot_timeout_seconds),
            "RELAIS_SALESFORCE_TIMEOUT_SECONDS": str(settings.salesforce_timeout_seconds),
            "RELAIS_RETRY_BASE_SECONDS": "0.05",
            "RELAIS_RETRY_MAX_SECONDS": "0.5",
            "RELAIS_LOG_LEVEL": "WARNING",
            "RELAIS_RESCORE_DAILY_AT": settings.rescore_daily_at,
        }
    )
    if settings.salesforce_client_id:
        secret = settings.salesforce_client_secret
        env.update(
            {
                "RELAIS_SALESFORCE_CLIENT_ID": settings.salesforce_client_id,
                "RELAIS_SALESFORCE_CLIENT_SECRET": secret.get_secret_value() if secret else "",
                "RELAIS_SALESFORCE_LOGIN_URL": settings.salesforce_login_url,
                "RELAIS_SALESFORCE_CA_BUNDLE": str(settings.salesforce_ca_bundle or ""),
            }
        )
    env.update(overrides)
    return env


def start_worker(settings: Settings, **overrides: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=ROOT,
        env=worker_env(settings, **overrides),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
