"""Salesforce's webhooks over real HTTP: Outbound Messages (SOAP) and Flow/Apex JSON. A bad
notification or event is rejected alone; the rest of its message is stored and acknowledged."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.config import Settings
from app.db import Database
from app.queue import Status
from app.webhooks.salesforce import flow_signature
from tests.conftest import Relais
from tests.integration.helpers import inbox_count
from tests.integration.test_dead_letters import (
    admin_relais,
    assert_rejected_everywhere,
    last_id,
    rows,
    run_cases,
)

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "outbound_message_lead.xml"


def message(relais: Relais, org: str | None = None) -> bytes:
    org_id = org or relais.settings.salesforce_org_id or ""
    return FIXTURE.read_text().replace("ORG_ID", org_id).encode()


def post_om(http: httpx.Client, relais: Relais, body: bytes, query: str = "") -> httpx.Response:
    return http.post(
        f"{relais.url}/webhooks/salesforce/outbound-message{query}",
        content=body,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
    )


def test_a_real_format_outbound_message_is_stored_and_acknowledged_with_the_wsdl_ack(
    relais_no_worker: Relais, http: httpx.Client, db: Database
) -> None:
    resp = post_om(http, relais_no_worker, message(relais_no_worker))
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/xml")
    assert (
        '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
        "<Ack>true</Ack></notificationsResponse>"
    ) in resp.text
    assert inbox_count(db, status=Status.PENDING, crm="salesforce") == 2
    from sqlalchemy import select

    from app.inbox.models import InboxEvent

    with db.transaction() as session:
        keys = sorted(e.record_key or "" for e in session.scalars(select(InboxEvent)))
        first = session.scalars(select(InboxEvent).order_by(InboxEvent.id)).first()  # type: ignore[arg-type]
    assert keys == ["salesforce:Lead:00Q5e00000Ld001EAB", "salesforce:Lead:00Q5e00000Ld002EAB"]
    assert first is not None and first.payload["fields"]["Title"] == "DRH"
    assert first.payload["fields"]["Email"] == "camille.martin@batiouest.fr"


def test_the_same_message_twice_and_messages_sharing_notifications_give_one_effect_each(
    relais_no_worker: Relais, http: httpx.Client, db: Database
) -> None:
    body = message(relais_no_worker)
    assert post_om(http, relais_no_worker, body).status_code == 200
    assert post_om(http, relais_no_worker, body).status_code == 200  # redelivery
    # another message carrying one of the same notifications plus a new one
    other = body.decode().replace("04l5e00000Abc01AAB", "04l5e00000Abc03AAB").encode()
    assert post_om(http, relais_no_worker, other).status_code == 200
    assert inbox_count(db, crm="salesforce") == 3


def test_the_15_character_form_of_our_org_id_is_accepted(
    relais_no_worker: Relais, http: httpx.Client, db: Database
) -> None:
    org15 = (relais_no_worker.settings.salesforce_org_id or "")[:15]
    assert post_om(http, relais_no_worker, message(relais_no_worker, org15)).status_code == 200
    assert inbox_count(db, crm="salesforce") == 2


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>&lol3;
</OrganizationId></notifications></soapenv:Body></soapenv:Envelope>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>&xxe;
</OrganizationId></notifications></soapenv:Body></soapenv:Envelope>"""


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong_org", 403),
        ("malformed", 400),
        ("billion_laughs", 400),
        ("xxe", 400),
        ("not_soap", 400),
        ("too_large", 413),
        ("wrong_token", 403),
        ("non_ascii_token", 403),
    ],
)
def test_a_bad_outbound_message_is_refused_and_nothing_is_stored(
    relais_no_worker: Relais, http: httpx.Client, db: Database, case: str, expected: int
) -> None:
    body = message(relais_no_worker)
    query = ""
    if case == "wrong_org":
        body = message(relais_no_worker, "00D5e000000Other")
    elif case == "malformed":
        body = body[:-40]
    elif case == "billion_laughs":
        body = BILLION_LAUGHS
    elif case == "xxe":
        body = XXE
    elif case == "not_soap":
        body = b"<hello/>"
    elif case == "too_large":
        body = body.replace(
            b"<sf:Title>DRH</sf:Title>", b"<sf:Title>" + b"x" * (1024 * 1024) + b"</sf:Title>"
        )
    elif case == "non_ascii_token":
        query = "?token=%C3%A9t%C3%A9"
    else:
        query = "?token=guess"
    if case in ("wrong_token", "non_ascii_token"):
        relais_no_worker.runtime.settings.salesforce_outbound_token = SecretStr("the-token")
    resp = post_om(http, relais_no_worker, body, query)
    assert resp.status_code == expected, resp.text
    assert "<Ack>true</Ack>" not in resp.text
    assert inbox_count(db) == 0


