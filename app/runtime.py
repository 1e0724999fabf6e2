"""Wiring: build the services of one process from the settings (the composition root)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta

import structlog

from app.config import Settings
from app.db import Database
from app.mappings.loader import MappingsStore
from app.outbox.service import OutboxDispatcher
from app.pipeline.records import RecordReader
from app.pipeline.service import LeadPipeline
from app.queue import RetryPolicy
from app.team.directory import OwnerDirectory
from app.worker.service import Role, Worker
from connectors.hubspot import HubSpotClient, HubSpotSettings
from connectors.hubspot.port import HubSpotPort
from connectors.salesforce import SalesforceClient, SalesforcePort, SalesforceSettings

log = structlog.get_logger("relais.runtime")


class NotConfigured(Exception):
    """A required setting is missing."""


@dataclass
class Runtime:
    settings: Settings
    db: Database
    mappings: MappingsStore
    wakeup: threading.Event = field(default_factory=threading.Event)
    outbox_wakeup: threading.Event = field(default_factory=threading.Event)
    _hubspot: HubSpotPort | None = None
    _salesforce: SalesforcePort | None = None

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        return cls(
            settings=settings,
            db=Database(settings.database_url),
            mappings=MappingsStore(settings.mappings_dir),
        )

    @property
    def hubspot(self) -> HubSpotPort:
        if self._hubspot is None:
            token = self.settings.hubspot_access_token
            if token is None:
                raise NotConfigured(
                    "RELAIS_HUBSPOT_ACCESS_TOKEN is not set: the worker cannot "
                    "read or write HubSpot contacts"
                )
            self._hubspot = HubSpotClient(
                HubSpotSettings(
                    base_url=self.settings.hubspot_base_url,
                    access_token=token,
                    timeout_seconds=self.settings.hubspot_timeout_seconds,
                    max_attempts=self.settings.hubspot_max_attempts,
                    requests_per_10s=self.settings.hubspot_requests_per_10s,
                    rate_limit_wait_seconds=self.settings.hubspot_rate_limit_wait_seconds,
                )
            )
        return self._hubspot

    @property
    def salesforce(self) -> SalesforcePort | None:
        """The Salesforce connector, or None when RELAIS_SALESFORCE_CLIENT_ID is not set."""
        s = self.settings
        if self._salesforce is None and s.salesforce_client_id:
            self._salesforce = SalesforceClient(
                SalesforceSettings(
                    login_url=s.salesforce_login_url,
                    auth=s.salesforce_auth,
                    client_id=s.salesforce_client_id,
                    client_secret=s.salesforce_client_secret,
                    username=s.salesforce_username,
                    password=s.salesforce_password,
                    security_token=s.salesforce_security_token,
                    private_key=s.salesforce_private_key,
                    ca_bundle=s.salesforce_ca_bundle,
                    api_version=s.salesforce_api_version,
                    timeout_seconds=s.salesforce_timeout_seconds,
                )
            )
        return self._salesforce

    def retry_policy(self) -> RetryPolicy:
        s = self.settings
        return RetryPolicy(
            base_seconds=s.retry_base_seconds,
            max_seconds=s.retry_max_seconds,
            max_attempts=s.retry_max_attempts,
        )

    def worker(self, role: Role = "both") -> Worker:
        s = self.settings
        budget = s.hubspot_max_attempts * s.hubspot_timeout_seconds  # one call, every try
        if s.worker_lease_seconds < budget:
            log.warning(
                "worker.lease_shorter_than_worst_case",
                lease_seconds=s.worker_lease_seconds,
                worst_case_seconds=budget,
                hint="a slow CRM may outlast the lease: another worker would then redo the "
                "batch (safely, but twice); raise RELAIS_WORKER_LEASE_SECONDS",
            )
        lease = timedelta(seconds=s.worker_lease_seconds)
        pause = timedelta(seconds=s.daily_limit_pause_seconds)
        owners = OwnerDirectory(self.hubspot, s.hubspot_owner_cache_seconds, self.salesforce)
        reader = RecordReader(self.hubspot, self.salesforce)
        pipeline = LeadPipeline(self.db, reader, self.mappings, owners)
        outbox = OutboxDispatcher(
            self.db,
            self.hubspot,
            self.retry_policy(),
            lease,
            pause,
            batch_size=s.worker_batch_size,
            salesforce=self.salesforce,
            owners=owners,
        )
        return Worker(
            self.db,
            pipeline,
            outbox,
            policy=self.retry_policy(),
            lease=lease,
            batch_size=s.worker_batch_size,
            poll_seconds=s.worker_poll_seconds,
            pause_for=pause,
            wakeup=self.outbox_wakeup if role == "outbox" else self.wakeup,
            outbox_wakeup=self.outbox_wakeup,
            role=role,
        )

    def start_workers(self, stop: threading.Event) -> list[threading.Thread]:
        """RELAIS_WORKER_THREADS worker loops; while one waits on a CRM another works."""
        threads = []
        for n in range(self.settings.worker_threads):
            worker = self.worker()
            thread = threading.Thread(
                target=worker.run, args=(stop,), name=f"relais-worker-{n}", daemon=True
            )
            thread.start()
            threads.append(thread)
        return threads

    def close(self) -> None:
        if self._hubspot is not None:
            self._hubspot.close()
        if self._salesforce is not None:
            self._salesforce.close()
        self.db.dispose()
