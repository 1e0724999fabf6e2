"""The HubSpot side of the sandbox: CRM v3 contacts and owners, plus a control API."""

from __future__ import annotations

import copy
import itertools
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from connectors.sandbox.faults import (
    DroppedConnection,
    FaultBase,
    FaultBook,
    HeldAnswerRoute,
    delay,
    gateway_page,
    hold_answer,
    retry_after_headers,
)
from connectors.sandbox.webhooks import WebhookConfig, WebhookSender

BATCH_LIMIT = 100
RATE_WINDOW_SECONDS = 10.0
OWNER_PROPERTY = "hubspot_owner_id"


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def _error(
    status: int,
    message: str,
    category: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def contact_event(
    event_id: int,
    portal_id: int,
    app_id: int,
    cid: str,
    kind: str,
    source: str,
    prop: str | None = None,
    value: str | None = None,
    *,
    generic: bool = False,
) -> dict[str, Any]:
    """The webhook event HubSpot sends for a contact's creation or property change (shared by
    the sandbox and the in-memory fake). ``source`` INTEGRATION: our app's own write, its echo."""
    event: dict[str, Any] = {
        "eventId": event_id,
        "subscriptionId": 25 if kind == "creation" else 26,
        "portalId": portal_id,
        "appId": app_id,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": f"{'object' if generic else 'contact'}.{kind}",
        "attemptNumber": 0,
        "objectId": int(cid),
        "changeSource": source,
    }
    if generic:
        event["objectTypeId"] = "0-1"
    if kind == "creation":
        event["changeFlag"] = "CREATED"
    else:
        event["propertyName"] = prop
        event["propertyValue"] = value
    if source == "INTEGRATION":
        event["sourceId"] = str(app_id)
    return event


@dataclass
class SandboxContact:
    id: str
    properties: dict[str, str]
    created_at: float
    updated_at: float
    owner_set_at: float | None = None
    owner_writes: int = 0


@dataclass
class SandboxOwner:
    id: str
    email: str
    first_name: str
    last_name: str
    user_id: int
    archived: bool = False


class Fault(FaultBase):
    """A HubSpot fault: the shared fields (``connectors/sandbox/faults.py``) and, for a 429,
    the ``policyName`` of the body."""

    policy: str | None = Field(
        None, description="429 policyName: TEN_SECONDLY_ROLLING (default) or DAILY"
    )


class WebhookSetup(BaseModel):
    target_url: str
    client_secret: str
    portal_id: int = 4242
    app_id: int = 1160452
    batch_window_ms: float = 20.0
    duplicates: int = Field(1, ge=1, le=10)
    retry_delays: list[float] | None = None
    generic_events: bool = Field(False, description="object.* events instead of contact.*")
    subscribed_properties: list[str] = Field(default_factory=lambda: [OWNER_PROPERTY])


class NewContacts(BaseModel):
    contacts: list[dict[str, str]]


class Settings(BaseModel):
    latency_ms: float | None = None
    rate_limit_per_10s: int | None = None
    daily_limit: int | None = None


@dataclass
class HubSpotState:
    access_token: str
    latency_ms: float = 0.0
    rate_limit_per_10s: int = 190
    daily_limit: int = 1_000_000
    contacts: dict[str, SandboxContact] = field(default_factory=dict)
    owners: dict[str, SandboxOwner] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)  # per operation, and per variant
    api_calls: int = 0
    faults: list[Fault] = field(default_factory=list)
    faults_served: Counter[str] = field(default_factory=Counter)  # faults met, per operation
    call_log: deque[tuple[float, str, int]] = field(default_factory=lambda: deque(maxlen=10000))
    window: deque[float] = field(default_factory=deque)
    daily_used: int = 0
    subscribed_properties: list[str] = field(default_factory=lambda: [OWNER_PROPERTY])
    generic_events: bool = False
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))
    event_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


def _enum(*values: str) -> dict[str, Any]:
    return {"type": "enumeration", "options": list(values)}