def flow_post(
    http: httpx.Client,
    relais: Relais,
    events: list[dict[str, object]],
    *,
    secret: str | None = None,
    ts: int | None = None,
) -> httpx.Response:
    body = json.dumps({"events": events}).encode()
    stamp = str(ts if ts is not None else int(time.time() * 1000))
    key = secret or (
        relais.settings.salesforce_webhook_secret.get_secret_value()  # type: ignore[union-attr]
    )
    return http.post(
        f"{relais.url}/webhooks/salesforce",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Relais-Timestamp": stamp,
            "X-Relais-Signature": flow_signature(key, stamp, body),
        },
    )


FLOW_EVENT: dict[str, object] = {
    "eventId": "a1b2",
    "object": "Lead",
    "recordId": "00Q5e00000Ld001EAB",
    "changeType": "created",
    "fields": {"Email": "a@b.fr", "Title": "DRH"},
}


def test_a_signed_flow_callout_is_stored_once(
    relais_no_worker: Relais, http: httpx.Client, db: Database
) -> None:
    assert flow_post(http, relais_no_worker, [FLOW_EVENT]).json()["stored"] == 1
    assert flow_post(http, relais_no_worker, [FLOW_EVENT]).json()["duplicates"] == 1
    assert inbox_count(db, status=Status.PENDING, crm="salesforce") == 1


@pytest.mark.parametrize(
    ("case", "expected"),
    [("wrong_secret", 401), ("stale", 401), ("future", 401)],
)
def test_a_bad_flow_callout_is_refused_and_nothing_is_stored(
    relais_no_worker: Relais, http: httpx.Client, db: Database, case: str, expected: int
) -> None:
    now = int(time.time() * 1000)
    if case == "wrong_secret":
        resp = flow_post(http, relais_no_worker, [FLOW_EVENT], secret="guess")
    elif case == "stale":
        resp = flow_post(http, relais_no_worker, [FLOW_EVENT], ts=now - 301_000)
    else:
        resp = flow_post(http, relais_no_worker, [FLOW_EVENT], ts=now + 301_000)
    assert resp.status_code == expected
    assert inbox_count(db) == 0


def test_salesforce_webhooks_are_disabled_until_the_connector_is_configured(
    relais_factory: Callable[..., Relais], settings: Settings, http: httpx.Client, db: Database
) -> None:
    relais = relais_factory(
        settings.model_copy(update={"salesforce_client_id": None}), worker=False
    )
    assert post_om(http, relais, message(relais)).status_code == 503
    assert flow_post(http, relais, [FLOW_EVENT]).status_code == 503
    assert inbox_count(db) == 0


ACK_TEXT = "<Ack>true</Ack>"
FIRST = "04l5e00000Abc01AAB"


def _notification(relais: Relais) -> str:
    """The fixture's first Notification, as another notification of another lead."""
    match = re.search(r"<Notification>.*?</Notification>", message(relais).decode(), re.S)
    assert match is not None
    return match.group().replace(FIRST, "04l5e00000Abc09AAB").replace("Ld001", "Ld009")


def _with_notification(good: bytes, bad: str) -> bytes:
    """A message of two good notifications with ``bad`` between them."""
    body = good.decode()
    second = body.index("<Notification>", body.index("</Notification>"))
    return (body[:second] + bad + body[second:]).encode()


OM_CASES = [
    pytest.param(
        lambda n: n.replace("04l5e00000Abc09AAB", "A" * 300),
        "Id: 300 characters, more than 64",
        id="300-char notification Id",
    ),
    pytest.param(
        lambda n: n.replace("04l5e00000Abc09AAB", "04l 5e00"),
        "Id: '04l 5e00' is not an ASCII id",
        id="notification Id with a space",
    ),
    pytest.param(
        lambda n: re.sub(r"<Id>.*?</Id>", "", n),
        "Id: missing",
        id="no notification Id",
    ),
    pytest.param(
        lambda n: re.sub(r"<sObject .*</sObject>", "", n, flags=re.S),
        "sObject: missing",
        id="no sObject",
    ),
    pytest.param(
        lambda n: n.replace("00Q5e00000Ld009EAB", "00Q5e00000Ld00"),
        "sObject.Id: '00Q5e00000Ld00' is not a Salesforce id",
        id="record Id of 14 characters",
    ),
    pytest.param(
        lambda n: n.replace("00Q5e00000Ld009EAB", "00Q5e00000Ld00\uff19EAB"),
        "sObject.Id: '00Q5e00000Ld00\uff19EAB' is not a Salesforce id",
        id="record Id with a full-width digit",
    ),
    pytest.param(
        lambda n: re.sub(r"<sf:Id>.*?</sf:Id>", "", n),
        "sObject.Id: missing: a Lead notification names its record",
        id="a Lead without its Id",
    ),
    pytest.param(
        lambda n: n.replace("<sf:Title>DRH</sf:Title>", f"<sf:Title>{'x' * 200_000}</sf:Title>"),
        "sObject.Title: 200000 characters, more than 131072",
        id="huge field value",
    ),
    pytest.param(
        lambda n: n.replace("sf:Title>", "sf:Tïtle>"),
        "sObject: 'Tïtle' is not a field API name",
        id="non-ASCII field name",
    ),
    pytest.param(
        lambda n: n.replace('xsi:type="sf:Lead"', 'xsi:type="sf:Le ad"'),
        "sObject.type: 'Le ad' is not an object API name",
        id="bad object type",
    ),
    pytest.param(
        lambda n: n.replace(' xsi:type="sf:Lead"', ""),
        "sObject.type: missing",
        id="no object type",
    ),
]


