"""HubSpot connector on hubspot-api-client, with our own retries and error classification.

The SDK is synchronous (urllib3). We build each generated API once (the SDK's discovery
properties build a new HTTP pool on every access), disable urllib3's retries (its defaults
never retry POST, and cannot tell a DAILY 429 from a TEN_SECONDLY one) and retry here.
Responses are read raw (``_preload_content=False``) and parsed as plain JSON: the SDK's
model deserialisation is slow and drops 207 error details.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import structlog
import urllib3
from hubspot import HubSpot
from hubspot.crm.contacts.exceptions import ApiException as ContactsApiException
from hubspot.crm.owners.exceptions import ApiException as OwnersApiException
from hubspot.crm.properties.exceptions import ApiException as PropertiesApiException
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
)

from connectors.crm import Crm
from connectors.errors import (
    CALL_BOUND,
    NO_ANSWER,
    AdminActionRequired,
    CrmError,
    IntegrationBug,
    QuotaExhausted,
    RetryableError,
    check_deadline,
    handed_back,
    retry_after_seconds,
    retry_inline,
)
from connectors.hubspot.port import (
    BATCH_LIMIT,
    Contact,
    ContactUpdate,
    HubSpotSettings,
    Owner,
    PropertyInfo,
    ReadResult,
)
from connectors.metrics import CRM_CALL_SECONDS, CRM_CALLS
from connectors.results import UpdateFailure, UpdateResult

log = structlog.get_logger("relais.hubspot")
T = TypeVar("T")
# One class per generated module: a module missing here lets its errors escape unclassified.
_API_EXCEPTIONS = (ContactsApiException, OwnersApiException, PropertiesApiException)
# What a dropped connection, a timeout or a truncated body raises, whichever layer notices.
_NETWORK_ERRORS = (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)


def chunks(items: Sequence[T], size: int = BATCH_LIMIT) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _json(data: bytes | None) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)
    return None if value is None else str(value)


def classify(status: int, body: Any, headers: Any, rate_limit_wait: float = 10.0) -> CrmError:
    """Turn a non-2xx HubSpot answer into the error the worker knows how to handle."""
    body = body if isinstance(body, dict) else {}
    message = str(body.get("message") or f"HubSpot answered HTTP {status}")
    category = body.get("category") or body.get("errorType")
    if status == 429:
        policy = body.get("policyName")
        if policy == "DAILY":
            # The account's daily allocation is shared by every app: only midnight resets it.
            return QuotaExhausted(message, status=status, category="DAILY")
        wait = retry_after_seconds(_header(headers, "Retry-After"))
        if wait is None and policy == "TEN_SECONDLY_ROLLING":
            wait = rate_limit_wait  # the rolling window is 10 s: waiting it out is safe
        return RetryableError(message, status=status, category=policy, retry_after=wait)
    if status >= 500 or status == 408:
        # A 503 may say when to come back; a gateway's HTML page has no JSON message.
        wait = retry_after_seconds(_header(headers, "Retry-After"))
        return RetryableError(message, status=status, category=category, retry_after=wait)
    if status == 401:
        return AdminActionRequired(
            f"HubSpot refused the access token ({message}). Set RELAIS_HUBSPOT_ACCESS_TOKEN to a "
            "valid private-app token.",
            status=status,
            category=category,
        )
    if status == 403:
        return AdminActionRequired(
            f"HubSpot denied access ({message}). The private app needs the scopes "
            "crm.objects.contacts.read, crm.objects.contacts.write and crm.objects.owners.read.",
            status=status,
            category=category,
        )
    if "INVALID_OWNER_ID" in message:
        # A rep's owner id is wrong: the mapping or the HubSpot user must be fixed.
        return AdminActionRequired(message, status=status, category="INVALID_OWNER_ID")
    return IntegrationBug(message, status=status, category=category)


def _network_error(exc: Exception, detail: str) -> CrmError:
    """No HTTP answer: a reset, a timeout, a truncated body, a TLS failure. All transient but
    one: a certificate we do not trust stays untrusted however often we retry."""
    detail = " ".join(detail.split())[:300]
    if "certificate verify failed" in detail.lower():
        return AdminActionRequired(
            f"HubSpot's TLS certificate is not trusted ({detail}); if a proxy inspects TLS, "
            "add its certificate authority to SSL_CERT_FILE"
        )
    return RetryableError(
        f"HubSpot unreachable: {type(exc).__name__}: {detail}", category=NO_ANSWER
    )


class RollingWindowLimiter:
    """At most ``limit`` calls in any ``window`` seconds: waiting a little here is cheaper than
    a 429, after which HubSpot's window takes 10 s to clear."""

    def __init__(
        self,
        limit: int,
        window: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit, self.window = limit, window
        self._clock, self._sleep = clock, sleep
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until a call may be made; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._calls and self._calls[0] <= now - self.window:
                    self._calls.popleft()
                if len(self._calls) < self.limit:
                    self._calls.append(now)
                    return waited
                delay = self._calls[0] + self.window - now
            self._sleep(delay)
            waited += delay


class HubSpotClient:
    """The HubSpot port on the official SDK. Thread-safe: urllib3 pools are."""

    name = "hubspot"  # the metrics label
    crm = Crm.HUBSPOT

    def __init__(
        self, settings: HubSpotSettings, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._limiter = RollingWindowLimiter(settings.requests_per_10s)
        client = HubSpot(
            access_token=settings.access_token.get_secret_value(),
            host=settings.base_url.rstrip("/"),
            retry=urllib3.Retry(total=0, redirect=0, raise_on_status=False),
        )
        self._batch = client.crm.contacts.batch_api
        self._owners = client.crm.owners.owners_api
        self._properties = client.crm.properties.core_api

    # -- plumbing ---------------------------------------------------------------------------

    def _call(
        self, operation: str, fn: Callable[[], Any], deadline: float | None = None
    ) -> tuple[int, Any, Any]:
        """One HTTP call: returns (status, parsed body, headers) or raises a CrmError."""
        self._limiter.acquire()  # may wait: the deadline is checked after it, right before
        check_deadline(deadline, CALL_BOUND * self.settings.timeout_seconds)
        started = time.perf_counter()
        try:
            resp = fn()
            # Calls do not preload the body: reading it is part of the call, and a connection
            # dropped mid-body raises here (urllib3 ProtocolError), after a 2xx status line.
            data = resp.data
        except _API_EXCEPTIONS as exc:
            CRM_CALLS.labels(self.name, operation, str(exc.status)).inc()
            if not exc.status:  # a TLS or request-building failure inside the SDK
                raise _network_error(exc, str(exc.reason)) from exc
            raise classify(
                exc.status, _json(exc.body), exc.headers, self.settings.rate_limit_wait_seconds
            ) from exc
        except _NETWORK_ERRORS as exc:
            CRM_CALLS.labels(self.name, operation, "network").inc()
            raise _network_error(exc, str(exc)) from exc
        finally:
            CRM_CALL_SECONDS.labels(self.name, operation).observe(time.perf_counter() - started)
        CRM_CALLS.labels(self.name, operation, str(resp.status)).inc()
        return resp.status, _json(data), resp.headers

    def _with_retries(
        self,
        operation: str,
        fn: Callable[[], Any],
        *,
        write: bool = False,
        deadline: float | None = None,
    ) -> tuple[int, Any, Any]:
        """``write``: a call that changes records; one that got no answer is not retried here
        (see ``connectors.errors.retry_inline``), and no attempt starts that could outlast
        ``deadline`` (see ``connectors.errors.check_deadline``)."""
        settings = self.settings

        def attempt() -> tuple[int, Any, Any]:
            return self._call(operation, fn, deadline)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RetryableError) and exc.retry_after is not None:
                return exc.retry_after
            return float(min(0.25 * 2 ** (state.attempt_number - 1), 2.0))

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= settings.max_attempts:
                return True
            # A wait longer than we may spend inline goes back to the queue instead.
            exc = state.outcome.exception() if state.outcome else None
            return (
                isinstance(exc, RetryableError)
                and exc.retry_after is not None
                and exc.retry_after > settings.max_inline_wait_seconds
            )

        retrying = Retrying(
            retry=retry_if_exception(lambda exc: retry_inline(exc, write=write)),
            stop=stop,
            wait=wait,
            sleep=self._sleep,
            reraise=True,
            before_sleep=lambda s: log.warning(
                "hubspot.retry",
                operation=operation,
                attempt=s.attempt_number,
                error=str(s.outcome.exception()) if s.outcome else None,
            ),
        )
        try:
            return retrying(attempt)
        except CrmError as exc:
            exc.crm = self.crm
            handed_back(exc, write=write, timeout=settings.timeout_seconds)
            raise

    @property
    def _timeout(self) -> float:
        return self.settings.timeout_seconds

    # -- the port ---------------------------------------------------------------------------

    def read_contacts(self, ids: Sequence[str], properties: Sequence[str]) -> ReadResult:
        result = ReadResult()
        for chunk in chunks(list(dict.fromkeys(ids))):
            body = {"inputs": [{"id": i} for i in chunk], "properties": list(properties)}
            _, data, _ = self._with_retries(
                "contacts.batch_read",
                lambda body=body: self._batch.read(  # type: ignore[misc]
                    body, archived=False, _preload_content=False, _request_timeout=self._timeout
                ),
            )
            for item in (data or {}).get("results", []):
                contact = self._contact(item)
                result.found[contact.id] = contact
            for err in (data or {}).get("errors", []):
                # 207: one error object lists every id that does not exist (or was deleted).
                result.missing.extend(str(i) for i in (err.get("context") or {}).get("ids", []))
        return result

    def read_contacts_by_email(
        self, emails: Sequence[str], properties: Sequence[str]
    ) -> dict[str, Contact]:
        found: dict[str, Contact] = {}
        wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e))
        props = list(dict.fromkeys([*properties, "email"]))
        for chunk in chunks(wanted):
            body = {
                "inputs": [{"id": e} for e in chunk],
                "properties": props,
                "idProperty": "email",
            }
            _, data, _ = self._with_retries(
                "contacts.batch_read",
                lambda body=body: self._batch.read(  # type: ignore[misc]
                    body, archived=False, _preload_content=False, _request_timeout=self._timeout
                ),
            )
            for item in (data or {}).get("results", []):
                contact = self._contact(item)
                email = (contact.properties.get("email") or "").lower()
                if email:
                    found[email] = contact
        return found

    @staticmethod
    def _contact(item: dict[str, Any]) -> Contact:
        props = {
            k: (None if v in (None, "") else str(v))
            for k, v in (item.get("properties") or {}).items()
        }
        return Contact(id=str(item["id"]), properties=props)

    def list_owners(self) -> list[Owner]:
        owners: list[Owner] = []
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": 500, "archived": False}
            if after:
                kwargs["after"] = after
            _, data, _ = self._with_retries(
                "owners.list",
                lambda kwargs=kwargs: self._owners.get_page(  # type: ignore[misc]
                    _preload_content=False, _request_timeout=self._timeout, **kwargs
                ),
            )
            for item in (data or {}).get("results", []):
                if not item.get("email"):
                    continue
                owners.append(
                    Owner(
                        id=str(item["id"]),
                        email=str(item["email"]).lower(),
                        first_name=item.get("firstName"),
                        last_name=item.get("lastName"),
                        user_id=item.get("userId"),
                        archived=bool(item.get("archived", False)),
                    )
                )
            after = ((data or {}).get("paging") or {}).get("next", {}).get("after")
            if not after:
                return owners

    def contact_properties(self) -> list[PropertyInfo]:
        _, data, _ = self._with_retries(
            "properties.list",
            lambda: self._properties.get_all(
                "contacts", archived=False, _preload_content=False, _request_timeout=self._timeout
            ),
        )
        return [
            PropertyInfo(
                name=str(p["name"]),
                type=str(p.get("type", "string")),
                options=tuple(str(o["value"]) for o in p.get("options") or []),
            )
            for p in (data or {}).get("results", [])
        ]

    def update_contacts(
        self, updates: Sequence[ContactUpdate], *, deadline: float | None = None
    ) -> UpdateResult:
        result = UpdateResult()
        for chunk in chunks(list(updates)):
            self._update_chunk(chunk, result, deadline)
        return result

    def _update_chunk(
        self, chunk: Sequence[ContactUpdate], result: UpdateResult, deadline: float | None
    ) -> None:
        body = {"inputs": [{"id": u.id, "properties": u.properties} for u in chunk]}
        try:
            _, data, _ = self._with_retries(
                "contacts.batch_update",
                lambda: self._batch.update(
                    body, _preload_content=False, _request_timeout=self._timeout
                ),
                write=True,
                deadline=deadline,
            )
        except (IntegrationBug, AdminActionRequired) as exc:
            if exc.status in (401, 403):
                raise  # credentials or scopes: no record can be written, splitting cannot help
            if len(chunk) == 1:
                result.failed.append(UpdateFailure(chunk[0].id, str(exc), exc.category))
                return
            # HubSpot rejects a whole batch for one invalid value: isolate the culprit so the
            # other records still get their owner.
            log.warning("hubspot.batch_rejected_splitting", size=len(chunk), error=str(exc))
            for update in chunk:
                self._update_chunk([update], result, deadline)
            return
        failed_ids: set[str] = set()
        for err in (data or {}).get("errors", []):
            ids = [str(i) for i in (err.get("context") or {}).get("ids", [])]
            for i in ids:
                failed_ids.add(i)
                result.failed.append(
                    UpdateFailure(i, str(err.get("message", "update failed")), err.get("category"))
                )
        for item in (data or {}).get("results", []):
            if str(item["id"]) not in failed_ids:
                result.updated.append(str(item["id"]))

    def close(self) -> None:
        for api in (self._batch, self._owners, self._properties):
            api.api_client.rest_client.pool_manager.clear()
