"""The sandbox playing a CRM's webhook sender: events batched, signed or wrapped as the CRM
does, at most 10 requests in flight, retried on any failure like the CRMs do (faster)."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from hubspot.utils.signature import Signature

log = structlog.get_logger("relais.sandbox.webhooks")
MAX_CONCURRENT_REQUESTS = 10


def sign_v3(secret: str, method: str, uri: str, body: str, timestamp_ms: int) -> str:
    """HubSpot's v3 signature, computed by the official SDK."""
    return str(
        Signature.get_signature(
            secret, body, "v3", http_uri=uri, http_method=method, timestamp=str(timestamp_ms)
        )
    )


@dataclass
class WebhookConfig:
    """Where HubSpot-style webhooks go and how."""

    target_url: str
    client_secret: str
    portal_id: int = 4242
    app_id: int = 1160452
    batch_window_ms: float = 20.0
    duplicates: int = 1  # >1: each batch is delivered that many times, concurrently
    retry_delays: list[float] = field(default_factory=lambda: [0.2, 0.5, 1, 2, 4, 8, 16, 32, 60])
    timeout_seconds: float = 5.0  # HubSpot gives up on a delivery after 5 seconds
    max_batch: int = 100


@dataclass
class DeliveryStats:
    requests: int = 0
    events: int = 0
    failures: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    given_up: int = 0


@dataclass(frozen=True)
class Rendered:
    body: str
    headers: dict[str, str]


class BatchSender:
    """Collects events and delivers them in batches from a background thread.

    ``render`` turns a batch into a request body and headers; ``accepted`` says whether the
    answer acknowledges it; ``record_of`` names the record an event concerns (for timings).
    """

    def __init__(
        self,
        render: Callable[[Any, list[dict[str, Any]]], Rendered],
        accepted: Callable[[httpx.Response], bool],
        record_of: Callable[[dict[str, Any]], str],
        name: str,
    ) -> None:
        self.config: Any = None
        self.stats = DeliveryStats()
        self._render, self._accepted, self._record_of = render, accepted, record_of
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._pool = ThreadPoolExecutor(MAX_CONCURRENT_REQUESTS, thread_name_prefix=name)
        self._http = httpx.Client(timeout=5.0, trust_env=False)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)
        self._thread = threading.Thread(target=self._run, name=f"{name}-batcher", daemon=True)
        self._thread.start()
        self.sent_at: dict[str, float] = {}  # record -> first delivery attempt (epoch s)

    def configure(self, config: Any) -> None:
        self.config = config

    def emit(self, event: dict[str, Any]) -> None:
        if self.config is not None:
            with self._lock:
                self._in_flight += 1
            self._queue.put(event)

    def wait_idle(self, timeout: float) -> bool:
        """Block until every emitted event has been delivered or given up."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            config = self.config
            window = (config.batch_window_ms if config else 0) / 1000
            limit = config.max_batch if config else 100
            deadline = time.monotonic() + window
            while len(batch) < limit:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    nxt = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            self._pool.submit(self._deliver_with_retries, batch)

    def _deliver_with_retries(self, events: list[dict[str, Any]]) -> None:
        try:
            config = self.config
            if config is None:
                return
            now = time.time()
            with self._lock:
                for e in events:
                    self.sent_at.setdefault(self._record_of(e), now)
            for attempt in range(len(config.retry_delays) + 1):
                for e in events:
                    if "attemptNumber" in e:
                        e["attemptNumber"] = attempt
                copies = max(1, getattr(config, "duplicates", 1))
                if copies == 1:
                    ok = self._deliver_once(config, events)
                else:
                    with ThreadPoolExecutor(copies) as pool:
                        ok = all(
                            pool.map(lambda _: self._deliver_once(config, events), range(copies))
                        )
                if ok:
                    return
                if attempt < len(config.retry_delays):
                    time.sleep(config.retry_delays[attempt])
            with self._lock:
                self.stats.given_up += 1
        except Exception:
            log.exception("sandbox.delivery_crashed")
        finally:
            with self._idle:
                self._in_flight -= len(events)
                self._idle.notify_all()

    def _deliver_once(self, config: Any, events: list[dict[str, Any]]) -> bool:
        rendered = self._render(config, events)
        with self._lock:
            self.stats.requests += 1
        try:
            resp = self._http.post(
                config.target_url,
                content=rendered.body.encode(),
                headers=rendered.headers,
                timeout=config.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            with self._lock:
                self.stats.failures += 1
                self.stats.statuses[type(exc).__name__] += 1
            return False
        ok = self._accepted(resp)
        with self._lock:
            self.stats.statuses[str(resp.status_code)] += 1
            if ok:
                self.stats.events += len(events)
            else:
                self.stats.failures += 1
        if not ok:
            log.info("sandbox.webhook_refused", status=resp.status_code, body=resp.text[:200])
        return ok


def _render_hubspot(config: WebhookConfig, events: list[dict[str, Any]]) -> Rendered:
    body = json.dumps(events, separators=(",", ":"))
    ts = int(time.time() * 1000)
    return Rendered(
        body,
        {
            "Content-Type": "application/json",
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) - Relais sandbox",
            "X-HubSpot-Signature-v3": sign_v3(
                config.client_secret, "POST", config.target_url, body, ts
            ),
            "X-HubSpot-Request-Timestamp": str(ts),
            "X-HubSpot-Timeout-Millis": str(int(config.timeout_seconds * 1000)),
        },
    )


class WebhookSender(BatchSender):
    """HubSpot's webhooks: JSON arrays of up to 100 events, signed v3; any 2xx acknowledges."""

    def __init__(self) -> None:
        super().__init__(
            _render_hubspot,
            lambda resp: 200 <= resp.status_code < 300,
            lambda e: str(e["objectId"]),
            "hs-webhook",
        )