def test_one_bad_notification_is_rejected_alone_and_the_message_still_acknowledged(
    relais_factory: Callable[..., Relais], settings: Settings, http: httpx.Client, db: Database
) -> None:
    """Every case of OM_CASES, between the fixture's two good notifications."""
    relais = admin_relais(relais_factory, settings)
    numbers = iter(range(100, 999))

    def check(case: Any) -> None:
        spoil, reason = case.values
        n = next(numbers)
        # the good notifications and leads of this case: Abc01/Ld001 -> A{n}01/L{n}01 ...
        good_message = message(relais).replace(b"Abc0", f"A{n}".encode())
        good_message = good_message.replace(b"Ld00", f"L{n}".encode())
        body = _with_notification(good_message, spoil(_notification(relais)))
        good = {f"salesforce:Lead:00Q5e00000L{n}{i}EAB" for i in (1, 2)}
        after = last_id(db)
        resp = post_om(http, relais, body)
        assert resp.status_code == 200, resp.text
        assert ACK_TEXT in resp.text
        assert {e.record_key for e in rows(db, Status.PENDING) if (e.id or 0) > after} == good
        assert_rejected_everywhere(db, http, relais, "salesforce", reason, after)
        assert ACK_TEXT in post_om(http, relais, body).text  # a redelivery adds nothing
        assert len([e for e in rows(db) if (e.id or 0) > after]) == 3

    run_cases(OM_CASES, check)


def test_an_outbound_message_about_an_object_not_routed_is_still_ignored_not_rejected(
    relais_no_worker: Relais, http: httpx.Client, db: Database
) -> None:
    account = (
        _notification(relais_no_worker)
        .replace('xsi:type="sf:Lead"', 'xsi:type="sf:Account"')
        .replace("00Q5e00000Ld009EAB", "0015e00000Ac009AAB")
    )
    resp = post_om(http, relais_no_worker, _with_notification(message(relais_no_worker), account))
    assert ACK_TEXT in resp.text
    ignored = rows(db, Status.IGNORED)
    assert [e.result for e in ignored] == ["ignored: object 'Account' is not routed"]
    assert rows(db, Status.REJECTED) == []


def flow_post_raw(http: httpx.Client, relais: Relais, body: bytes) -> httpx.Response:
    stamp = str(int(time.time() * 1000))
    key = relais.settings.salesforce_webhook_secret.get_secret_value()  # type: ignore[union-attr]
    return http.post(
        f"{relais.url}/webhooks/salesforce",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Relais-Timestamp": stamp,
            "X-Relais-Signature": flow_signature(key, stamp, body),
        },
    )


FLOW_KEYS = {"eventId", "object", "recordId", "changeType", "occurredAt", "fields"}


def _flow_record(n: int) -> str:
    return f"00Q5e{n:010d}AAA"


def _flow_event(n: int, **raw_fields: str) -> str:
    """A Flow event as JSON text; ``raw_fields`` replace fields of ``fields`` (or, for the
    event's own keys, those) with raw JSON text."""
    event: dict[str, object] = {
        **FLOW_EVENT,
        "eventId": f"evt-{n}",
        "recordId": _flow_record(n),
        "fields": {"Email": f"lead{n}@b.fr", "Title": "DRH", "NumberOfEmployees": 120},
    }
    fields = event["fields"]
    assert isinstance(fields, dict)
    for name in raw_fields:
        (event if name in FLOW_KEYS else fields)[name] = f"@@{name}@@"
    text = json.dumps(event, separators=(",", ":"))
    for name, raw in raw_fields.items():
        text = text.replace(f'"@@{name}@@"', raw)
    return text


