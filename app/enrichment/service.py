"""The enricher of the read stage (``app/records/service.py`` ``Enricher``): the providers
enrichment.yaml turns on, run on every record read, each within the timeout.

Fail-open: a provider that raises or is too slow never holds a lead back. The lead goes on
with what is known, and ``enrichment_gaps`` (a list field) names the providers that failed,
``enrichment_gap_reasons`` says why (``phone: timed out after 2 s; ...``), for the decision.
A value a provider changed keeps the CRM's beside it (``base.replaced``), for write-back."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, wait
from dataclasses import replace

import httpx
import structlog

from app.db import Database
from app.enrichment import calls
from app.enrichment.base import Found, Provider, replaced
from app.enrichment.registry import Reach
from app.enrichment.registry import providers as configured
from app.mappings.fields import LeadField
from app.mappings.loader import MappingsStore
from app.mappings.schemas import Enrichment
from app.records.schemas import Record

GAPS = LeadField.ENRICHMENT_GAPS.value
GAP_REASONS = "enrichment_gap_reasons"  # shown with the decision; not a field rules use
log = structlog.get_logger("relais.enrichment")


# Each provider's calls for a batch run at once, this many at a time: a batch of 100 leads waits
# at most one timeout for enrichment, not 100 (the worker's lease must cover the read stage).
CONCURRENCY = 8


def run(providers: Sequence[Provider], lead: Mapping[str, str | None], timeout: float) -> Found:
    """One lead: see ``run_batch``."""
    return run_batch(providers, [lead], timeout)[0]


def run_batch(
    providers: Sequence[Provider], leads: Sequence[Mapping[str, str | None]], timeout: float
) -> list[Found]:
    """Each lead with what each provider found (its own fields only; None never erases a
    known value) and the gaps of those that failed, or were not done ``timeout`` seconds after
    the batch started (a provider stuck past it is left behind, its call a gap)."""
    until = time.monotonic() + timeout
    futures: list[list[Future[Found]]] = [[Future() for _ in providers] for _ in leads]
    for i, provider in enumerate(providers):
        _start(provider, deque(zip(leads, [row[i] for row in futures], strict=True)), until)
    wait([f for row in futures for f in row], timeout=timeout)
    for row in futures:
        for future in row:
            future.cancel()  # not started yet: never will be (a running one is left to end)
    return [_merge(providers, lead, row, timeout) for lead, row in zip(leads, futures, strict=True)]


Todo = deque[tuple[Mapping[str, str | None], Future[Found]]]


def _start(provider: Provider, todo: Todo, until: float) -> None:
    """Threads of the provider's own (one that hangs holds its own threads, never another's
    calls) taking its calls from ``todo`` until ``until``. Daemon threads: a call that never
    returns never keeps the process from exiting (a ThreadPoolExecutor's are joined at exit); a
    call out ends by itself soon after ``until`` (``calls.fetch_json``)."""
    for n in range(min(CONCURRENCY, len(todo))):
        name = f"relais-enrich-{provider.name}-{n}"
        threading.Thread(target=_work, args=(provider, todo, until), name=name, daemon=True).start()


def _work(provider: Provider, todo: Todo, until: float) -> None:
    calls.hold_to(until)  # this thread's calls out end by the batch's deadline
    while True:
        try:
            lead, future = todo.popleft()
        except IndexError:
            return
        if time.monotonic() >= until:
            future.cancel()  # too late to start: a gap, not a call nobody waits for
            continue
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(provider.enrich(dict(lead)))
        except Exception as error:  # any failure is a gap (``_merge``), never a lost lead
            future.set_exception(error)


def _merge(
    providers: Sequence[Provider],
    lead: Mapping[str, str | None],
    futures: Sequence[Future[Found]],
    timeout: float,
) -> Found:
    out: Found = dict(lead)
    gaps: list[tuple[str, str]] = []
    for provider, future in zip(providers, futures, strict=True):
        if not future.done() or future.cancelled():
            gaps.append((provider.name, f"timed out after {timeout:g} s"))
        elif (error := future.exception()) is not None:  # any failure is a gap, never a lost lead
            gaps.append((provider.name, f"{type(error).__name__}: {error}"))
        else:
            allowed = set(provider.fields)
            found = {f: v for f, v in future.result().items() if f in allowed and v is not None}
            for f, v in found.items():
                if v != lead.get(f):  # the CRM's own value, kept for write-back to respect
                    out.setdefault(replaced(f), lead.get(f))
            out |= found
    out[GAPS] = ";".join(name for name, _ in gaps) or None
    out[GAP_REASONS] = "; ".join(f"{name}: {why}" for name, why in gaps) or None
    return out


def gaps_of(lead: Mapping[str, str | None]) -> list[tuple[str, str]]:
    """Each (provider, why) ``_merge`` recorded in an enriched lead, in the providers' order."""
    names = [n for n in (lead.get(GAPS) or "").split(";") if n]
    text = lead.get(GAP_REASONS) or ""
    out: list[tuple[str, str]] = []
    for i, name in enumerate(names):
        start = text.find(f"{name}: ") + len(name) + 2
        end = text.find(f"; {names[i + 1]}: ", start) if i + 1 < len(names) else -1
        out.append((name, text[start : end if end >= 0 else len(text)]))
    return out


USER_AGENT = "relais-enrichment"
CALLING_OUT = ("register", "http")  # the providers with a connection pool of their own


def _client() -> httpx.Client:
    return httpx.Client(headers={"User-Agent": USER_AGENT})


class Enricher:
    """Runs the providers of the active mappings' enrichment.yaml; none without the file.
    ``db``: where answers are cached (None: not cached)."""

    def __init__(
        self,
        mappings: MappingsStore,
        db: Database | None = None,
        build: Callable[[Enrichment, Reach], list[Provider]] = configured,
        budget_seconds: float | None = None,
    ) -> None:
        self.mappings = mappings
        self.build = build
        # The most a batch may wait for enrichment: a share of the worker's lease, so that the
        # reads and the decision still fit in it whatever enrichment.yaml's timeout says.
        self.budget_seconds = budget_seconds
        # A client per provider that calls out, its connections reused from lead to lead: a
        # provider stuck on a slow server holds its own pool, never the register's.
        clients = {name: _client() for name in CALLING_OUT}
        self.reach = Reach(_client(), db, clients=clients)

    def enrich(self, records: Sequence[Record]) -> list[Record]:
        config = self.mappings.current.enrichment
        if config is None:
            return list(records)
        providers = self.build(config, self.reach)
        timeout = config.timeout_seconds
        if self.budget_seconds is not None:
            timeout = min(timeout, self.budget_seconds)
        leads = run_batch(providers, [r.lead for r in records], timeout)
        out = []
        for record, lead in zip(records, leads, strict=True):
            if lead[GAPS]:
                log.warning("enrichment.gap", record=str(record.key), gaps=lead[GAP_REASONS])
            out.append(replace(record, lead=lead))
        return out
