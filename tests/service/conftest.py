"""Fixtures of the service tests: the in-memory CRMs with the team's users, and Relais's
worker on them over the real migrated database of ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import Settings
from app.db import Database
from app.mappings.loader import MappingsStore
from app.runtime import Runtime
from connectors.hubspot.fake import InMemoryHubSpot
from connectors.salesforce.fake import InMemorySalesforce
from tests.conftest import REPS, copy_mappings
from tests.service.helpers import Service

RETRY_MAX_ATTEMPTS = 3


@pytest.fixture
def hubspot() -> InMemoryHubSpot:
    """A HubSpot account where every rep of mappings/team.yaml has an owner."""
    fake = InMemoryHubSpot()
    for email, first, last in REPS:
        fake.add_owner(email, first, last)
    return fake


@pytest.fixture
def salesforce() -> InMemorySalesforce:
    """A Salesforce org where every rep of mappings/team.yaml has an active user."""
    fake = InMemorySalesforce()
    for email, first, last in REPS:
        fake.add_user(email, first, last)
    return fake


@pytest.fixture
def mappings_dir(tmp_path: Path) -> Path:
    """A copy of mappings/ the test may edit, without its qualification.yaml (these tests are
    about routing, linking and writing whatever a lead's score; the tests of qualification
    copy one in) and without the reps' calendars (working hours, absences, caps: the tests of
    availability give their own, with a fixed clock)."""
    target = copy_mappings(tmp_path / "mappings")
    (target / "qualification.yaml").unlink()
    return target


@pytest.fixture
def service_settings(database_url: str, mappings_dir: Path) -> Settings:
    # Retries wait longer than any test runs: a retry happens when the test says time passes.
    return Settings(
        database_url=database_url,
        mappings_dir=mappings_dir,
        hubspot_access_token="in-memory",
        salesforce_client_id="in-memory",
        hubspot_timeout_seconds=1,
        salesforce_timeout_seconds=1,
        worker_lease_seconds=10,
        retry_base_seconds=60,
        retry_max_seconds=600,
        retry_max_attempts=RETRY_MAX_ATTEMPTS,
        daily_limit_pause_seconds=3600,
        rescore_daily_at="off",  # the tests that rescore say when (tests/service/test_rescoring.py)
    )


@pytest.fixture
def service(
    service_settings: Settings,
    db: Database,
    hubspot: InMemoryHubSpot,
    salesforce: InMemorySalesforce,
) -> Iterator[Service]:
    """Relais's worker on the in-memory CRMs (built lazily: a test may first edit the
    mappings or the CRMs' users)."""
    runtime = Runtime(
        settings=service_settings,
        db=db,
        mappings=MappingsStore(service_settings.mappings_dir),
        _hubspot=hubspot,
        _salesforce=salesforce,
    )
    yield Service(runtime, hubspot, salesforce)
    runtime.close()