# A HubSpot account's contact properties as Relais reads them; enumerations carry the default
# options (accounts customise lifecycle stages and lead statuses).
DEFAULT_PROPERTIES: dict[str, dict[str, Any]] = {
    **{
        name: {"type": "string", "options": []}
        for name in (
            "email",
            "firstname",
            "lastname",
            "jobtitle",
            "phone",
            "company",
            "country",
            "salesforceleadid",
            "salesforcecontactid",
            "hs_email_domain",
            "state",
            "hs_language",
            "siren",
            "siret",
            "naf_code",
        )
    },
    "numberofemployees": {"type": "number", "options": []},
    "annualrevenue": {"type": "number", "options": []},
    # The account's own engagement counters and opt-out flags, and the custom properties an
    # admin creates for the shipped fields.yaml.
    "num_conversion_events": {"type": "number", "options": []},
    "hs_email_optout": {"type": "bool", "options": ["true", "false"]},
    **{
        name: {"type": "bool", "options": ["true", "false"]}
        for name in ("quote_requested", "demo_requested", "hard_bounced")
    },
    "pricing_page_views": {"type": "number", "options": []},
    "notes_last_updated": {"type": "datetime", "options": []},
    "hubspot_owner_id": {"type": "enumeration", "options": []},
    "industry": _enum(
        "CONSTRUCTION",
        "MANUFACTURING",
        "INDUSTRIAL_AUTOMATION",
        "BUILDING_MATERIALS",
        "RETAIL",
        "COMPUTER_SOFTWARE",
        "OTHER",
    ),
    "hs_analytics_source": _enum(
        "ORGANIC_SEARCH",
        "PAID_SEARCH",
        "EMAIL_MARKETING",
        "SOCIAL_MEDIA",
        "REFERRALS",
        "OTHER_CAMPAIGNS",
        "DIRECT_TRAFFIC",
        "OFFLINE",
        "PAID_SOCIAL",
    ),
    "lifecyclestage": _enum(
        "subscriber",
        "lead",
        "marketingqualifiedlead",
        "salesqualifiedlead",
        "opportunity",
        "customer",
        "evangelist",
        "other",
    ),
    "hs_lead_status": _enum(
        "NEW",
        "OPEN",
        "IN_PROGRESS",
        "OPEN_DEAL",
        "UNQUALIFIED",
        "ATTEMPTED_TO_CONTACT",
        "CONNECTED",
        "BAD_TIMING",
    ),
}


