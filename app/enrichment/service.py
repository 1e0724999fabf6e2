"""The enricher of the read stage (``app/records/service.py`` ``Enricher``): the providers
enrichment.yaml turns on, run on every record read, each within the timeout.

Fail-open: a provider that raises or is too slow never holds a lead back. The lead goes on
with what is known, and ``enrichment_gaps`` (a list field) names the providers that failed,
``enrichment_gap_reasons`` says why (``phone: timed out after 2 s; ...``), for the decision."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import httpx
import structlog

from app.db import Database
from app.enrichment.base import Found, Provider
from app.enrichment.registry import Reach
from app.enrichment.registry import providers as configured
from app.mappings.fields import LeadField
from app.mappings.loader import MappingsStore
from app.mappings.schemas import Enrichment
from app.records.schemas import Record

GAPS = LeadField.ENRICHMENT_GAPS.value
GAP_REASONS = "enrichment_gap_reasons"  # shown with the decision; not a field rules use
log = structlog.get_logger("relais.enrichment")


@dataclass
class _Call:
    """One provider on one lead, in a thread of its own: a provider stuck past the timeout
    is left behind (daemon) instead of holding the batch."""

    provider: Provider
    lead: Mapping[str, str | None]
    found: Found | None = None
    error: BaseException | None = None
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True, name="relais-enrich")
        self.thread.start()

    def _run(self) -> None:
        try:
            self.found = self.provider.enrich(self.lead)
        except BaseException as exc:  # any failure is a gap, never a lost lead
            self.error = exc


def run(providers: Sequence[Provider], lead: Mapping[str, str | None], timeout: float) -> Found:
    """The lead with what each provider found (its own fields only; None never erases a
    known value) and the gaps of those that failed or timed out."""
    calls = [_Call(p, dict(lead)) for p in providers]  # all start now: one deadline for all
    deadline = time.monotonic() + timeout
    out: Found = dict(lead)
    gaps: list[tuple[str, str]] = []
    for call in calls:
        call.thread.join(max(0.0, deadline - time.monotonic()))
        if call.thread.is_alive():
            gaps.append((call.provider.name, f"timed out after {timeout:g} s"))
        elif call.found is None:
            gaps.append((call.provider.name, f"{type(call.error).__name__}: {call.error}"))
        else:
            allowed = set(call.provider.fields)
            out |= {f: v for f, v in call.found.items() if f in allowed and v is not None}
    out[GAPS] = ";".join(name for name, _ in gaps) or None
    out[GAP_REASONS] = "; ".join(f"{name}: {why}" for name, why in gaps) or None
    return out


USER_AGENT = "relais-enrichment"


class Enricher:
    """Runs the providers of the active mappings' enrichment.yaml; none without the file.
    ``db``: where answers are cached (None: not cached)."""

    def __init__(
        self,
        mappings: MappingsStore,
        db: Database | None = None,
        build: Callable[[Enrichment, Reach], list[Provider]] = configured,
    ) -> None:
        self.mappings = mappings
        self.build = build
        # One client for every call out: its connections are reused from lead to lead.
        self.reach = Reach(httpx.Client(headers={"User-Agent": USER_AGENT}), db)

    def enrich(self, records: Sequence[Record]) -> list[Record]:
        config = self.mappings.current.enrichment
        if config is None:
            return list(records)
        providers = self.build(config, self.reach)
        out = []
        for record in records:
            lead = run(providers, record.lead, config.timeout_seconds)
            if lead[GAPS]:
                log.warning("enrichment.gap", record=str(record.key), gaps=lead[GAP_REASONS])
            out.append(replace(record, lead=lead))
        return out
