"""POST /webhooks/hubspot over real HTTP: what is refused stores nothing; what is signed is kept,
and one bad event of a signed batch is rejected alone."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from app.config import Settings
from app.db import Database
from app.queue import Status
from tests.conftest import Relais
from tests.integration.helpers import creation_events, dumps, inbox_count, signed_post
from tests.integration.test_dead_letters import (
    admin_relais,
    assert_rejected_everywhere,
    last_id,
    rows,
    run_cases,
)


def secret_of(relais: Relais) -> str:
    assert relais.settings.hubspot_client_secret is not None
    return relais.settings.hubspot_client_secret.get_secret_value()


def test_given_a_signed_batch_then_every_event_is_stored_once_and_acknowledged(
    relais_no_worker: Relais, http: httpx.Client, db: Database
) -> None:
    body = dumps(creation_events([101, 102, 103]))
    resp = signed_post(http, relais_no_worker.webhook_url, secret_of(relais_no_worker), body)
    assert resp.status_code == 200
    assert resp.json() == {"stored": 3, "duplicates": 0, "ignored": 0, "rejected": 0}
    again = signed_post(http, relais_no_worker.webhook_url, secret_of(relais_no_worker), body)
    assert again.json() == {"stored": 0, "duplicates": 3, "ignored": 0, "rejected": 0}
    assert inbox_count(db, status=Status.PENDING) == 3


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("forged", 401),
        ("missing_signature", 401),
        ("missing_timestamp", 401),
        ("stale_timestamp", 401),
        ("future_timestamp", 401),
        ("wrong_secret", 401),
        ("malformed_json", 400),
        ("not_an_array", 400),
        ("non_ascii_signature", 401),
        ("huge_timestamp", 401),
        ("too_large", 413),
        ("too_large_undeclared", 413),
    ],
)
def test_given_a_bad_request_then_it_is_refused_and_nothing_is_stored(
    relais_no_worker: Relais, http: httpx.Client, db: Database, case: str, expected: int
) -> None:
    url, secret = relais_no_worker.webhook_url, secret_of(relais_no_worker)
    body = dumps(creation_events([201]))
    now = int(time.time() * 1000)
    if case == "forged":
        resp = signed_post(
            http, url, secret, body, signature="K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y="
        )
    elif case == "missing_signature":
        resp = http.post(url, content=body, headers={"X-HubSpot-Request-Timestamp": str(now)})
    elif case == "missing_timestamp":
        resp = http.post(url, content=body, headers={"X-HubSpot-Signature-v3": "abc"})
    elif case == "stale_timestamp":
        resp = signed_post(http, url, secret, body, timestamp_ms=now - 301_000)
    elif case == "future_timestamp":
        resp = signed_post(http, url, secret, body, timestamp_ms=now + 301_000)
    elif case == "non_ascii_signature":
        resp = http.post(
            url,
            content=body,
            headers=[
                (b"X-HubSpot-Signature-v3", "sïgnature".encode("latin-1")),
                (b"X-HubSpot-Request-Timestamp", str(now).encode()),
            ],
        )
    elif case == "huge_timestamp":
        resp = signed_post(http, url, secret, body, timestamp_ms=int("9" * 400))
    elif case == "wrong_secret":
        resp = signed_post(http, url, "not-the-secret", body)
    elif case == "malformed_json":
        resp = signed_post(http, url, secret, body[:-5])
    elif case == "not_an_array":
        resp = signed_post(http, url, secret, '"hello"')
    elif case == "too_large":
        big = dumps(creation_events(list(range(1, 9000))))
        assert len(big) > 1024 * 1024
        resp = signed_post(http, url, secret, big)
    else:  # chunked upload without Content-Length: the stream itself is bounded
        chunk = b"[" + b" " * 65536

        def stream() -> Iterator[bytes]:
            for _ in range(20):
                yield chunk

        resp = http.post(
            url,
            content=stream(),
            headers={
                "X-HubSpot-Signature-v3": "x",
                "X-HubSpot-Request-Timestamp": str(now),
            },
        )
    assert resp.status_code == expected, resp.text
    assert inbox_count(db) == 0


def test_given_a_timestamp_just_inside_the_window_then_accepted(
    relais_no_worker: Relais, http: httpx.Client
) -> None:
    now = int(time.time() * 1000)
    for ts in (now - 290_000, now + 290_000):
        resp = signed_post(
            http,
            relais_no_worker.webhook_url,
            secret_of(relais_no_worker),
            dumps(creation_events([301 + ts % 7])),
            timestamp_ms=ts,
        )
        assert resp.status_code == 200


def test_given_unknown_subscription_types_then_acknowledged_and_recorded_as_ignored(
    relais_no_worker: Relais, http: httpx.Client, db: Database
) -> None:
    events = creation_events([401, 402])
    events[0]["subscriptionType"] = "deal.creation"
    events[1]["subscriptionType"] = "contact.someFutureThing"
    resp = signed_post(
        http, relais_no_worker.webhook_url, secret_of(relais_no_worker), dumps(events)
    )
    assert resp.status_code == 200
    assert resp.json()["ignored"] == 2
    assert inbox_count(db, status=Status.IGNORED) == 2
    assert inbox_count(db, status=Status.PENDING) == 0


def test_given_a_proxy_then_the_signature_is_checked_against_the_public_url(
    relais_factory: Callable[..., Relais], settings: Settings, http: httpx.Client
) -> None:
    public = "https://relais.example.com"
    relais = relais_factory(settings.model_copy(update={"public_url": public}), worker=False)
    body = dumps(creation_events([501]))
    ok = signed_post(
        http, relais.webhook_url, secret_of(relais), body, signed_url=f"{public}/webhooks/hubspot"
    )
    assert ok.status_code == 200
    local = signed_post(http, relais.webhook_url, secret_of(relais), body)
    assert local.status_code == 401


def test_given_no_client_secret_then_the_endpoint_is_disabled_not_open(
    relais_factory: Callable[..., Relais], settings: Settings, http: httpx.Client, db: Database
) -> None:
    relais = relais_factory(
        settings.model_copy(update={"hubspot_client_secret": None}), worker=False
    )
    resp = http.post(relais.webhook_url, content=dumps(creation_events([601])))
    assert resp.status_code == 503
    assert "RELAIS_HUBSPOT_CLIENT_SECRET" in resp.json()["detail"]
    assert inbox_count(db) == 0


def test_an_empty_secret_variable_means_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_HUBSPOT_CLIENT_SECRET", "")
    assert Settings().hubspot_client_secret is None


def _change(object_id: int, **raw_fields: str) -> str:
    """A contact.propertyChange event as JSON text, with some fields given as raw JSON text
    (NaN, 1e400, huge integers, escapes: what json.dumps cannot write)."""
    event: dict[str, Any] = {
        "eventId": 70 + object_id,
        "subscriptionId": 26,
        "portalId": 4242,
        "appId": 1160452,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": object_id,
        "propertyName": "firstname",
        "propertyValue": "Ana",
        "changeSource": "CRM_UI",
    }
    for name in raw_fields:
        event[name] = f"@@{name}@@"
    text = json.dumps(event, separators=(",", ":"))
    for name, raw in raw_fields.items():
        text = text.replace(f'"@@{name}@@"', raw)
    return text


NESTED = "[" * 200 + "]" * 200
NO_OBJECT_ID = json.dumps({k: v for k, v in creation_events([1])[0].items() if k != "objectId"})


BAD_EVENTS = [
    pytest.param(
        _change(3, subscriptionType='"' + "c" * 200 + '"'),
        "subscriptionType: 200 characters, more than 64",
        id="200-char subscriptionType",
    ),
    pytest.param(
        _change(3, objectId="1" + "0" * 200),
        "objectId: an integer of 201 digits is out of range",
        id="objectId 10**200",
    ),
    pytest.param(
        _change(3, objectId='"١٢٣"'),
        "objectId: '١٢٣' is not an ASCII decimal number",
        id="objectId in Arabic-Indic digits",
    ),
    pytest.param(
        _change(3, objectId="18446744073709551616"),
        "objectId: 18446744073709551616 is out of range",
        id="objectId 2**64",
    ),
    pytest.param(NO_OBJECT_ID, "objectId: missing", id="no objectId"),
    pytest.param(
        _change(3, propertyValue='"a\\u0000b"'),
        "propertyValue: contains a NUL character",
        id="NUL in a value",
    ),
    pytest.param(
        _change(3, subscriptionType='"contact.propertyChange\\u0000"'),
        "subscriptionType: contains a NUL character",
        id="NUL in the type",
    ),
    pytest.param(
        _change(3, propertyValue="NaN"),
        "propertyValue: NaN is not a finite number",
        id="NaN",
    ),
    pytest.param(
        _change(3, propertyValue="1e400"),
        "propertyValue: Infinity is not a finite number",
        id="1e400",
    ),
    pytest.param(
        _change(3, sourceId="-Infinity"),
        "sourceId: expected a string, got a number",
        id="-Infinity",
    ),
    pytest.param(
        _change(3, propertyValue='"\\ud800"'),
        "propertyValue: contains a lone surrogate (U+D800)",
        id="lone surrogate",
    ),
    pytest.param(
        _change(3, eventId="9" * 5000),
        "eventId: an integer of 5000 digits is out of range",
        id="5000-digit integer",
    ),
    pytest.param(_change(3, extra=NESTED), "nested deeper than 16 levels", id="nested 200 deep"),
    pytest.param(
        '{"subscriptionType":"contact.creation","objectId":4,"a\\u0000":1}',
        "event: a key ('a\\x00'): contains a NUL character",
        id="NUL in a key",
    ),
    pytest.param(
        _change(3, occurredAt="-1"),
        "occurredAt: -1 is not epoch milliseconds between 2000 and 2100",
        id="occurredAt out of range",
    ),
    pytest.param(
        _change(3, portalId='{"x":1}'),
        "portalId: expected an integer or a short string, got a JSON object",
        id="portalId an object",
    ),
    pytest.param('"junk"', "event: expected a JSON object, got a string", id="not an object"),
]


def test_given_one_bad_event_in_a_signed_batch_then_it_alone_is_rejected_and_listed(
    relais_factory: Callable[..., Relais], settings: Settings, http: httpx.Client, db: Database
) -> None:
    """Every case of BAD_EVENTS, each between two good events of its own."""
    relais = admin_relais(relais_factory, settings)
    numbers = iter(range(1, 1000))

    def check(case: Any) -> None:
        bad_event, reason = case.values
        good = [next(numbers), next(numbers)]
        body = f"[{_change(good[0])},{bad_event},{_change(good[1])}]".encode()
        after, before = last_id(db), _rejected_metric()
        resp = signed_post(http, relais.webhook_url, secret_of(relais), body)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"stored": 3, "duplicates": 0, "ignored": 0, "rejected": 1}
        pending = {e.record_key for e in rows(db, Status.PENDING) if (e.id or 0) > after}
        assert pending == {f"hubspot:contact:{n}" for n in good}
        assert_rejected_everywhere(db, http, relais, "hubspot", reason, after)
        assert _rejected_metric() == before + 1
        again = signed_post(http, relais.webhook_url, secret_of(relais), body)
        assert again.json() == {"stored": 0, "duplicates": 3, "ignored": 0, "rejected": 0}
        # the redelivery added nothing, the rejected event included
        assert len([e for e in rows(db) if (e.id or 0) > after]) == 3

    run_cases(BAD_EVENTS, check)


def _rejected_metric() -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "relais_webhook_events_rejected":
            total += sum(
                s.value
                for s in metric.samples
                if s.name.endswith("_total") and s.labels["crm"] == "hubspot"
            )
    return total


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param("[" * 100_000 + "]" * 100_000, "nested too deeply", id="100,000 deep"),
        pytest.param('{"a":' * 50_000 + "1" + "}" * 50_000, "nested too deeply", id="deep object"),
        pytest.param("[1, 2", "malformed JSON", id="truncated"),
        pytest.param("\ufeff[]", "malformed JSON", id="byte order mark"),
        pytest.param("42", "expected a JSON array of events", id="a number"),
    ],
)
def test_given_a_signed_body_that_cannot_be_read_then_400_says_why(
    relais_no_worker: Relais, http: httpx.Client, db: Database, body: str, reason: str
) -> None:
    resp = signed_post(http, relais_no_worker.webhook_url, secret_of(relais_no_worker), body)
    assert resp.status_code == 400, resp.text
    assert reason in resp.json()["detail"]
    assert inbox_count(db) == 0


def test_given_a_batch_of_junk_elements_then_each_is_rejected_and_the_batch_acknowledged(
    relais_no_worker: Relais, http: httpx.Client, db: Database
) -> None:
    body = '[1, null, "x", [], {}, true, 1e999, ' + _change(5) + "]"
    resp = signed_post(http, relais_no_worker.webhook_url, secret_of(relais_no_worker), body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["rejected"] == 7
    assert [e.record_key for e in rows(db, Status.PENDING)] == ["hubspot:contact:5"]
    reasons = sorted(e.result or "" for e in rows(db, Status.REJECTED))
    assert "rejected: subscriptionType: missing (and no eventType either)" in reasons
    assert "rejected: event: expected a JSON object, got null" in reasons
