"""Property: whatever a signed batch mixes with its good events (arbitrary JSON, long strings,
NUL, lone surrogates, NaN and infinities, huge integers, deep nesting, wrong types), the webhook
never answers 5xx and every good event is stored, on SQLite and on PostgreSQL alike.

One server per test function (the examples share it and its database; every good event has a
record of its own, so each example checks its own). Derandomized: CI replays the same examples.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlmodel import col

from app.db import Database
from app.inbox.models import InboxEvent
from app.queue import Status
from tests.conftest import Relais
from tests.integration.helpers import signed_post
from tests.integration.test_webhook_salesforce import flow_post_raw, post_om

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
_ids = itertools.count(1)

# -- junk: JSON text of values the edge must survive -------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 5, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfffy", "١٢٣", "²", " 12", "-1", ""])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=16,
)


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True, ensure_ascii=True)


raw_junk = st.one_of(
    json_values.map(_dumps),
    st.integers(min_value=20, max_value=5000).map(lambda n: "9" * n),  # huge integer literals
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e999", "1e-999"]),
    st.integers(min_value=1, max_value=300).map(lambda d: "[" * d + "]" * d),
    st.integers(min_value=1, max_value=300).map(lambda d: '{"a":' * d + "0" + "}" * d),
    st.integers(min_value=60, max_value=140_000).map(lambda n: '"' + "x" * n + '"'),
)


def _with_raw(event: dict[str, Any], field: str, raw: str) -> str:
    """``event`` as JSON text with ``field`` set to the raw JSON text ``raw``."""
    text = json.dumps({**event, field: "@@RAW@@"}, ensure_ascii=True)
    return text.replace('"@@RAW@@"', raw)


safe_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40
)

# -- HubSpot --------------------------------------------------------------------------------


@st.composite
def hubspot_good(draw: st.DrawFn) -> dict[str, Any]:
    object_id = next(_ids)
    kind = draw(st.sampled_from(["contact.creation", "contact.propertyChange", "object.creation"]))
    event: dict[str, Any] = {
        "eventId": draw(st.integers(min_value=1, max_value=2**40)),
        "subscriptionId": draw(st.integers(min_value=1, max_value=10**6)),
        "portalId": 4242,
        "appId": 1160452,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": kind,
        "attemptNumber": draw(st.integers(min_value=0, max_value=9)),
        "objectId": draw(st.sampled_from([object_id, str(object_id)])),
        "changeSource": draw(st.sampled_from(["CRM_UI", "IMPORT", "API"])),
    }
    if kind == "object.creation":
        event["objectTypeId"] = "0-1"
    if kind == "contact.propertyChange":
        event["propertyName"] = draw(st.from_regex(r"[a-z][a-z0-9_]{0,30}", fullmatch=True))
        event["propertyValue"] = draw(safe_text)
    return event


HUBSPOT_FIELDS = [
    "subscriptionType",
    "objectId",
    "occurredAt",
    "portalId",
    "eventId",
    "propertyName",
    "propertyValue",
    "objectTypeId",
    "changeSource",
    "sourceId",
    "anything",
]


@st.composite
def hubspot_batch(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]], int]:
    """(body, the good events in it, how many elements it has)."""
    items: list[tuple[str, dict[str, Any] | None]] = []
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        choice = draw(st.sampled_from(["good", "junk", "spoilt"]))
        if choice == "good":
            event = draw(hubspot_good())
            ascii_only = draw(st.booleans())
            items.append((json.dumps(event, ensure_ascii=ascii_only), event))
        elif choice == "junk":
            items.append((draw(raw_junk), None))
        else:  # a good event with one field made junk (it may happen to stay valid)
            event = draw(hubspot_good())
            field = draw(st.sampled_from(HUBSPOT_FIELDS))
            items.append((_with_raw(event, field, draw(raw_junk)), None))
    good = [event for _, event in items if event is not None]
    return "[" + ",".join(text for text, _ in items) + "]", good, len(items)


def _pending(db: Database, keys: list[str]) -> set[str]:
    with db.transaction() as session:
        query = select(col(InboxEvent.record_key)).where(
            col(InboxEvent.record_key).in_(keys), col(InboxEvent.status) == Status.PENDING
        )
        return {str(k) for k in session.scalars(query)}


def test_hubspot_webhook_never_fails_and_keeps_every_good_event(
    relais_no_worker: Relais, http: httpx.Client, db: Database
) -> None:
    secret = relais_no_worker.settings.hubspot_client_secret
    assert secret is not None

    @FUZZ
    @given(batch=hubspot_batch())
    def check(batch: tuple[str, list[dict[str, Any]], int]) -> None:
        body, good, size = batch
        resp = signed_post(
            http, relais_no_worker.webhook_url, secret.get_secret_value(), body.encode()
        )
        assert resp.status_code == 200, resp.text
        ack = resp.json()
        assert ack["stored"] + ack["duplicates"] == size
        keys = [f"hubspot:contact:{int(e['objectId'])}" for e in good]
        assert _pending(db, keys) == set(keys)

    check()


def test_hubspot_webhook_answers_400_not_500_to_any_signed_body(
    relais_no_worker: Relais, http: httpx.Client
) -> None:
    secret = relais_no_worker.settings.hubspot_client_secret
    assert secret is not None

    @FUZZ
    @given(body=st.one_of(st.text(max_size=200), raw_junk, json_values.map(_dumps)))
    def check(body: str) -> None:
        resp = signed_post(
            http,
            relais_no_worker.webhook_url,
            secret.get_secret_value(),
            body.encode("utf-8", "surrogatepass"),
        )
        # 401: a lone surrogate cannot be part of a UTF-8 body HubSpot could have signed
        assert resp.status_code in (200, 400, 401), resp.text

    check()


# -- Salesforce Flow / Apex JSON --------------------------------------------------------------


def _record_id(n: int, prefix: str = "00Q") -> str:
    return f"{prefix}5e{n:010d}AAA"


field_names = st.from_regex(r"[A-Z][A-Za-z0-9_]{0,20}", fullmatch=True)
field_values = st.none() | st.booleans() | st.integers(-(10**9), 10**9) | safe_text


@st.composite
def flow_good(draw: st.DrawFn) -> dict[str, Any]:
    n = next(_ids)
    sobject = draw(st.sampled_from(["Lead", "Contact"]))
    event: dict[str, Any] = {
        "eventId": f"evt-{n}",
        "object": sobject,
        "recordId": _record_id(n, "00Q" if sobject == "Lead" else "003"),
        "changeType": draw(st.sampled_from(["created", "updated"])),
        "fields": draw(st.dictionaries(field_names, field_values, max_size=5)),
    }
    if draw(st.booleans()):
        event["occurredAt"] = "2026-03-01T10:00:00.000+0000"
    return event


FLOW_FIELDS = ["eventId", "object", "recordId", "changeType", "occurredAt", "fields", "other"]


@st.composite
def flow_batch(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]], int]:
    items: list[tuple[str, dict[str, Any] | None]] = []
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        choice = draw(st.sampled_from(["good", "junk", "spoilt", "spoilt field"]))
        if choice == "good":
            event = draw(flow_good())
            items.append((json.dumps(event, ensure_ascii=draw(st.booleans())), event))
        elif choice == "junk":
            items.append((draw(raw_junk), None))
        elif choice == "spoilt":
            field = draw(st.sampled_from(FLOW_FIELDS))
            items.append((_with_raw(draw(flow_good()), field, draw(raw_junk)), None))
        else:  # one value of ``fields`` made junk
            event = draw(flow_good())
            fields = _with_raw(event["fields"], draw(field_names), draw(raw_junk))
            text = json.dumps({**event, "fields": "@@F@@"}).replace('"@@F@@"', fields)
            items.append((text, None))
    good = [event for _, event in items if event is not None]
    wrapped = draw(st.booleans())
    events = "[" + ",".join(text for text, _ in items) + "]"
    return (f'{{"events":{events}}}' if wrapped else events), good, len(items)


def _sf_keys(good: list[dict[str, Any]]) -> list[str]:
    from connectors.salesforce_ids import to18

    return [f"salesforce:{e['object']}:{to18(e['recordId'])}" for e in good]


def test_salesforce_flow_webhook_never_fails_and_keeps_every_good_event(
    relais_no_worker: Relais, http: httpx.Client, db: Database
) -> None:
    @FUZZ
    @given(batch=flow_batch())
    def check(batch: tuple[str, list[dict[str, Any]], int]) -> None:
        body, good, size = batch
        resp = flow_post_raw(http, relais_no_worker, body.encode())
        assert resp.status_code == 200, resp.text
        ack = resp.json()
        assert ack["stored"] + ack["duplicates"] == size
        keys = _sf_keys(good)
        assert _pending(db, keys) == set(keys)

    check()


# -- Salesforce Outbound Messages (XML) --------------------------------------------------------

# Characters XML 1.0 can carry (no C0 controls but tab and newline, no surrogates).
xml_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs", "Cc"], include_characters="\t\n"),
    max_size=40,
)
xml_junk_text = st.one_of(
    xml_text,
    st.integers(min_value=60, max_value=140_000).map(lambda n: "y" * n),
    st.sampled_from(["١٢٣", "00Q5e00000Ld00\uff19EAB", "00Q", " ", "a b", "Lead; DROP"]),
)


def _notification(nid: str | None, sobject: str | None, fields: dict[str, str | None]) -> str:
    parts = []
    for name, value in fields.items():
        if value is None:
            parts.append(f'<sf:{name} xsi:nil="true"/>')
        else:
            parts.append(f"<sf:{name}>{escape(value)}</sf:{name}>")
    type_attr = f" xsi:type={quoteattr('sf:' + sobject)}" if sobject is not None else ""
    sobj = (
        f'<sObject{type_attr} xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        + "".join(parts)
        + "</sObject>"
    )
    id_part = f"<Id>{escape(nid)}</Id>" if nid is not None else ""
    return f"<Notification>{id_part}{sobj}</Notification>"


@st.composite
def om_good(draw: st.DrawFn) -> tuple[str, str]:
    """(the Notification's XML, the record key it must be stored under)."""
    n = next(_ids)
    rid = _record_id(n)
    fields: dict[str, str | None] = {"Id": rid}
    for name, value in draw(st.dictionaries(field_names, st.none() | xml_text, max_size=5)).items():
        if name != "Id":
            fields[name] = value
    from connectors.salesforce_ids import to18

    return _notification(f"04l{n:015d}", "Lead", fields), f"salesforce:Lead:{to18(rid)}"


@st.composite
def om_spoilt(draw: st.DrawFn) -> str:
    n = next(_ids)
    nid: str | None = f"04l{n:015d}"
    sobject: str | None = "Lead"
    fields: dict[str, str | None] = {"Id": _record_id(n), "Title": "DRH"}
    spoil = draw(st.sampled_from(["Id", "no Id", "type", "no type", "record", "value", "name"]))
    if spoil == "Id":
        nid = draw(xml_junk_text)
    elif spoil == "no Id":
        nid = None
    elif spoil == "type":
        sobject = draw(st.sampled_from(["Le ad", "L" * 300, "Lead1$", "Léad"]))
    elif spoil == "no type":
        sobject = None
    elif spoil == "record":
        fields["Id"] = draw(st.none() | xml_junk_text)
    elif spoil == "value":
        fields["Title"] = draw(xml_junk_text)
    else:
        fields[draw(st.sampled_from(["Tïtle", "_x", "a-b", "T" * 200]))] = "x"
    return _notification(nid, sobject, fields)


def test_salesforce_outbound_message_never_fails_and_keeps_every_good_notification(
    relais_no_worker: Relais, http: httpx.Client, db: Database
) -> None:
    org = relais_no_worker.settings.salesforce_org_id

    @FUZZ
    @given(
        items=st.lists(
            st.one_of(om_good(), om_spoilt().map(lambda xml: (xml, None))),
            min_size=1,
            max_size=8,
        )
    )
    def check(items: list[tuple[str, str | None]]) -> None:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
            '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
            f"<OrganizationId>{org}</OrganizationId><ActionId>04k5e000000Relai</ActionId>"
            + "".join(xml for xml, _ in items)
            + "</notifications></soapenv:Body></soapenv:Envelope>"
        )
        resp = post_om(http, relais_no_worker, body.encode())
        assert resp.status_code == 200, resp.text
        assert "<Ack>true</Ack>" in resp.text
        keys = [key for _, key in items if key is not None]
        assert _pending(db, keys) == set(keys)

    check()
