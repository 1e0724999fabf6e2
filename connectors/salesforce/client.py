"""Salesforce connector on simple-salesforce, with our own auth, retries and classification.

simple-salesforce builds ``https://`` URLs from the instance host, has no timeout and no retry
(except a re-login it can only do when it holds a password), and has no sObject Collections
wrapper. So: we obtain the OAuth token ourselves from a configurable login URL, hand it
``session_id`` + ``instance_url`` and a ``requests.Session`` that trusts the configured CA
(``trust_env`` off: REQUESTS_CA_BUNDLE would otherwise override ``verify``), pass a timeout on
every call, renew an expired session once and replay, and call ``composite/sobjects`` through
``restful``. simple-salesforce's exceptions carry no response headers: a response hook on the
session keeps the last ``Retry-After`` seen by each thread.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import jwt
import requests
import structlog
from prometheus_client import Gauge
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession
from tenacity import RetryCallState, Retrying, retry_if_exception

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
from connectors.metrics import CRM_CALL_SECONDS, CRM_CALLS
from connectors.results import UpdateFailure, UpdateResult
from connectors.salesforce.port import (
    COLLECTION_LIMIT,
    QUERY_IDS_PER_CALL,
    RecordUpdate,
    SalesforceSettings,
    SfField,
    SfQueue,
    SfRecord,
    SfUser,
)
from connectors.salesforce_ids import to18

log = structlog.get_logger("relais.salesforce")
T = TypeVar("T")
API_USAGE = Gauge(
    "relais_salesforce_api_usage", "Salesforce API requests used / allocated", ["kind"]
)
LOCKED = "UNABLE_TO_LOCK_ROW"
# Back-off after a rate limit that did not say how long (Salesforce never sends Retry-After).
RATE_LIMIT_WAIT_SECONDS = 5.0
# Longest wait spent inside one call; a longer Retry-After goes back to the queue instead.
MAX_INLINE_WAIT_SECONDS = 5.0


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def soql_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _errors(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, bytes | str):
        try:
            content = json.loads(content)
        except ValueError:
            return []
    if isinstance(content, dict):
        content = [content]
    return [e for e in content if isinstance(e, dict)] if isinstance(content, list) else []


def classify(status: int, content: Any, retry_after: float | None = None) -> CrmError:
    """Turn a Salesforce error answer into the error the worker knows how to handle.
    ``retry_after``: the answer's ``Retry-After`` in seconds, when it had one."""
    errors = _errors(content)
    code = str(errors[0].get("errorCode")) if errors else None
    message = str(errors[0].get("message")) if errors else f"Salesforce answered HTTP {status}"
    if code == "REQUEST_LIMIT_EXCEEDED" and "TotalRequests" in message:
        # The org's rolling 24-hour allocation: stop calling, alert an admin.
        return QuotaExhausted(message, status=status, category=code)
    if status == 429 or code == "REQUEST_LIMIT_EXCEEDED":
        # Rate limited (a 429 from Salesforce's edge, or too many concurrent long requests):
        # back off and come back, when told to if we were told.
        wait = retry_after if retry_after is not None else RATE_LIMIT_WAIT_SECONDS
        return RetryableError(message, status=status, category=code, retry_after=wait)
    if status >= 500 or status == 408 or code in ("SERVER_UNAVAILABLE", LOCKED):
        # A gateway's HTML page (502, 504) has no error array: the status decides.
        return RetryableError(message, status=status, category=code, retry_after=retry_after)
    if status in (401, 403):
        return AdminActionRequired(
            f"Salesforce refused access ({code}: {message}). Check the connected app, the "
            "integration user's permissions and RELAIS_SALESFORCE_* credentials.",
            status=status,
            category=code,
        )
    if code in ("INVALID_FIELD", "INVALID_TYPE", "INVALID_FIELD_FOR_INSERT_UPDATE"):
        return AdminActionRequired(f"{code}: {message}", status=status, category=code)
    return IntegrationBug(f"{code}: {message}", status=status, category=code)


