"""Wiring: build the services of one process from the settings (the composition root)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from app.config import Settings
from app.db import Database, utcnow
from app.enrichment.service import Enricher
from app.mappings.loader import MappingsStore
from app.outbox.service import OutboxDispatcher
from app.outbox.writers import build_writers, reachable_crms
from app.pipeline.service import LeadPipeline
from app.queue import RetryPolicy
from app.records.service import RecordReader
from app.records.sources import Parallel, record_sources
from app.rescore.schedule import DailyRescore
from app.rescore.service import Rescorer
from app.team.directory import OwnerDirectory
from app.worker.service import Role, Worker
from connectors.crm import Crm
from connectors.hubspot import HubSpotClient, HubSpotSettings
from connectors.hubspot.port import HubSpotPort
from connectors.salesforce import SalesforceClient, SalesforcePort, SalesforceSettings

log = structlog.get_logger("relais.runtime")
# The share of the worker's lease a batch may spend waiting for enrichment providers.
ENRICHMENT_SHARE = 0.25


@dataclass(frozen=True)
class CrmStatus:
    """What this process can do with one CRM, from the settings alone."""

    crm: Crm
    connector: bool  # can read and write records
    webhooks: dict[str, bool]  # endpoint -> enabled
    missing: tuple[str, ...]  # what to set for the rest, one line each

    @property
    def label(self) -> str:
        return self.crm.label

    def summary(self) -> str:
        hooks = ", ".join(f"{path} {'on' if on else 'off'}" for path, on in self.webhooks.items())
        head = f"{self.label}: connector {'on' if self.connector else 'off'}; webhooks: {hooks}"
        return head + "".join(f"\n  - {m}" for m in self.missing)


def crm_statuses(s: Settings) -> list[CrmStatus]:
    """Which CRMs, webhooks and connectors are on, and what is missing for the rest.
    Every CRM is optional: Relais runs with whatever is configured."""
    hs_missing = []
    if s.hubspot_access_token is None:
        hs_missing.append(
            "set RELAIS_HUBSPOT_ACCESS_TOKEN (private app: contacts read/write, owners read) "
            "to read and write HubSpot contacts"
        )
    if s.hubspot_client_secret is None:
        hs_missing.append(
            "set RELAIS_HUBSPOT_CLIENT_SECRET (the app's client secret) to receive "
            "HubSpot webhooks on /webhooks/hubspot"
        )
    sf_on = bool(s.salesforce_client_id)
    sf_missing = []
    if not sf_on:
        sf_missing.append(
            "set RELAIS_SALESFORCE_CLIENT_ID and its credentials (RELAIS_SALESFORCE_AUTH, "
            "_CLIENT_SECRET or _PRIVATE_KEY; see docs/salesforce-setup.md) to read and write "
            "Salesforce Leads and Contacts and to enable its webhooks"
        )
    if s.salesforce_org_id is None:
        sf_missing.append(
            "set RELAIS_SALESFORCE_ORG_ID to receive Outbound Messages on "
            "/webhooks/salesforce/outbound-message"
        )
    if s.salesforce_webhook_secret is None:
        sf_missing.append(
            "set RELAIS_SALESFORCE_WEBHOOK_SECRET to receive Flow/Apex callouts on "
            "/webhooks/salesforce"
        )
    return [
        CrmStatus(
            Crm.HUBSPOT,
            connector=s.hubspot_access_token is not None,
            webhooks={"/webhooks/hubspot": s.hubspot_client_secret is not None},
            missing=tuple(hs_missing),
        ),
        CrmStatus(
            Crm.SALESFORCE,
            connector=sf_on,
            webhooks={
                "/webhooks/salesforce/outbound-message": sf_on and s.salesforce_org_id is not None,
                "/webhooks/salesforce": sf_on and s.salesforce_webhook_secret is not None,
            },
            missing=tuple(sf_missing),
        ),
    ]


def startup_report(s: Settings) -> str:
    """The lines printed at start: each CRM, then what is missing for the rest."""
    statuses = crm_statuses(s)
    lines = ["Relais CRMs:"] + [st.summary() for st in statuses]
    if not any(st.connector for st in statuses):
        lines.append(
            "No CRM connector is configured: nothing is routed. Configure HubSpot "
            "(RELAIS_HUBSPOT_ACCESS_TOKEN) or Salesforce (RELAIS_SALESFORCE_CLIENT_ID and its "
            "credentials), or both."
        )
    return "\n".join(lines)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    mappings: MappingsStore
    wakeup: threading.Event = field(default_factory=threading.Event)
    outbox_wakeup: threading.Event = field(default_factory=threading.Event)
    _hubspot: HubSpotPort | None = None
    _salesforce: SalesforcePort | None = None
    # The instant the pipeline decides at (working hours, absences, caps); tests fix it.
    clock: Callable[[], datetime] = utcnow

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        return cls(
            settings=settings,
            db=Database(settings.database_url),
            mappings=MappingsStore(settings.mappings_dir),
        )

    @property
    def hubspot(self) -> HubSpotPort | None:
        """The HubSpot connector, or None when RELAIS_HUBSPOT_ACCESS_TOKEN is not set."""
        token = self.settings.hubspot_access_token
        if self._hubspot is None and token is not None:
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
                hint="a slow CRM may outlast the lease: a read is then redone by another worker, "
                "and a write that the lease could not cover is handed back unsent; raise "
                "RELAIS_WORKER_LEASE_SECONDS",
            )
        lease = timedelta(seconds=s.worker_lease_seconds)
        pause = timedelta(seconds=s.daily_limit_pause_seconds)
        parallel = Parallel()
        sources = record_sources(self.hubspot, self.salesforce)
        owners = OwnerDirectory(sources, s.hubspot_owner_cache_seconds)
        enricher = Enricher(
            self.mappings, self.db, budget_seconds=s.worker_lease_seconds * ENRICHMENT_SHARE
        )
        reader = RecordReader(sources, parallel, [enricher])
        pipeline = LeadPipeline(self.db, reader, self.mappings, owners, clock=self.clock)
        writers = build_writers(self.hubspot, self.salesforce)
        outbox = OutboxDispatcher(
            self.db,
            writers,
            self.retry_policy(),
            lease,
            pause,
            mappings=self.mappings,
            owners=owners,
            batch_size=s.worker_batch_size,
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
            reachable=reachable_crms(writers),  # the CRMs this process has a connector for
            rescore=self.daily_rescore(),
        )

    def daily_rescore(self) -> DailyRescore | None:
        at = self.settings.rescore_time()
        if at is None:
            return None
        lease = timedelta(seconds=self.settings.worker_lease_seconds)
        return DailyRescore(Rescorer(self.db, self.mappings, lease=lease), at)

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
