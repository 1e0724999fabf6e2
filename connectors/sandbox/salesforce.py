"""The Salesforce side of the sandbox: OAuth, SOQL query, sObjects, sObject Collections,
limits, Salesforce's error shapes, and Outbound Messages / Flow callouts sent to Relais."""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from connectors.salesforce_ids import to18
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
from connectors.sandbox.webhooks import BatchSender, Rendered

API_VERSION = "59.0"
COLLECTION_LIMIT = 200
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
LOCK_MESSAGE = "unable to obtain exclusive access to this record or 1 records"


def _sf_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        [{"message": message, "errorCode": code}], status_code=status, headers=headers
    )


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}+0000"


# What an injected error says when the fault does not: (errorCode, message) per status.
_FAULT_TEXT = {
    429: ("REQUEST_LIMIT_EXCEEDED", "Too many requests: retry later (injected by the sandbox)"),
    503: ("SERVER_UNAVAILABLE", "Server unavailable (injected by the sandbox)"),
}
_FAULT_DEFAULT = ("UNKNOWN_EXCEPTION", "An unexpected error occurred (injected by the sandbox)")
# The token endpoint answers OAuth errors ({error, error_description}), not the REST array.
_OAUTH_FAULT_CODE = {429: "rate_limit_exceeded"}


class SfFault(FaultBase):
    """A Salesforce fault: the shared fields (``connectors/sandbox/faults.py``) and the error
    Salesforce's body carries (``errorCode``/``message`` for the REST API, ``error``/
    ``error_description`` for ``oauth.token``); by default what fits the status."""

    error_code: str | None = Field(None, description="Default: from the status")
    message: str | None = Field(None, description="Default: from the status")

    def text(self) -> tuple[str, str]:
        code, message = _FAULT_TEXT.get(self.status, _FAULT_DEFAULT)
        return self.error_code or code, self.message or message


class ValidationRule(BaseModel):
    """Fail updates of ``object`` records whose ``field`` equals ``equals`` (as an org's
    validation rule would), naming the field and the rule."""

    object: str = "Lead"
    field: str
    equals: str
    name: str
    message: str


class NotificationSetup(BaseModel):
    target_url: str
    mode: Literal["outbound_message", "flow"] = "outbound_message"
    flow_secret: str | None = Field(None, description="HMAC secret for mode=flow")
    batch_window_ms: float = 20.0
    duplicates: int = Field(1, ge=1, le=10)
    retry_delays: list[float] = Field(default_factory=lambda: [0.2, 0.5, 1, 2, 4, 8, 16])
    fields: list[str] = Field(
        default_factory=lambda: [
            "Id",
            "Email",
            "FirstName",
            "LastName",
            "Company",
            "Title",
            "OwnerId",
            "Status",
            "LeadSource",
            "NumberOfEmployees",
            "Industry",
            "Country",
            "Phone",
        ]
    )
    timeout_seconds: float = 10.0
    max_batch: int = 100
    organization_id: str | None = Field(None, description="Override, to send a foreign org id")
    notify_api_updates: bool = Field(
        False,
        description="Also notify changes made through the API (an outbound rule that "
        "does not exclude the integration user): Relais's own writes echo back",
    )


class SfSettings(BaseModel):
    latency_ms: float | None = None
    daily_limit: int | None = None
    assignment_rule_owner: str | None = Field(
        None,
        description="Owner the org's Lead assignment rules give when Sforce-Auto-Assign "
        "is not FALSE",
    )


@dataclass
class SalesforceState:
    org_id: str
    client_id: str
    client_secret: str
    username: str
    password: str
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    latency_ms: float = 0.0
    daily_limit: int = 100_000
    daily_used: int = 0
    calls: Counter[str] = field(default_factory=Counter)  # per operation, and per variant
    api_calls: int = 0
    faults: list[SfFault] = field(default_factory=list)
    faults_served: Counter[str] = field(default_factory=Counter)  # faults met, per operation
    locked: dict[str, int] = field(default_factory=dict)  # record id -> failures left
    validation_rules: list[ValidationRule] = field(default_factory=list)
    assignment_rule_owner: str | None = None
    owner_writes: Counter[str] = field(default_factory=Counter)
    owner_set_at: dict[str, float] = field(default_factory=dict)
    auto_assign_headers: Counter[str] = field(default_factory=Counter)
    collection_sizes: list[int] = field(default_factory=list)
    seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