class SalesforceClient:
    """The Salesforce port on simple-salesforce. Thread-safe: one session, re-login locked."""

    name = "salesforce"  # the metrics label
    crm = Crm.SALESFORCE

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._session = requests.Session()
        self._session.trust_env = False  # REQUESTS_CA_BUNDLE must not override verify
        self._session.verify = str(settings.ca_bundle) if settings.ca_bundle else True
        self._session.hooks["response"].append(self._remember_retry_after)
        self._seen = threading.local()  # per thread: the last answer's Retry-After
        self._lock = threading.Lock()
        self._sf: Salesforce | None = None
        self._usage: tuple[int, int] | None = None

    # -- auth -------------------------------------------------------------------------------

    def _token_request(self) -> dict[str, str]:
        s = self.settings
        secret = s.client_secret.get_secret_value() if s.client_secret else None
        if s.auth == "client_credentials":
            return {
                "grant_type": "client_credentials",
                "client_id": s.client_id,
                "client_secret": secret or "",
            }
        if s.auth == "password":
            token = s.security_token.get_secret_value() if s.security_token else ""
            password = (s.password.get_secret_value() if s.password else "") + token
            return {
                "grant_type": "password",
                "client_id": s.client_id,
                "client_secret": secret or "",
                "username": s.username or "",
                "password": password,
            }
        if s.private_key is None or not s.username:
            raise AdminActionRequired(
                "the JWT bearer flow needs RELAIS_SALESFORCE_USERNAME and "
                "RELAIS_SALESFORCE_PRIVATE_KEY"
            )
        assertion = jwt.encode(
            {
                "iss": s.client_id,
                "sub": s.username,
                "aud": s.login_url.rstrip("/"),
                "exp": int(time.time()) + 180,
            },
            s.private_key.get_secret_value(),
            algorithm="RS256",
        )
        return {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}

    def _remember_retry_after(self, resp: requests.Response, *_: Any, **__: Any) -> None:
        self._seen.retry_after = retry_after_seconds(resp.headers.get("Retry-After"))

    def _last_retry_after(self) -> float | None:
        value: float | None = getattr(self._seen, "retry_after", None)
        return value

    def _login(self) -> Salesforce:
        url = self.settings.login_url.rstrip("/") + "/services/oauth2/token"
        started = time.perf_counter()
        try:
            resp = self._session.post(
                url, data=self._token_request(), timeout=self.settings.timeout_seconds
            )
        except requests.RequestException as exc:
            CRM_CALLS.labels(self.name, "oauth.token", "network").inc()
            error = self._network_error(exc, "login")
            if error.category == NO_ANSWER:
                error.category = None  # a login changes no record: always safe to try again
            raise error from exc
        finally:
            CRM_CALL_SECONDS.labels(self.name, "oauth.token").observe(time.perf_counter() - started)
        status = resp.status_code
        CRM_CALLS.labels(self.name, "oauth.token", str(status)).inc()
        try:
            body = resp.json() if resp.content else {}
        except ValueError:  # a proxy's or a gateway's HTML page
            body = {}
        body = body if isinstance(body, dict) else {}
        if status == 429 or status == 408 or status >= 500:
            # Throttled or down: the credentials may be fine, so this is no admin's job yet.
            wait = retry_after_seconds(resp.headers.get("Retry-After"))
            if wait is None and status == 429:
                wait = RATE_LIMIT_WAIT_SECONDS
            raise RetryableError(
                f"Salesforce login answered HTTP {status} ({body.get('error')})",
                status=status,
                category=str(body.get("error")) if body.get("error") else None,
                retry_after=wait,
            )
        if status != 200 or "access_token" not in body:
            raise AdminActionRequired(
                f"Salesforce login failed ({body.get('error')}: "
                f"{body.get('error_description')}); check RELAIS_SALESFORCE_AUTH, CLIENT_ID and "
                "the matching secret or key",
                status=resp.status_code,
                category=str(body.get("error")),
            )
        log.info("salesforce.logged_in", instance=body["instance_url"])
        return Salesforce(
            session_id=body["access_token"],
            instance_url=body["instance_url"],
            session=self._session,
            version=self.settings.api_version,
        )

    @staticmethod
    def _network_error(exc: requests.RequestException, what: str) -> CrmError:
        """No HTTP answer: a reset, a timeout, a truncated body, a TLS failure. All transient
        but one: a certificate we do not trust stays untrusted however often we retry."""
        untrusted = "certificate verify failed" in str(exc).lower()
        if isinstance(exc, requests.exceptions.SSLError) and untrusted:
            return AdminActionRequired(
                f"Salesforce's TLS certificate is not trusted ({type(exc).__name__}); set "
                "RELAIS_SALESFORCE_CA_BUNDLE to the certificate authority to trust"
            )
        # An SSLError can also be a handshake cut short (SSLEOFError): the network, not the CA.
        return RetryableError(
            f"Salesforce {what} unreachable: {type(exc).__name__}: {exc}", category=NO_ANSWER
        )

    def _client(self, renew: bool = False) -> Salesforce:
        with self._lock:
            if self._sf is None or renew:
                try:
                    self._sf = self._login()
                except CrmError as exc:
                    # The next attempt logs in first rather than replaying an expired session.
                    self._sf = None
                    exc.crm = self.crm
                    raise
            return self._sf

    # -- plumbing ---------------------------------------------------------------------------

    def _once(
        self, operation: str, fn: Callable[[Salesforce], T], deadline: float | None = None
    ) -> T:
        """One call; an expired session is renewed once and the call replayed. No call starts
        that could outlast ``deadline`` (see ``connectors.errors.check_deadline``)."""
        for renewed in (False, True):
            sf = self._client(renew=renewed)
            check_deadline(deadline, CALL_BOUND * self.settings.timeout_seconds)
            started = time.perf_counter()
            self._seen.retry_after = None
            try:
                result = fn(sf)
            except SalesforceExpiredSession as exc:
                CRM_CALLS.labels(self.name, operation, "401").inc()
                if renewed:
                    raise classify(401, exc.content) from exc
                log.info("salesforce.session_expired_renewing", operation=operation)
                continue
            except SalesforceError as exc:
                CRM_CALLS.labels(self.name, operation, str(exc.status)).inc()
                raise classify(exc.status, exc.content, self._last_retry_after()) from exc
            except requests.RequestException as exc:
                CRM_CALLS.labels(self.name, operation, "network").inc()
                raise self._network_error(exc, "API") from exc
            finally:
                CRM_CALL_SECONDS.labels(self.name, operation).observe(time.perf_counter() - started)
            CRM_CALLS.labels(self.name, operation, "200").inc()
            self._read_usage(sf)
            return result
        raise AssertionError("unreachable")

    def _call(
        self,
        operation: str,
        fn: Callable[[Salesforce], T],
        *,
        write: bool = False,
        deadline: float | None = None,
    ) -> T:
        """``write``: a call that changes records; one that got no answer is not retried here
        (see ``connectors.errors.retry_inline``)."""
        settings = self.settings

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RetryableError) and exc.retry_after is not None:
                return exc.retry_after
            return float(min(0.25 * 2 ** (state.attempt_number - 1), 2.0))

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= settings.max_attempts:
                return True
            # Coming back sooner than Salesforce asked would only be refused again: a wait
            # longer than we may spend inline goes back to the queue with its retry_after.
            exc = state.outcome.exception() if state.outcome else None
            return (
                isinstance(exc, RetryableError)
                and exc.retry_after is not None
                and exc.retry_after > MAX_INLINE_WAIT_SECONDS
            )

        retrying = Retrying(
            retry=retry_if_exception(lambda exc: retry_inline(exc, write=write)),
            stop=stop,
            wait=wait,
            sleep=self._sleep,
            reraise=True,
            before_sleep=lambda s: log.warning(
                "salesforce.retry",
                operation=operation,
                attempt=s.attempt_number,
                error=str(s.outcome.exception()) if s.outcome else None,
            ),
        )
        try:
            result: T = retrying(self._once, operation, fn, deadline)
        except CrmError as exc:
            exc.crm = self.crm
            handed_back(exc, write=write, timeout=settings.timeout_seconds)
            raise
        return result

    def _read_usage(self, sf: Salesforce) -> None:
        usage = sf.api_usage.get("api-usage")
        if usage is not None:
            self._usage = (int(usage.used), int(usage.total))
            API_USAGE.labels("used").set(usage.used)
            API_USAGE.labels("allocated").set(usage.total)

    @property
    def api_usage(self) -> tuple[int, int] | None:
        return self._usage

    # -- the port ---------------------------------------------------------------------------

    def _query(self, soql: str) -> list[dict[str, Any]]:
        timeout = self.settings.timeout_seconds
        result = self._call("query", lambda sf: sf.query_all(soql, timeout=timeout))
        return list(result.get("records", []))

    @staticmethod
    def _record(sobject: str, row: dict[str, Any]) -> SfRecord:
        fields = {k: v for k, v in row.items() if k != "attributes"}
        return SfRecord(id=to18(str(row["Id"])), sobject=sobject, fields=fields)

    def read_records(
        self, sobject: str, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, SfRecord]:
        wanted = list(dict.fromkeys(to18(i) for i in ids))
        columns = ", ".join(dict.fromkeys(["Id", *fields]))
        found: dict[str, SfRecord] = {}
        for chunk in chunks(wanted, QUERY_IDS_PER_CALL):
            soql = (
                # values go through soql_quote; names come from our code, not from input
                f"SELECT {columns} FROM {sobject} WHERE Id IN "  # noqa: S608
                f"({', '.join(soql_quote(i) for i in chunk)})"
            )
            for row in self._query(soql):
                rec = self._record(sobject, row)
                found[rec.id] = rec
        return found

    def find_by_email(
        self, sobject: str, emails: Sequence[str], fields: Sequence[str]
    ) -> list[SfRecord]:
        columns = ", ".join(dict.fromkeys(["Id", "Email", "CreatedDate", *fields]))
        unique = list(dict.fromkeys(e.lower() for e in emails if e))
        out: list[SfRecord] = []
        converted = " AND IsConverted = false" if sobject == "Lead" else ""
        for chunk in chunks(unique, QUERY_IDS_PER_CALL):
            soql = (
                f"SELECT {columns} FROM {sobject} WHERE Email IN "  # noqa: S608
                f"({', '.join(soql_quote(e) for e in chunk)}){converted} "
                "ORDER BY CreatedDate, Id"
            )
            out.extend(self._record(sobject, row) for row in self._query(soql))
        return out

    def list_users(self) -> list[SfUser]:
        rows = self._query("SELECT Id, Email, IsActive FROM User WHERE IsActive = true")
        return [
            SfUser(to18(r["Id"]), str(r.get("Email") or "").lower(), bool(r["IsActive"]))
            for r in rows
            if r.get("Email")
        ]

    def describe(self, sobject: str) -> list[SfField]:
        timeout = self.settings.timeout_seconds
        data = self._call(
            "sobjects.describe",
            lambda sf: sf.restful(f"sobjects/{sobject}/describe", timeout=timeout),
        )
        return [
            SfField(
                name=str(f["name"]),
                type=str(f.get("type", "string")),
                picklist=tuple(
                    str(v["value"]) for v in f.get("picklistValues") or [] if v.get("active", True)
                ),
            )
            for f in (data or {}).get("fields", [])
        ]

    def list_queues(self) -> list[SfQueue]:
        rows = self._query("SELECT Id, Name, DeveloperName FROM Group WHERE Type = 'Queue'")
        return [SfQueue(to18(r["Id"]), str(r["Name"]), str(r["DeveloperName"])) for r in rows]

    def _collection(
        self, updates: Sequence[RecordUpdate], deadline: float | None = None
    ) -> list[dict[str, Any]]:
        body = {
            "allOrNone": False,
            "records": [
                {**u.fields, "attributes": {"type": u.sobject}, "id": u.id} for u in updates
            ],
        }
        timeout = self.settings.timeout_seconds
        result = self._call(
            "composite.sobjects.update",
            lambda sf: sf.restful(
                "composite/sobjects",
                method="PATCH",
                json=body,
                timeout=timeout,
                # Without it the org's Lead assignment rules may overwrite the owner we set.
                headers={"Sforce-Auto-Assign": "FALSE"},
            ),
            write=True,
            deadline=deadline,
        )
        return list(result or [])

    def update_records(
        self, updates: Sequence[RecordUpdate], *, deadline: float | None = None
    ) -> UpdateResult:
        result = UpdateResult()
        locked: list[RecordUpdate] = []
        batches = list(chunks(list(updates), COLLECTION_LIMIT))
        for n, chunk in enumerate(batches):
            try:
                outcomes = self._collection(chunk, deadline)
            except CrmError as exc:
                if n == 0:
                    raise  # nothing was written: the caller classifies the error
                # Earlier collections went through: report them, and these as failed.
                for rest in batches[n:]:
                    result.failed.extend(
                        UpdateFailure(u.id, str(exc), exc.category or "ERROR") for u in rest
                    )
                break
            for i, update in enumerate(chunk):
                outcome = outcomes[i] if i < len(outcomes) else {}
                if outcome.get("id") not in (None, update.id):
                    outcome = {
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "UNEXPECTED_RESULT",
                                "message": f"result for {outcome.get('id')} instead of {update.id}",
                            }
                        ],
                    }
                self._settle(update, outcome, result, locked)
        # Locked rows are retried alone, within a budget well under a worker's lease; what is
        # still locked after it goes back to the queue.
        budget = time.monotonic() + self.settings.lock_budget_seconds
        for update in locked:
            if time.monotonic() < budget:
                self._retry_locked(update, result, budget, deadline)
            else:
                result.failed.append(
                    UpdateFailure(
                        update.id, f"{LOCKED}: record still locked, retried later", LOCKED
                    )
                )
        return result

    def _settle(
        self,
        update: RecordUpdate,
        outcome: dict[str, Any],
        result: UpdateResult,
        locked: list[RecordUpdate],
    ) -> None:
        # Each record's result sits inside the HTTP 200: inspect every one.
        if outcome.get("success"):
            result.updated.append(update.id)
            return
        errors = outcome.get("errors") or [{}]
        code = str(errors[0].get("statusCode"))
        if code == LOCKED:
            locked.append(update)
            return
        fields = ", ".join(errors[0].get("fields") or []) or "(no field)"
        result.failed.append(
            UpdateFailure(
                update.id,
                f"{code} on {update.sobject} {update.id}, field {fields}: "
                f"{errors[0].get('message')}",
                code,
            )
        )

    def _retry_locked(
        self,
        update: RecordUpdate,
        result: UpdateResult,
        budget: float,
        deadline: float | None,
    ) -> None:
        """A locked record is retried alone, with jittered back-off, until ``budget``."""
        for attempt in range(self.settings.lock_retries):
            base = self.settings.lock_backoff_seconds * 2**attempt
            self._sleep(self._rng.uniform(base / 2, base))
            try:
                [outcome] = self._collection([update], deadline) or [{}]
            except CrmError as exc:
                result.failed.append(UpdateFailure(update.id, str(exc), exc.category or LOCKED))
                return
            again: list[RecordUpdate] = []
            self._settle(update, outcome, result, again)
            if not again:
                return
            if time.monotonic() > budget:
                break
        result.failed.append(
            UpdateFailure(update.id, f"{LOCKED}: record still locked, retried later", LOCKED)
        )

    def close(self) -> None:
        self._session.close()
