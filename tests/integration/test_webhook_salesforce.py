"""Salesforce's webhooks over real HTTP: Outbound Messages (SOAP) and Flow/Apex JSON."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from app.config import Settings
from app.db import Database
from app.queue import Status
from app.webhooks.salesforce import flow_signature
from tests.conftest import Relais
from tests.integration.helpers import inbox_count

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
    assert inbox_count(db, status=Status.PENDING, source="salesforce") == 2
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
    assert inbox_count(db, source="salesforce") == 3


def test_the_15_character_form_of_our_org_id_is_accepted(
    relais_no_worker: Relais, http: httpx.Client, db: Database
) -> None:
    org15 = (relais_no_worker.settings.salesforce_org_id or "")[:15]
    assert post_om(http, relais_no_worker, message(relais_no_worker, org15)).status_code == 200
    assert inbox_count(db, source="salesforce") == 2


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
    assert inbox_count(db, status=Status.PENDING, source="salesforce") == 1


@pytest.mark.parametrize(
    ("case", "expected"),
    [("wrong_secret", 401), ("stale", 401), ("future", 401), ("no_event_id", 400)],
)
def test_a_bad_flow_callout_is_refused_and_nothing_is_stored(
    relais_no_worker: Relais, http: httpx.Client, db: Database, case: str, expected: int
) -> None:
    now = int(time.time() * 1000)
    if case == "wrong_secret":
        resp = flow_post(http, relais_no_worker, [FLOW_EVENT], secret="guess")
    elif case == "stale":
        resp = flow_post(http, relais_no_worker, [FLOW_EVENT], ts=now - 301_000)
    elif case == "future":
        resp = flow_post(http, relais_no_worker, [FLOW_EVENT], ts=now + 301_000)
    else:
        resp = flow_post(http, relais_no_worker, [{"object": "Lead"}])
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