PREFIX = {"Lead": "00Q", "Contact": "003", "User": "005", "Group": "00G"}


def _picklist(*values: str) -> dict[str, Any]:
    return {"type": "picklist", "picklist": list(values)}


_LEAD_SOURCES = (
    "Advertisement",
    "Employee Referral",
    "External Referral",
    "Partner",
    "Public Relations",
    "Seminar - Internal",
    "Seminar - Partner",
    "Trade Show",
    "Web",
    "Word of mouth",
    "Other",
)
_INDUSTRIES = (
    "Agriculture",
    "Banking",
    "Construction",
    "Education",
    "Manufacturing",
    "Retail",
    "Technology",
    "Other",
)
# The fields of a standard org, with its default picklist values (orgs customise them).
DEFAULT_DESCRIBE: dict[str, dict[str, dict[str, Any]]] = {
    "Lead": {
        **{
            n: {"type": t, "picklist": []}
            for n, t in (
                ("Id", "id"),
                ("Email", "email"),
                ("FirstName", "string"),
                ("LastName", "string"),
                ("Title", "string"),
                ("Phone", "phone"),
                ("Company", "string"),
                ("Country", "string"),
                ("NumberOfEmployees", "int"),
                ("OwnerId", "reference"),
                ("IsConverted", "boolean"),
                ("CreatedDate", "datetime"),
                ("Website", "url"),
                ("State", "string"),
                ("AnnualRevenue", "currency"),
                ("SIREN__c", "string"),
                ("SIRET__c", "string"),
                ("NAF_Code__c", "string"),
                ("HasOptedOutOfEmail", "boolean"),
                # custom fields an admin creates for the shipped fields.yaml
                ("Pricing_Page_Views__c", "double"),
                ("Form_Submissions__c", "double"),
                ("Quote_Requested__c", "boolean"),
                ("Demo_Requested__c", "boolean"),
                ("Hard_Bounced__c", "boolean"),
            )
        },
        "Status": _picklist(
            "Open - Not Contacted",
            "Working - Contacted",
            "Closed - Converted",
            "Closed - Not Converted",
        ),
        "LeadSource": _picklist(*_LEAD_SOURCES),
        "Industry": _picklist(*_INDUSTRIES),
    },
    "Contact": {
        **{
            n: {"type": t, "picklist": []}
            for n, t in (
                ("Id", "id"),
                ("Email", "email"),
                ("FirstName", "string"),
                ("LastName", "string"),
                ("Title", "string"),
                ("Phone", "phone"),
                ("MailingCountry", "string"),
                ("MailingState", "string"),
                ("HasOptedOutOfEmail", "boolean"),
                ("OwnerId", "reference"),
                ("CreatedDate", "datetime"),
            )
        },
        "LeadSource": _picklist(*_LEAD_SOURCES),
    },
}


