"""The sandbox's fault injection over its control API, seen from a plain HTTP client: what a
fault answers on each CRM (status, body, Retry-After, a dropped connection, latency), how long
it lasts (times, for_seconds), which calls it hits (operations and variants)."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.sandbox import SandboxServer
from tests.conftest import TOKEN, wait_for

HS_AUTH = {"Authorization": f"Bearer {TOKEN}"}
SF_QUERY = "/services/data/v59.0/query"


def trusting(sandbox: SandboxServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(sandbox.ca_path))


@pytest.fixture
def hs(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=5, trust_env=False) as client:
        yield client


@pytest.fixture
def sf(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """The sandbox org over TLS, trusting its CA, with a session already obtained."""
    st = sandbox.salesforce.state
    with httpx.Client(
        base_url=sandbox.salesforce_url,
        timeout=5,
        trust_env=False,
        verify=trusting(sandbox),
    ) as client:
        token = login(client, st.client_id, st.client_secret).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def login(client: httpx.Client, client_id: str, client_secret: str) -> httpx.Response:
    return client.post(
        "/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        },
    )


def add_fault(hs: httpx.Client, crm: str, **fault: Any) -> None:
    resp = hs.post(f"/_sandbox/{crm}/faults", json=fault)
    assert resp.status_code == 200, resp.text


def owners(hs: httpx.Client) -> httpx.Response:
    return hs.get("/crm/v3/owners", headers=HS_AUTH)


def users(sf: httpx.Client) -> httpx.Response:
    return sf.get(SF_QUERY, params={"q": "SELECT Id, Email FROM User"})


# -- what a fault answers --------------------------------------------------------------------


def test_hubspot_429_has_hubspots_body_and_the_retry_after_asked_for(hs: httpx.Client) -> None:
    add_fault(hs, "hubspot", operation="owners.list", status=429, retry_after=7)
    add_fault(hs, "hubspot", operation="owners.list", status=429, policy="DAILY")
    first, second = owners(hs), owners(hs)
    assert first.status_code == 429 and first.headers["Retry-After"] == "7"
    assert first.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert first.json()["errorType"] == "RATE_LIMIT"
    assert "Retry-After" not in second.headers and second.json()["policyName"] == "DAILY"
    assert owners(hs).status_code == 200  # each fault was spent


def test_salesforce_429_and_503_have_salesforces_error_array(
    hs: httpx.Client, sf: httpx.Client
) -> None:
    add_fault(hs, "salesforce", operation="query", status=429, retry_after=3)
    add_fault(hs, "salesforce", operation="query", status=503)
    limited, unavailable = users(sf), users(sf)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    assert limited.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert "TotalRequests" not in limited.json()[0]["message"]  # not the daily allocation
    assert unavailable.status_code == 503 and "Retry-After" not in unavailable.headers
    assert unavailable.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert users(sf).status_code == 200


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_a_502_is_a_gateways_html_page(hs: httpx.Client, sf: httpx.Client, crm: str) -> None:
    add_fault(hs, crm, status=502)
    resp = owners(hs) if crm == "hubspot" else users(sf)
    assert resp.status_code == 502 and resp.headers["content-type"].startswith("text/html")


def test_the_salesforce_login_can_fail_with_an_oauth_error(
    sandbox: SandboxServer, hs: httpx.Client
) -> None:
    st = sandbox.salesforce.state
    add_fault(hs, "salesforce", operation="oauth.token", status=429, retry_after=2)
    add_fault(hs, "salesforce", operation="oauth.token", status=500)
    with httpx.Client(
        base_url=sandbox.salesforce_url,
        trust_env=False,
        verify=trusting(sandbox),
    ) as client:
        limited = login(client, st.client_id, st.client_secret)
        down = login(client, st.client_id, st.client_secret)
        ok = login(client, st.client_id, st.client_secret)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert limited.json()["error"] == "rate_limit_exceeded"
    assert down.status_code == 500 and down.json()["error"] == "server_error"
    assert ok.status_code == 200 and ok.json()["access_token"]
    assert st.calls["oauth.token"] == 3 and st.faults_served["oauth.token"] == 2


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_a_reset_drops_the_connection_without_an_http_status(
    sandbox: SandboxServer, hs: httpx.Client, sf: httpx.Client, crm: str
) -> None:
    add_fault(hs, crm, reset=True)
    with pytest.raises(httpx.RemoteProtocolError):  # the body ended before its Content-Length
        owners(hs) if crm == "hubspot" else users(sf)
    assert (owners(hs) if crm == "hubspot" else users(sf)).status_code == 200


def test_a_reset_update_does_not_take_effect(
    sandbox: SandboxServer, hs: httpx.Client, sf: httpx.Client
) -> None:
    [cid] = sandbox.hubspot.create_contacts([{"email": "a@b.fr"}])
    owner = next(iter(sandbox.hubspot.state.owners))
    add_fault(hs, "hubspot", operation="contacts.batch_update", reset=True)
    with pytest.raises(httpx.RemoteProtocolError):
        hs.post(
            "/crm/v3/objects/contacts/batch/update",
            headers=HS_AUTH,
            json={"inputs": [{"id": cid, "properties": {"hubspot_owner_id": owner}}]},
        )
    assert "hubspot_owner_id" not in sandbox.hubspot.state.contacts[cid].properties


def test_latency_longer_than_the_clients_timeout_is_a_timeout(hs: httpx.Client) -> None:
    add_fault(hs, "hubspot", operation="owners.list", status=200, latency_ms=800)
    with pytest.raises(httpx.ReadTimeout):
        hs.get("/crm/v3/owners", headers=HS_AUTH, timeout=0.2)
    assert owners(hs).status_code == 200


def test_a_timed_out_call_still_takes_effect_unless_the_fault_has_an_error_status(
    sandbox: SandboxServer, hs: httpx.Client
) -> None:
    ids = sandbox.hubspot.create_contacts([{"email": "a@b.fr"}, {"email": "c@d.fr"}])
    owner = next(iter(sandbox.hubspot.state.owners))
    add_fault(hs, "hubspot", operation="contacts.batch_update", status=200, latency_ms=300)
    add_fault(hs, "hubspot", operation="contacts.batch_update", status=504, latency_ms=300)
    for cid in ids:
        with pytest.raises(httpx.ReadTimeout):
            hs.post(
                "/crm/v3/objects/contacts/batch/update",
                headers=HS_AUTH,
                json={"inputs": [{"id": cid, "properties": {"hubspot_owner_id": owner}}]},
                timeout=0.1,
            )
    props = [sandbox.hubspot.state.contacts[i].properties for i in ids]
    wait_for(lambda: props[0].get("hubspot_owner_id") == owner, what="the late update")
    time.sleep(0.4)
    assert "hubspot_owner_id" not in props[1]  # the late answer was a 504: nothing happened


def test_a_held_answer_is_a_timeout_whose_call_took_effect_at_once(
    sandbox: SandboxServer, sf: httpx.Client, hs: httpx.Client
) -> None:
    [lead] = sandbox.salesforce.create_records("Lead", [{"Email": "a@b.fr", "LastName": "B"}])
    rep = sandbox.salesforce.add_user("rep@paieco.example")
    add_fault(
        hs, "salesforce", operation="composite.sobjects.update", status=200, hold_answer_ms=600
    )
    body = {"records": [{"attributes": {"type": "Lead"}, "id": lead, "OwnerId": rep}]}
    with pytest.raises(httpx.ReadTimeout):
        sf.patch("/services/data/v59.0/composite/sobjects", json=body, timeout=0.2)
    assert sandbox.salesforce.record("Lead", lead)["OwnerId"] == rep  # before the answer left


# -- how long a fault lasts ------------------------------------------------------------------


def test_times_counts_calls(hs: httpx.Client) -> None:
    add_fault(hs, "hubspot", operation="owners.list", status=500, times=3)
    assert [owners(hs).status_code for _ in range(4)] == [500, 500, 500, 200]


def test_for_seconds_fails_every_call_until_it_has_passed(
    sandbox: SandboxServer, hs: httpx.Client, sf: httpx.Client
) -> None:
    add_fault(hs, "hubspot", operation="owners.list", status=503, for_seconds=0.6)
    add_fault(hs, "salesforce", operation="query", status=503, for_seconds=0.6)
    started = time.monotonic()
    listed = hs.get("/_sandbox/hubspot/faults").json()["faults"]
    assert listed[0]["for_seconds"] == 0.6 and 0 < listed[0]["seconds_left"] <= 0.6
    assert "times" not in listed[0]
    statuses = []
    while time.monotonic() - started < 0.45:
        statuses.append((owners(hs).status_code, users(sf).status_code))
    assert len(statuses) >= 3 and set(statuses) == {(503, 503)}
    wait_for(lambda: owners(hs).status_code == 200, timeout=2, what="the fault to expire")
    assert users(sf).status_code == 200
    assert hs.get("/_sandbox/hubspot/faults").json()["faults"] == []
    assert sandbox.hubspot.state.faults_served["owners.list"] >= 3


def test_for_seconds_can_start_at_the_first_call_it_meets(hs: httpx.Client) -> None:
    add_fault(
        hs, "hubspot", operation="owners.list", status=503, for_seconds=0.4, timed_from="first_call"
    )
    time.sleep(0.5)  # longer than the span: a clock started when added would have run out
    [waiting] = hs.get("/_sandbox/hubspot/faults").json()["faults"]
    assert waiting["seconds_left"] == 0.4 and waiting["timed_from"] == "first_call"
    first = time.monotonic()
    assert owners(hs).status_code == 503
    wait_for(lambda: owners(hs).status_code == 200, timeout=2, what="the fault to expire")
    assert time.monotonic() - first >= 0.4


def test_times_and_for_seconds_together_are_refused(hs: httpx.Client) -> None:
    resp = hs.post("/_sandbox/salesforce/faults", json={"times": 2, "for_seconds": 5})
    assert resp.status_code == 422 and "not both" in resp.text
    resp = hs.post("/_sandbox/hubspot/faults", json={"timed_from": "first_call"})
    assert resp.status_code == 422 and "for_seconds only" in resp.text
    assert hs.post("/_sandbox/hubspot/faults", json={"status": 999}).status_code == 422


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_faults_are_listed_with_what_they_served_and_can_be_cleared(
    hs: httpx.Client, sf: httpx.Client, crm: str
) -> None:
    operation = "owners.list" if crm == "hubspot" else "query"
    add_fault(hs, crm, operation=operation, status=500, times=2)
    assert (owners(hs) if crm == "hubspot" else users(sf)).status_code == 500
    listed = hs.get(f"/_sandbox/{crm}/faults").json()
    [fault] = listed["faults"]
    assert fault["times"] == 1 and fault["operation"] == operation
    assert listed["served"][operation] == 1
    assert hs.delete(f"/_sandbox/{crm}/faults").status_code == 200
    assert hs.get(f"/_sandbox/{crm}/faults").json()["faults"] == []
    assert (owners(hs) if crm == "hubspot" else users(sf)).status_code == 200


# -- which calls a fault hits ------------------------------------------------------------------


def test_a_variant_narrows_the_operation(
    sandbox: SandboxServer, hs: httpx.Client, sf: httpx.Client
) -> None:
    sandbox.hubspot.create_contacts([{"email": "a@b.fr"}])
    add_fault(hs, "hubspot", operation="contacts.batch_read.by_email", status=500)
    add_fault(hs, "salesforce", operation="query.User", status=500)

    def read(**extra: str) -> int:
        body = {"inputs": [{"id": "a@b.fr" if extra else "1001"}], "properties": [], **extra}
        return hs.post(
            "/crm/v3/objects/contacts/batch/read", headers=HS_AUTH, json=body
        ).status_code

    assert read() == 200  # by id: not the variant
    assert read(idProperty="email") == 500
    assert sf.get(SF_QUERY, params={"q": "SELECT Id FROM Lead"}).status_code == 200
    assert users(sf).status_code == 500
    calls = sandbox.hubspot.stats()["calls"]
    assert calls["contacts.batch_read"] == 2 and calls["contacts.batch_read.by_email"] == 1
    assert sandbox.salesforce.stats()["faults_served"] == {"query": 1, "query.User": 1}


def test_a_fault_on_any_operation_hits_the_next_call(hs: httpx.Client, sf: httpx.Client) -> None:
    add_fault(hs, "salesforce", status=500)  # operation defaults to '*'
    assert sf.get("/services/data/v59.0/limits").status_code == 500
    assert users(sf).status_code == 200