class HubSpotSandbox:
    """HubSpot's CRM API as Relais uses it, with the vendor's limits and error bodies."""

    def __init__(self, access_token: str = "sandbox-token") -> None:
        self.lock = threading.Lock()
        self.state = HubSpotState(access_token=access_token)
        self.faults = FaultBook[Fault](
            self.lock, lambda: (self.state.faults, self.state.faults_served)
        )
        self.webhooks = WebhookSender()
        self.properties = copy.deepcopy(DEFAULT_PROPERTIES)  # tests may edit their copy
        self.portal_id = 4242
        self.app_id = 1160452
        self.router = self._build_router()

    # -- state helpers (also used in-process by tests and the demo) ---------------------

    def add_owner(
        self, email: str, first_name: str = "", last_name: str = "", archived: bool = False
    ) -> SandboxOwner:
        with self.lock:
            n = len(self.state.owners)
            owner = SandboxOwner(
                id=str(90000 + n),
                email=email.lower(),
                first_name=first_name,
                last_name=last_name,
                user_id=7_000_000 + n,
                archived=archived,
            )
            self.state.owners[owner.id] = owner
            return owner

    def create_contacts(self, items: list[dict[str, str]], source: str = "FORM") -> list[str]:
        now = time.time()
        created: list[SandboxContact] = []
        with self.lock:
            for props in items:
                cid = str(next(self.state.ids))
                contact = SandboxContact(cid, {k: str(v) for k, v in props.items()}, now, now)
                self.state.contacts[cid] = contact
                created.append(contact)
        for contact in created:
            self._emit(contact.id, "creation", source=source)
        return [c.id for c in created]

    def change_contact(self, cid: str, props: dict[str, str], source: str = "CRM_UI") -> None:
        with self.lock:
            contact = self.state.contacts[cid]
            contact.properties.update(props)
            contact.updated_at = time.time()
        for name, value in props.items():
            self._emit(cid, "propertyChange", name, value, source=source)

    def _emit(
        self,
        cid: str,
        kind: str,
        prop: str | None = None,
        value: str | None = None,
        source: str = "CRM_UI",
    ) -> None:
        if kind == "propertyChange" and prop not in self.state.subscribed_properties:
            return
        event = contact_event(
            next(self.state.event_ids), self.portal_id, self.app_id, cid, kind, source, prop,
            value, generic=self.state.generic_events,
        )  # fmt: skip
        self.webhooks.emit(event)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            contacts = list(self.state.contacts.values())
            sent_at = self.webhooks.sent_at
            latencies = [
                c.owner_set_at - sent_at[c.id]
                for c in contacts
                if c.owner_set_at is not None and c.id in sent_at
            ]
            per_owner = Counter(
                c.properties.get(OWNER_PROPERTY)
                for c in contacts
                if c.properties.get(OWNER_PROPERTY)
            )
            d = self.webhooks.stats
            return {
                "calls": dict(self.state.calls),
                "api_calls": self.state.api_calls,
                "faults_served": dict(self.state.faults_served),
                "contacts": len(contacts),
                "owned": sum(1 for c in contacts if c.properties.get(OWNER_PROPERTY)),
                "owner_writes": sum(c.owner_writes for c in contacts),
                "per_owner": dict(per_owner),
                "webhook_to_owner_seconds": latencies,
                "deliveries": {
                    "requests": d.requests,
                    "events": d.events,
                    "failures": d.failures,
                    "given_up": d.given_up,
                    "statuses": dict(d.statuses),
                },
            }

    # -- HTTP ---------------------------------------------------------------------------

    async def _gate(self, request: Request, operation: str, *variants: str) -> Response | None:
        """Latency, auth, injected faults and rate limits, in HubSpot's order. ``variants`` are
        narrower names a fault may aim at (``contacts.batch_read.by_email``)."""
        # The body is read before any latency: a client that times out meanwhile does not
        # stop the call from taking effect afterwards, as on the real CRM.
        await request.body()
        st = self.state
        with self.lock:
            st.api_calls += 1
            for name in (operation, *variants):
                st.calls[name] += 1
        fault = self.faults.take(operation, *variants)
        await delay(st.latency_ms + (fault.latency_ms if fault else 0.0))
        hold_answer(request, fault)
        status = 200
        try:
            if request.headers.get("authorization") != f"Bearer {st.access_token}":
                status = 401
                return _error(
                    401,
                    "Authentication credentials not found. This API supports "
                    "OAuth 2.0 authentication.",
                    "INVALID_AUTHENTICATION",
                )
            if fault is not None and fault.reset:
                status = 0  # no HTTP status reached the client
                return DroppedConnection()
            if fault is not None and fault.status >= 400:
                status = fault.status
                return self._fault_response(fault)
            now = time.time()
            with self.lock:
                while st.window and st.window[0] <= now - RATE_WINDOW_SECONDS:
                    st.window.popleft()
                if st.daily_used >= st.daily_limit:
                    status = 429
                    return self._rate_limited("DAILY", "You have reached your daily limit.")
                if len(st.window) >= st.rate_limit_per_10s:
                    status = 429
                    return self._rate_limited(
                        "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."
                    )
                st.window.append(now)
                st.daily_used += 1
            return None
        finally:
            with self.lock:
                st.call_log.append((time.time(), operation, status))

    def _rate_limited(
        self, policy: str, message: str, headers: dict[str, str] | None = None
    ) -> JSONResponse:
        return JSONResponse(
            {
                "status": "error",
                "message": message,
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": policy,
                "groupName": f"publicapi:app-{self.app_id}",
            },
            status_code=429,
            headers=headers,
        )

    def _fault_response(self, fault: Fault) -> Response:
        headers = retry_after_headers(fault)
        if fault.status == 429:
            policy = fault.policy or "TEN_SECONDLY_ROLLING"
            return self._rate_limited(
                policy, f"You have reached your {policy.lower()} limit.", headers
            )
        if fault.status in (502, 504):
            return gateway_page(fault.status, headers)
        return _error(
            fault.status, "internal error (injected by the sandbox)", "INTERNAL_ERROR", headers
        )

    def _contact_json(self, c: SandboxContact, props: list[str] | None) -> dict[str, Any]:
        wanted = props if props is not None else ["email", "firstname", "lastname"]
        properties: dict[str, str | None] = {p: c.properties.get(p) for p in wanted}
        properties["hs_object_id"] = c.id
        return {
            "id": c.id,
            "properties": properties,
            "createdAt": _iso(c.created_at),
            "updatedAt": _iso(c.updated_at),
            "archived": False,
        }

    def _build_router(self) -> APIRouter:
        r = APIRouter(route_class=HeldAnswerRoute)
        st = self.state

        @r.get("/crm/v3/owners")
        @r.get("/crm/v3/owners/")
        async def list_owners(
            request: Request,
            limit: int = 100,
            after: str | None = None,
            email: str | None = None,
            archived: bool = False,
        ) -> Response:
            if (denied := await self._gate(request, "owners.list")) is not None:
                return denied
            limit = max(1, min(limit, 500))
            with self.lock:
                owners = [
                    o
                    for o in st.owners.values()
                    if o.archived == archived and (email is None or o.email == email.lower())
                ]
            start = int(after or 0)
            page = owners[start : start + limit]
            body: dict[str, Any] = {
                "results": [
                    {
                        "id": o.id,
                        "email": o.email,
                        "firstName": o.first_name,
                        "lastName": o.last_name,
                        "userId": o.user_id,
                        "archived": o.archived,
                        "createdAt": _iso(0),
                        "updatedAt": _iso(0),
                        "teams": [],
                    }
                    for o in page
                ]
            }
            if start + limit < len(owners):
                body["paging"] = {"next": {"after": str(start + limit)}}
            return JSONResponse(body)

        @r.get("/crm/v3/properties/contacts")
        async def list_properties(request: Request) -> Response:
            if (denied := await self._gate(request, "properties.list")) is not None:
                return denied
            results = [
                {
                    "name": name,
                    "label": name,
                    "type": spec["type"],
                    "fieldType": "select" if spec["type"] == "enumeration" else "text",
                    "options": [
                        {"label": v, "value": v, "hidden": False, "displayOrder": i}
                        for i, v in enumerate(spec["options"])
                    ],
                }
                for name, spec in self.properties.items()
            ]
            return JSONResponse({"results": results})

        @r.post("/crm/v3/objects/contacts/batch/read")
        async def batch_read(request: Request) -> Response:
            body = await request.json()
            by_email = body.get("idProperty") == "email"
            variants = ("contacts.batch_read.by_email",) if by_email else ()
            if (denied := await self._gate(request, "contacts.batch_read", *variants)) is not None:
                return denied
            inputs = body.get("inputs") or []
            if len(inputs) > BATCH_LIMIT:
                return _error(
                    400,
                    "The maximum number of inputs supported in a batch is 100. "
                    "Please reduce the number of items and try again",
                    "VALIDATION_ERROR",
                )
            started = time.time()
            props = body.get("properties")
            results, missing = [], []
            with self.lock:
                emails = (
                    {(c.properties.get("email") or "").lower(): c for c in st.contacts.values()}
                    if by_email
                    else {}
                )
                for item in inputs:
                    key = str(item.get("id"))
                    c = emails.get(key.lower()) if by_email else st.contacts.get(key)
                    if c is None:
                        missing.append(str(item.get("id")))
                    else:
                        results.append(self._contact_json(c, props))
            out: dict[str, Any] = {
                "status": "COMPLETE",
                "results": results,
                "startedAt": _iso(started),
                "completedAt": _iso(time.time()),
            }
            if missing:
                out["numErrors"] = 1
                out["errors"] = [
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "message": "Could not get some CONTACT objects, they may be deleted or not "
                        "exist. Check that ids are valid.",
                        "context": {"ids": missing},
                    }
                ]
                return JSONResponse(out, status_code=207)
            return JSONResponse(out)

        @r.post("/crm/v3/objects/contacts/batch/update")
        async def batch_update(request: Request) -> Response:
            if (denied := await self._gate(request, "contacts.batch_update")) is not None:
                return denied
            body = await request.json()
            inputs = body.get("inputs") or []
            if len(inputs) > BATCH_LIMIT:
                return _error(
                    400,
                    "The maximum number of inputs supported in a batch is 100. "
                    "Please reduce the number of items and try again",
                    "VALIDATION_ERROR",
                )
            ids = [str(i.get("id")) for i in inputs]
            if len(set(ids)) != len(ids):
                return _error(400, "Duplicate IDs found in batch input", "VALIDATION_ERROR")
            now = time.time()
            with self.lock:
                invalid = [
                    (i["properties"][OWNER_PROPERTY])
                    for i in inputs
                    if OWNER_PROPERTY in (i.get("properties") or {})
                    and i["properties"][OWNER_PROPERTY] not in ("", None)
                    and str(i["properties"][OWNER_PROPERTY]) not in st.owners
                ]
                if invalid:
                    # One invalid owner id rejects the whole batch, as HubSpot does.
                    detail = ", ".join(
                        f'{{"isValid":false,"message":"{v} was not a valid owner ID",'
                        f'"error":"INVALID_OWNER_ID","name":"{OWNER_PROPERTY}"}}'
                        for v in invalid
                    )
                    return _error(
                        400, f"Property values were not valid: [{detail}]", "VALIDATION_ERROR"
                    )
                results, missing, changes = [], [], []
                for item in inputs:
                    c = st.contacts.get(str(item.get("id")))
                    if c is None:
                        missing.append(str(item.get("id")))
                        continue
                    props = {k: str(v) for k, v in (item.get("properties") or {}).items()}
                    for k, v in props.items():
                        if c.properties.get(k) != v:
                            changes.append((c.id, k, v))
                    if OWNER_PROPERTY in props:
                        c.owner_writes += 1
                        if c.owner_set_at is None and props[OWNER_PROPERTY]:
                            c.owner_set_at = now
                    c.properties.update(props)
                    c.updated_at = now
                    results.append(self._contact_json(c, list(props)))
            for cid, k, v in changes:
                self._emit(cid, "propertyChange", k, v, source="INTEGRATION")
            out: dict[str, Any] = {
                "status": "COMPLETE",
                "results": results,
                "startedAt": _iso(now),
                "completedAt": _iso(time.time()),
            }
            if missing:
                out["numErrors"] = 1
                out["errors"] = [
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "message": "Could not get some CONTACT objects, they may be "
                        "deleted or not exist. Check that ids are valid.",
                        "context": {"ids": missing},
                    }
                ]
                return JSONResponse(out, status_code=207)
            return JSONResponse(out)

        @r.get("/crm/v3/objects/contacts/{cid}")
        async def get_contact(
            request: Request, cid: str, properties: str | None = None
        ) -> Response:
            if (denied := await self._gate(request, "contacts.get")) is not None:
                return denied
            with self.lock:
                c = st.contacts.get(cid)
                if c is None:
                    return _error(404, f"resource not found: contact {cid}", "OBJECT_NOT_FOUND")
                return JSONResponse(
                    self._contact_json(c, properties.split(",") if properties else None)
                )

        @r.post("/crm/v3/objects/contacts", status_code=201)
        async def create_contact(request: Request) -> Response:
            if (denied := await self._gate(request, "contacts.create")) is not None:
                return denied
            body = await request.json()
            [cid] = self.create_contacts([body.get("properties") or {}], source="INTEGRATION")
            with self.lock:
                return JSONResponse(self._contact_json(st.contacts[cid], None), status_code=201)

        # -- control API (the sandbox's own, not HubSpot's) ---------------------------

        @r.post("/_sandbox/hubspot/webhooks")
        async def setup_webhooks(cfg: WebhookSetup) -> dict[str, str]:
            st.subscribed_properties = cfg.subscribed_properties
            st.generic_events = cfg.generic_events
            self.portal_id, self.app_id = cfg.portal_id, cfg.app_id
            wc = WebhookConfig(
                target_url=cfg.target_url,
                client_secret=cfg.client_secret,
                portal_id=cfg.portal_id,
                app_id=cfg.app_id,
                batch_window_ms=cfg.batch_window_ms,
                duplicates=cfg.duplicates,
            )
            if cfg.retry_delays is not None:
                wc.retry_delays = cfg.retry_delays
            self.webhooks.configure(wc)
            return {"status": "ok"}

        @r.post("/_sandbox/hubspot/contacts")
        async def sandbox_create(new: NewContacts) -> dict[str, list[str]]:
            return {"ids": self.create_contacts(new.contacts)}

        @r.patch("/_sandbox/hubspot/contacts/{cid}")
        async def sandbox_change(cid: str, props: dict[str, str]) -> dict[str, str]:
            self.change_contact(cid, props)
            return {"status": "ok"}

        @r.post("/_sandbox/hubspot/owners")
        async def sandbox_owner(owner: dict[str, str]) -> dict[str, str]:
            o = self.add_owner(
                owner["email"], owner.get("first_name", ""), owner.get("last_name", "")
            )
            return {"id": o.id, "user_id": str(o.user_id)}

        self.faults.routes(r, "/_sandbox/hubspot/faults", Fault)

        @r.post("/_sandbox/hubspot/settings")
        async def settings(s: Settings) -> dict[str, str]:
            with self.lock:
                if s.latency_ms is not None:
                    st.latency_ms = s.latency_ms
                if s.rate_limit_per_10s is not None:
                    st.rate_limit_per_10s = s.rate_limit_per_10s
                if s.daily_limit is not None:
                    st.daily_limit = s.daily_limit
            return {"status": "ok"}

        @r.get("/_sandbox/hubspot/stats")
        async def stats() -> dict[str, Any]:
            return self.stats()

        @r.get("/_sandbox/hubspot/contacts/{cid}")
        async def peek(cid: str) -> Response:
            with self.lock:
                c = st.contacts.get(cid)
                if c is None:
                    return _error(404, "no such contact", "OBJECT_NOT_FOUND")
                return JSONResponse(
                    {"id": c.id, "properties": c.properties, "owner_writes": c.owner_writes}
                )

        return r