class SalesforceSandbox:
    """A Salesforce org as Relais uses it."""

    def __init__(
        self,
        *,
        client_id: str = "sandbox-client-id",
        client_secret: str = "sandbox-client-secret",
        username: str = "relais@sandbox.example",
        password: str = "sandbox-password",
    ) -> None:
        self.lock = threading.Lock()
        self.state = SalesforceState(
            org_id=to18("00D5e000000Relai"[:15]),
            client_id=client_id,
            client_secret=client_secret,
            username=username,
            password=password,
            records={name: {} for name in PREFIX},
        )
        self.faults = FaultBook[SfFault](
            self.lock, lambda: (self.state.faults, self.state.faults_served)
        )
        self.instance_url = ""  # set by the server once the TLS port is known
        # The org's default lead owner (web-to-lead, imports): an admin, not a sales rep.
        self.default_owner = self.add_user("integration@paieco.example", "Integration", "User")
        self.describe = copy.deepcopy(DEFAULT_DESCRIBE)  # tests may edit their copy
        self.notifications = BatchSender(
            self._render, self._acked, lambda e: str(e["record"]["Id"]), "sf-outbound"
        )
        self.router = self._build_router()

    # -- state helpers ----------------------------------------------------------------------

    def new_id(self, sobject: str) -> str:
        n = next(self.state.seq)
        base = f"{PREFIX[sobject]}5e00000{n:05d}"[:15]
        return to18(base)

    def add_user(self, email: str, first: str = "", last: str = "", active: bool = True) -> str:
        uid = self.new_id("User")
        with self.lock:
            self.state.records["User"][uid] = {
                "Id": uid,
                "Email": email.lower(),
                "FirstName": first,
                "LastName": last,
                "Name": f"{first} {last}".strip(),
                "IsActive": active,
                "Username": email.lower(),
            }
        return uid

    def add_queue(self, name: str) -> str:
        gid = self.new_id("Group")
        with self.lock:
            self.state.records["Group"][gid] = {
                "Id": gid,
                "Name": name,
                "DeveloperName": name.replace(" ", "_"),
                "Type": "Queue",
            }
        return gid

    def create_records(self, sobject: str, items: list[dict[str, Any]]) -> list[str]:
        created = []
        now = time.time()
        with self.lock:
            default_owner = self.default_owner
            for fields in items:
                rid = self.new_id(sobject)
                rec = {
                    "Id": rid,
                    "OwnerId": default_owner,
                    "CreatedDate": _iso(now),
                    "IsConverted": False,
                    **fields,
                }
                self.state.records[sobject][rid] = rec
                created.append(dict(rec))
        for rec in created:
            self._notify(sobject, rec, "created")
        return [r["Id"] for r in created]

    def change_record(self, sobject: str, rid: str, fields: dict[str, Any]) -> None:
        with self.lock:
            rec = self.state.records[sobject][rid]
            rec.update(fields)
            snapshot = dict(rec)
        self._notify(sobject, snapshot, "updated")

    def record(self, sobject: str, rid: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.state.records[sobject][rid])

    def _notify(self, sobject: str, rec: dict[str, Any], change: str) -> None:
        self.notifications.emit(
            {
                "object": sobject,
                "record": rec,
                "change": change,
                "id": "04l" + uuid.uuid4().hex[:15],
                "at": time.time(),
            }
        )

    def stats(self) -> dict[str, Any]:
        with self.lock:
            sent = self.notifications.sent_at
            lat = [t - sent[rid] for rid, t in self.state.owner_set_at.items() if rid in sent]
            d = self.notifications.stats
            return {
                "calls": dict(self.state.calls),
                "api_calls": self.state.api_calls,
                "faults_served": dict(self.state.faults_served),
                "owner_writes": dict(self.state.owner_writes),
                "auto_assign_headers": dict(self.state.auto_assign_headers),
                "notification_to_owner_seconds": lat,
                "deliveries": {
                    "requests": d.requests,
                    "events": d.events,
                    "failures": d.failures,
                    "statuses": dict(d.statuses),
                },
            }

    # -- notifications (Outbound Messages or Flow JSON) ---------------------------------------

    def _render(self, config: NotificationSetup, events: list[dict[str, Any]]) -> Rendered:
        if config.mode == "flow":
            import json

            body = json.dumps(
                {
                    "events": [
                        {
                            "eventId": e["id"],
                            "object": e["object"],
                            "recordId": e["record"]["Id"],
                            "changeType": e["change"],
                            "occurredAt": _iso(e["at"]),
                            "fields": {k: e["record"].get(k) for k in config.fields},
                        }
                        for e in events
                    ]
                },
                separators=(",", ":"),
            )
            ts = str(int(time.time() * 1000))
            sig = hmac.new(
                (config.flow_secret or "").encode(), (ts + body).encode(), hashlib.sha256
            ).hexdigest()
            return Rendered(
                body,
                {
                    "Content-Type": "application/json",
                    "X-Relais-Timestamp": ts,
                    "X-Relais-Signature": sig,
                },
            )
        return Rendered(
            self.outbound_message(events, config.fields, config.organization_id),
            {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
        )

    def outbound_message(
        self, events: list[dict[str, Any]], fields: list[str], org_id: str | None = None
    ) -> str:
        """An Outbound Message exactly in the WSDL's shape (enterprise sObject types)."""
        org = org_id or self.state.org_id
        parts = []
        for e in events:
            rec = e["record"]
            values = "".join(
                f"<sf:{f}>{escape(str(rec[f]))}</sf:{f}>"
                if rec.get(f) is not None
                else f'<sf:{f} xsi:nil="true"/>'
                for f in fields
                if f in rec or f != "Id"
            )
            parts.append(
                f"<Notification><Id>{e['id']}</Id>"
                f'<sObject xsi:type="sf:{e["object"]}" '
                f'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">{values}</sObject>'
                f"</Notification>"
            )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
            f'<notifications xmlns="{OUTBOUND_NS}">'
            f"<OrganizationId>{org}</OrganizationId>"
            "<ActionId>04k5e000000Relai</ActionId>"
            '<SessionId xsi:nil="true"/>'
            f"<EnterpriseUrl>{self.instance_url}/services/Soap/c/{API_VERSION}/{org[:15]}"
            "</EnterpriseUrl>"
            f"<PartnerUrl>{self.instance_url}/services/Soap/u/{API_VERSION}/{org[:15]}"
            "</PartnerUrl>" + "".join(parts) + "</notifications></soapenv:Body></soapenv:Envelope>"
        )

    @staticmethod
    def _acked(resp: Any) -> bool:
        # Salesforce wants HTTP 200 and the Ack; anything else is a failure, retried.
        if resp.status_code != 200:
            return False
        if "json" in resp.headers.get("content-type", ""):
            return True  # a Flow callout only checks the status
        return bool(re.search(r"<Ack>\s*true\s*</Ack>", resp.text))

    # -- HTTP ---------------------------------------------------------------------------------

    async def _gate(
        self, request: Request, operation: str, *variants: str, login: bool = False
    ) -> Response | None:
        """Latency, session, injected faults and the daily allocation, in Salesforce's order.
        ``variants`` are narrower names a fault may aim at (``query.User``); ``login`` is the
        token endpoint: no session to check, no API request counted, OAuth error bodies."""
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
        if not login:
            auth = request.headers.get("authorization", "")
            if auth.removeprefix("Bearer ") not in st.tokens:
                return _sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if fault is not None and fault.reset:
            return DroppedConnection()
        if fault is not None and fault.status >= 400:
            return self._fault_response(fault, login)
        if login:
            return None
        with self.lock:
            if st.daily_used >= st.daily_limit:
                return _sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            st.daily_used += 1
        return None

    @staticmethod
    def _fault_response(fault: SfFault, login: bool) -> Response:
        # Salesforce sends no Retry-After; a fault may add one (a proxy or a future API might).
        headers = retry_after_headers(fault)
        if fault.status in (502, 504):
            return gateway_page(fault.status, headers)
        code, message = fault.text()
        if login:
            error = fault.error_code or _OAUTH_FAULT_CODE.get(fault.status, "server_error")
            return JSONResponse(
                {"error": error, "error_description": message},
                status_code=fault.status,
                headers=headers,
            )
        return _sf_error(fault.status, code, message, headers)

    def _limit_header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.state.daily_used}/{self.state.daily_limit}"}

    def _json(self, body: Any, status: int = 200) -> JSONResponse:
        return JSONResponse(body, status_code=status, headers=self._limit_header())

    def _find(self, sobject: str, rid: str) -> dict[str, Any] | None:
        table = self.state.records.get(sobject, {})
        if len(rid) == 15:
            rid = to18(rid)
        return table.get(rid)

    def _build_router(self) -> APIRouter:
        r = APIRouter(route_class=HeldAnswerRoute)
        st = self.state
        base = f"/services/data/v{API_VERSION}"

        @r.post("/services/oauth2/token")
        async def token(request: Request) -> Response:
            if (denied := await self._gate(request, "oauth.token", login=True)) is not None:
                return denied
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            grant = str(form.get("grant_type", ""))
            ok = False
            if grant == "client_credentials":
                ok = (
                    form.get("client_id") == st.client_id
                    and form.get("client_secret") == st.client_secret
                )
            elif grant == "password":
                ok = (
                    form.get("client_id") == st.client_id
                    and form.get("client_secret") == st.client_secret
                    and form.get("username") == st.username
                    and str(form.get("password", "")).startswith(st.password)
                )
            elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
                try:
                    claims = jwt.decode(
                        str(form.get("assertion", "")), options={"verify_signature": False}
                    )
                    ok = claims.get("iss") == st.client_id and claims.get("sub") == st.username
                except jwt.PyJWTError:
                    ok = False
            if not ok:
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "authentication failure"},
                    status_code=400,
                )
            access = "00D!" + secrets.token_urlsafe(32)
            with self.lock:
                st.tokens.add(access)
            return JSONResponse(
                {
                    "access_token": access,
                    "instance_url": self.instance_url,
                    "id": f"{self.instance_url}/id/{st.org_id}/005",
                    "token_type": "Bearer",
                    "issued_at": str(int(time.time() * 1000)),
                }
            )

        @r.get(f"{base}/query")
        @r.get(f"{base}/query/")
        async def query(request: Request, q: str) -> Response:
            match = self._SOQL.match(q)
            variants = (f"query.{match['obj']}",) if match else ()
            if (denied := await self._gate(request, "query", *variants)) is not None:
                return denied
            try:
                sobject, fields, rows = self._soql(q)
            except ValueError as exc:
                return _sf_error(400, "MALFORMED_QUERY", str(exc))
            records = [
                {
                    "attributes": {
                        "type": sobject,
                        "url": f"{base}/sobjects/{sobject}/{row['Id']}",
                    },
                    **{f: row.get(f) for f in fields},
                }
                for row in rows
            ]
            return self._json({"totalSize": len(records), "done": True, "records": records})

        @r.get(f"{base}/sobjects/{{sobject}}/describe")
        @r.get(f"{base}/sobjects/{{sobject}}/describe/")
        async def describe(request: Request, sobject: str) -> Response:
            if (denied := await self._gate(request, "sobjects.describe")) is not None:
                return denied
            fields = self.describe.get(sobject)
            if fields is None:
                return _sf_error(404, "NOT_FOUND", "The requested resource does not exist")
            return self._json(
                {
                    "name": sobject,
                    "fields": [
                        {
                            "name": name,
                            "type": spec["type"],
                            "picklistValues": [
                                {"value": v, "label": v, "active": True} for v in spec["picklist"]
                            ],
                        }
                        for name, spec in fields.items()
                    ],
                }
            )

        @r.get(f"{base}/sobjects/{{sobject}}/{{rid}}")
        async def get_record(request: Request, sobject: str, rid: str) -> Response:
            if (denied := await self._gate(request, "sobjects.get")) is not None:
                return denied
            with self.lock:
                rec = self._find(sobject, rid)
                if rec is None:
                    return _sf_error(404, "NOT_FOUND", "The requested resource does not exist")
                return self._json({"attributes": {"type": sobject}, **rec})

        @r.get(f"{base}/limits")
        @r.get(f"{base}/limits/")
        async def limits(request: Request) -> Response:
            if (denied := await self._gate(request, "limits")) is not None:
                return denied
            return self._json(
                {
                    "DailyApiRequests": {
                        "Max": st.daily_limit,
                        "Remaining": st.daily_limit - st.daily_used,
                    }
                }
            )

        @r.patch(f"{base}/composite/sobjects")
        async def collections_update(request: Request) -> Response:
            if (denied := await self._gate(request, "composite.sobjects.update")) is not None:
                return denied
            body = await request.json()
            records = body.get("records") or []
            if len(records) > COLLECTION_LIMIT:
                return _sf_error(
                    400,
                    "EXCEEDED_ID_LIMIT",
                    f"record limit reached. cannot submit more than "
                    f"{COLLECTION_LIMIT} records into this call",
                )
            auto = request.headers.get("sforce-auto-assign", "TRUE").upper()
            with self.lock:
                st.auto_assign_headers[auto] += 1
                st.collection_sizes.append(len(records))
                results = [self._update_one(rec, auto != "FALSE") for rec in records]
            return self._json(results)

        # -- control API --------------------------------------------------------------------

        @r.post("/_sandbox/salesforce/leads")
        async def new_leads(body: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
            return {"ids": self.create_records("Lead", body.get("leads", []))}

        @r.patch("/_sandbox/salesforce/{sobject}/{rid}")
        async def change(sobject: str, rid: str, fields: dict[str, Any]) -> dict[str, str]:
            self.change_record(sobject, rid, fields)
            return {"status": "ok"}

        @r.post("/_sandbox/salesforce/users")
        async def new_user(user: dict[str, Any]) -> dict[str, str]:
            return {
                "id": self.add_user(
                    user["email"],
                    user.get("first_name", ""),
                    user.get("last_name", ""),
                    user.get("active", True),
                )
            }

        self.faults.routes(r, "/_sandbox/salesforce/faults", SfFault)

        @r.post("/_sandbox/salesforce/locks")
        async def lock_records(body: dict[str, Any]) -> dict[str, str]:
            with self.lock:
                for rid in body["ids"]:
                    st.locked[rid] = int(body.get("times", 1))
            return {"status": "ok"}

        @r.post("/_sandbox/salesforce/validation-rules")
        async def add_rule(rule: ValidationRule) -> dict[str, str]:
            with self.lock:
                st.validation_rules.append(rule)
            return {"status": "ok"}

        @r.post("/_sandbox/salesforce/expire-sessions")
        async def expire() -> dict[str, str]:
            with self.lock:
                st.tokens.clear()
            return {"status": "ok"}

        @r.post("/_sandbox/salesforce/settings")
        async def settings(s: SfSettings) -> dict[str, str]:
            with self.lock:
                if s.latency_ms is not None:
                    st.latency_ms = s.latency_ms
                if s.daily_limit is not None:
                    st.daily_limit = s.daily_limit
                if s.assignment_rule_owner is not None:
                    st.assignment_rule_owner = s.assignment_rule_owner
            return {"status": "ok"}

        @r.post("/_sandbox/salesforce/notifications")
        async def notifications(setup: NotificationSetup) -> dict[str, str]:
            self.notifications.configure(setup)
            return {"status": "ok"}

        @r.get("/_sandbox/salesforce/stats")
        async def stats() -> dict[str, Any]:
            return self.stats()

        @r.get("/_sandbox/salesforce/{sobject}/{rid}")
        async def peek(sobject: str, rid: str) -> Response:
            with self.lock:
                rec = self._find(sobject, rid)
            if rec is None:
                return _sf_error(404, "NOT_FOUND", "no such record")
            return JSONResponse(rec)

        return r

    def _update_one(self, rec: dict[str, Any], auto_assign: bool) -> dict[str, Any]:
        """One record of a collection update, with Salesforce's per-record result shape."""
        st = self.state
        sobject = (rec.get("attributes") or {}).get("type", "")
        rid = str(rec.get("id") or rec.get("Id") or "")
        target = self._find(sobject, rid)

        def error(code: str, message: str, fields: list[str]) -> dict[str, Any]:
            return {
                "id": rid or None,
                "success": False,
                "errors": [{"statusCode": code, "message": message, "fields": fields}],
            }

        if target is None:
            return error(
                "ENTITY_IS_DELETED" if rid else "MISSING_ARGUMENT",
                "entity is deleted" if rid else "Id not specified in an update call",
                [],
            )
        rid = target["Id"]
        if st.locked.get(rid, 0) > 0:
            st.locked[rid] -= 1
            return error("UNABLE_TO_LOCK_ROW", LOCK_MESSAGE, [])
        changes = {k: v for k, v in rec.items() if k not in ("attributes", "id", "Id")}
        for rule in st.validation_rules:
            if rule.object == sobject and str({**target, **changes}.get(rule.field)) == rule.equals:
                return error(
                    "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                    f"{rule.message} (validation rule {rule.name})",
                    [rule.field],
                )
        owner = changes.get("OwnerId")
        if owner is not None:
            user = self._find("User", owner)
            queue = self._find("Group", owner)
            if user is None and queue is None:
                return error(
                    "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["OwnerId"]
                )
            if user is not None and not user.get("IsActive"):
                return error(
                    "INACTIVE_OWNER_OR_USER",
                    "operation performed with inactive user as owner",
                    ["OwnerId"],
                )
        target.update(changes)
        if sobject == "Lead" and auto_assign and st.assignment_rule_owner:
            # The org's Lead assignment rules run on API updates unless told not to.
            target["OwnerId"] = st.assignment_rule_owner
        if owner is not None:
            st.owner_writes[rid] += 1
            st.owner_set_at.setdefault(rid, time.time())
        config = self.notifications.config
        if config is not None and getattr(config, "notify_api_updates", False):
            self._notify(sobject, dict(target), "updated")
        return {"id": rid, "success": True, "errors": []}

    # -- a small SOQL ---------------------------------------------------------------------------

    _SOQL = re.compile(
        r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<obj>\w+)"
        r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
        r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
        re.IGNORECASE | re.DOTALL,
    )
    _COND = re.compile(r"^\s*(\w+)\s*(=|!=|\bIN\b)\s*(.+?)\s*$", re.IGNORECASE | re.DOTALL)

    @staticmethod
    def _literal(raw: str) -> Any:
        raw = raw.strip()
        if raw.startswith("'") and raw.endswith("'"):
            return raw[1:-1].replace("\\'", "'").replace("\\\\", "\\")
        low = raw.lower()
        if low in ("true", "false"):
            return low == "true"
        if low == "null":
            return None
        return float(raw) if "." in raw else int(raw)

    def _soql(self, q: str) -> tuple[str, list[str], list[dict[str, Any]]]:
        m = self._SOQL.match(q)
        if not m:
            raise ValueError(f"unexpected token in query: {q[:80]}")
        sobject = m["obj"]
        if sobject not in self.state.records:
            raise ValueError(f"sObject type '{sobject}' is not supported.")
        fields = [f.strip() for f in m["fields"].split(",")]
        conds = []
        for part in re.split(r"\s+AND\s+", m["where"] or "", flags=re.IGNORECASE):
            if not part.strip():
                continue
            c = self._COND.match(part)
            if not c:
                raise ValueError(f"unexpected condition: {part}")
            name, op, value = c[1], c[2].upper(), c[3]
            if op == "IN":
                inner = value.strip()[1:-1]
                values = [self._literal(v) for v in re.findall(r"'(?:[^'\\]|\\.)*'|[^,\s]+", inner)]
                conds.append((name, "IN", values))
            else:
                conds.append((name, op, self._literal(value)))

        def norm(field_name: str, v: Any) -> Any:
            if isinstance(v, str) and field_name.lower().endswith("id") and len(v) == 15:
                return to18(v)
            if isinstance(v, str) and field_name.lower() == "email":
                return v.lower()
            return v

        def get(row: dict[str, Any], name: str) -> Any:
            for k, v in row.items():
                if k.lower() == name.lower():
                    return norm(name, v)
            return None

        def keep(row: dict[str, Any]) -> bool:
            for name, op, value in conds:
                actual = get(row, name)
                if op == "IN" and actual not in [norm(name, v) for v in value]:
                    return False
                if op == "=" and actual != norm(name, value):
                    return False
                if op == "!=" and actual == norm(name, value):
                    return False
            return True

        with self.lock:
            rows = [dict(r) for r in self.state.records[sobject].values() if keep(r)]
        if m["order"]:
            for key in reversed([k.strip() for k in m["order"].split(",")]):
                name, _, direction = key.partition(" ")

                def sort_key(row: dict[str, Any], column: str = name) -> str:
                    return str(get(row, column) or "")

                rows.sort(key=sort_key, reverse=direction.strip().upper() == "DESC")
        if m["limit"]:
            rows = rows[: int(m["limit"])]
        return sobject, fields, rows
