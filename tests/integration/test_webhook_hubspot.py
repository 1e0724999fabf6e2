"""POST /webhooks/hubspot over real HTTP: what is refused stores nothing; what is signed is kept."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from app.config import Settings
from app.db import Database
from app.queue import Status
from tests.conftest import Relais
from tests.integration.helpers import creation_events, dumps, inbox_count, signed_post


def secret_of(relais: Relais) -> str:
    assert relais.settings.hubspot_client_secret is not None
    return relais.settings.hubspot_client_secret.get_secret_value()


def test_given_a_signed_batch_then_every_event_is_stored_once_and_acknowledged(
    relais_no_worker: Relais, http: httpx.Client, db: Database
) -> None:
    body = dumps(creation_events([101, 102, 103]))
    resp = signed_post(http, relais_no_worker.webhook_url, secret_of(relais_no_worker), body)
    assert resp.status_code == 200
    assert resp.json() == {"stored": 3, "duplicates": 0, "ignored": 0}
    again = signed_post(http, relais_no_worker.webhook_url, secret_of(relais_no_worker), body)
    assert again.json() == {"stored": 0, "duplicates": 3, "ignored": 0}
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