FLOW_CASES = [
    pytest.param(
        _flow_event(9, eventId='"' + "e" * 300 + '"'),
        "eventId: 300 characters, more than 64",
        id="300-char eventId",
    ),
    pytest.param(_flow_event(9, eventId="null"), "eventId: missing", id="no eventId"),
    pytest.param(_flow_event(9, object='""'), "object: missing", id="no object"),
    pytest.param(
        _flow_event(9, object='"Lead; DROP"'),
        "object: 'Lead; DROP' is not an object API name",
        id="object not an API name",
    ),
    pytest.param(
        _flow_event(9, recordId='"00Q"'),
        "recordId: '00Q' is not a Salesforce id",
        id="bad recordId",
    ),
    pytest.param(
        _flow_event(9, recordId="null"),
        "recordId: missing: a Lead notification names its record",
        id="a Lead without its record id",
    ),
    pytest.param(
        _flow_event(9, Title='"D\\u0000RH"'),
        "fields.Title: contains a NUL character",
        id="NUL in a field",
    ),
    pytest.param(
        _flow_event(9, NumberOfEmployees="NaN"),
        "fields.NumberOfEmployees: NaN is not a finite number",
        id="NaN",
    ),
    pytest.param(
        _flow_event(9, NumberOfEmployees="1e400"),
        "fields.NumberOfEmployees: Infinity is not a finite number",
        id="1e400",
    ),
    pytest.param(
        _flow_event(9, NumberOfEmployees="1" + "0" * 200),
        "fields.NumberOfEmployees: an integer of 201 digits is out of range",
        id="10**200",
    ),
    pytest.param(
        _flow_event(9, Title='"\\udfff"'),
        "fields.Title: contains a lone surrogate (U+DFFF)",
        id="lone surrogate",
    ),
    pytest.param(
        _flow_event(9, Title='"' + "t" * 140_000 + '"'),
        "fields.Title: 140000 characters, more than 131072",
        id="huge field value",
    ),
    pytest.param(
        _flow_event(9, fields="[1,2]"),
        "fields: expected a JSON object, got a JSON array",
        id="fields not an object",
    ),
    pytest.param(
        _flow_event(9, occurredAt='"yesterday"'),
        "occurredAt: 'yesterday' is not an ISO 8601 date-time",
        id="occurredAt not a date",
    ),
    pytest.param(  # past the year 9999 once in UTC: used to overflow into a 500
        _flow_event(9, occurredAt='"9999-12-31T23:59:59-23:59"'),
        "occurredAt: '9999-12-31T23:59:59-23:59' is not an ISO 8601 date-time",
        id="occurredAt overflowing in UTC",
    ),
    pytest.param(
        _flow_event(9, occurredAt='"0001-01-01T00:00:00+00:00"'),
        "occurredAt: '0001-01-01T00:00:00+00:00' is not a date-time between 2000 and 2100",
        id="occurredAt out of range",
    ),
    pytest.param("17", "event: expected a JSON object, got a number", id="not an object"),
]


def test_one_bad_flow_event_is_rejected_alone_and_the_rest_stored(
    relais_factory: Callable[..., Relais], settings: Settings, http: httpx.Client, db: Database
) -> None:
    """Every case of FLOW_CASES, each between two good events of its own."""
    relais = admin_relais(relais_factory, settings)
    numbers = iter(range(1, 999))

    def check(case: Any) -> None:
        bad_event, reason = case.values
        n = 10 * next(numbers)
        body = f'{{"events":[{_flow_event(n + 1)},{bad_event},{_flow_event(n + 2)}]}}'.encode()
        good = {f"salesforce:Lead:{_flow_record(n + i)}" for i in (1, 2)}
        after = last_id(db)
        resp = flow_post_raw(http, relais, body)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"stored": 3, "duplicates": 0, "ignored": 0, "rejected": 1}
        assert {e.record_key for e in rows(db, Status.PENDING) if (e.id or 0) > after} == good
        assert_rejected_everywhere(db, http, relais, "salesforce", reason, after)
        again = flow_post_raw(http, relais, body)
        assert again.json() == {"stored": 0, "duplicates": 3, "ignored": 0, "rejected": 0}

    run_cases(FLOW_CASES, check)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b'{"events":[\xff]}', "the body is not UTF-8", id="not UTF-8"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "nested too deeply", id="100,000 deep"),
        pytest.param(b'{"events": 5}', 'expected {"events": [...]}', id="events not a list"),
        pytest.param(b'{"events": [', "malformed JSON", id="truncated"),
    ],
)
def test_a_signed_flow_body_that_cannot_be_read_is_refused_with_400_saying_why(
    relais_no_worker: Relais, http: httpx.Client, db: Database, body: bytes, reason: str
) -> None:
    resp = flow_post_raw(http, relais_no_worker, body)
    assert resp.status_code == 400, resp.text
    assert reason in resp.json()["detail"]
    assert inbox_count(db) == 0
