"""The HubSpot connector against the sandbox over real HTTP: batching, errors, retries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from connectors.crm import Crm
from connectors.errors import (
    NO_ANSWER,
    AdminActionRequired,
    CrmError,
    ErrorKind,
    QuotaExhausted,
    RetryableError,
    retry_after_seconds,
    retry_inline,
)
from connectors.hubspot import ContactUpdate, HubSpotClient, HubSpotSettings
from connectors.sandbox import SandboxServer
from connectors.sandbox.hubspot import Fault
from tests.conftest import REPS, TOKEN


def client(sandbox: SandboxServer, **kw: object) -> HubSpotClient:
    return HubSpotClient(HubSpotSettings(base_url=sandbox.url, access_token=TOKEN, **kw))


def test_reads_250_contacts_in_three_calls_and_reports_missing_ids(
    sandbox: SandboxServer,
) -> None:
    ids = sandbox.hubspot.create_contacts([{"email": f"c{i}@x.fr"} for i in range(250)])
    result = client(sandbox).read_contacts([*ids, "424242"], ["email", "hubspot_owner_id"])
    assert set(result.found) == set(ids)
    assert result.missing == ["424242"]
    assert result.found[ids[7]].properties["email"] == "c7@x.fr"
    assert result.found[ids[7]].properties["hubspot_owner_id"] is None
    assert sandbox.hubspot.stats()["calls"]["contacts.batch_read"] == 3


def test_lists_every_owner_across_pages_with_owner_ids_not_user_ids(
    sandbox: SandboxServer,
) -> None:
    for i in range(600):
        sandbox.hubspot.add_owner(f"rep{i}@x.fr")
    owners = client(sandbox).list_owners()
    assert len(owners) == 605
    assert sandbox.hubspot.stats()["calls"]["owners.list"] == 2
    # the ids are the owners API's `id` (what hubspot_owner_id takes), never the userId
    assert {o.id for o in owners} == set(sandbox.hubspot.state.owners)
    assert not {o.id for o in owners} & {str(o.user_id) for o in owners}


def test_one_invalid_owner_id_does_not_block_the_rest_of_the_batch(
    sandbox: SandboxServer,
) -> None:
    ids = sandbox.hubspot.create_contacts([{"email": f"c{i}@x.fr"} for i in range(5)])
    owner = next(iter(sandbox.hubspot.state.owners.values()))
    updates = [ContactUpdate(i, {"hubspot_owner_id": owner.id}) for i in ids]
    updates[2] = ContactUpdate(ids[2], {"hubspot_owner_id": str(owner.user_id)})  # a userId
    result = client(sandbox).update_contacts(updates)
    assert sorted(result.updated) == sorted(ids[:2] + ids[3:])
    assert [f.id for f in result.failed] == [ids[2]]
    assert result.failed[0].category == "INVALID_OWNER_ID"
    assert "not a valid owner ID" in result.failed[0].message


def test_the_owner_and_other_properties_go_in_the_same_call_and_empty_clears_one(
    sandbox: SandboxServer,
) -> None:
    [cid] = sandbox.hubspot.create_contacts([{"email": "c@x.fr", "jobtitle": "CEO"}])
    owner = next(iter(sandbox.hubspot.state.owners))
    update = ContactUpdate(cid, {"hubspot_owner_id": owner, "industry": "RETAIL", "jobtitle": ""})
    result = client(sandbox).update_contacts([update])
    assert result.updated == [cid] and not result.failed
    assert sandbox.hubspot.stats()["calls"]["contacts.batch_update"] == 1
    props = sandbox.hubspot.state.contacts[cid].properties
    assert (props["hubspot_owner_id"], props["industry"]) == (owner, "RETAIL")
    assert not props.get("jobtitle")


def test_updates_go_100_per_call(sandbox: SandboxServer) -> None:
    ids = sandbox.hubspot.create_contacts([{"email": f"c{i}@x.fr"} for i in range(201)])
    owner = next(iter(sandbox.hubspot.state.owners))
    result = client(sandbox).update_contacts(
        [ContactUpdate(i, {"hubspot_owner_id": owner}) for i in ids]
    )
    assert len(result.updated) == 201
    assert sandbox.hubspot.stats()["calls"]["contacts.batch_update"] == 3


def test_retry_after_is_honoured(sandbox: SandboxServer) -> None:
    sandbox.hubspot.state.faults.append(Fault(operation="owners.list", status=429, retry_after=1))
    waits: list[float] = []
    hub = HubSpotClient(
        HubSpotSettings(base_url=sandbox.url, access_token=TOKEN),
        sleep=waits.append,
    )
    assert len(hub.list_owners()) == 5
    assert waits == [1.0]


def test_without_retry_after_a_ten_secondly_429_waits_the_window(sandbox: SandboxServer) -> None:
    sandbox.hubspot.state.faults.append(Fault(operation="owners.list", status=429))
    waits: list[float] = []
    hub = HubSpotClient(
        HubSpotSettings(
            base_url=sandbox.url,
            access_token=TOKEN,
            max_inline_wait_seconds=30,
        ),
        sleep=waits.append,
    )
    hub.list_owners()
    assert waits == [10.0]


def test_a_long_wait_goes_back_to_the_queue_instead_of_blocking(sandbox: SandboxServer) -> None:
    sandbox.hubspot.state.faults.append(Fault(operation="owners.list", status=429, retry_after=60))
    with pytest.raises(RetryableError) as err:
        client(sandbox).list_owners()
    assert err.value.retry_after == 60
    assert sandbox.hubspot.stats()["calls"]["owners.list"] == 1


def test_5xx_is_retried_inline_then_handed_to_the_worker(sandbox: SandboxServer) -> None:
    sandbox.hubspot.state.faults.append(Fault(operation="owners.list", status=503, times=5))
    waits: list[float] = []
    hub = HubSpotClient(
        HubSpotSettings(base_url=sandbox.url, access_token=TOKEN),
        sleep=waits.append,
    )
    with pytest.raises(RetryableError) as err:
        hub.list_owners()
    assert err.value.kind is ErrorKind.RETRY and err.value.status == 503
    assert waits == [0.25, 0.5]  # three attempts, exponential back-off


def test_the_daily_limit_is_not_retried(sandbox: SandboxServer) -> None:
    sandbox.hubspot.state.daily_limit = 0
    with pytest.raises(QuotaExhausted):
        client(sandbox).list_owners()
    assert sandbox.hubspot.stats()["calls"]["owners.list"] == 1


def test_the_rolling_window_answers_429_with_hubspots_body(sandbox: SandboxServer) -> None:
    sandbox.hubspot.state.rate_limit_per_10s = 2
    waits: list[float] = []
    hub = HubSpotClient(
        HubSpotSettings(
            base_url=sandbox.url,
            access_token=TOKEN,
            max_attempts=1,
        ),
        sleep=waits.append,
    )
    hub.list_owners()
    hub.list_owners()
    with pytest.raises(RetryableError) as err:
        hub.list_owners()
    assert err.value.category == "TEN_SECONDLY_ROLLING"


def test_a_bad_token_asks_an_admin_to_act_and_says_which_setting(
    sandbox: SandboxServer,
) -> None:
    hub = HubSpotClient(HubSpotSettings(base_url=sandbox.url, access_token="wrong"))
    with pytest.raises(AdminActionRequired) as err:
        hub.list_owners()
    assert "RELAIS_HUBSPOT_ACCESS_TOKEN" in str(err.value)
    assert "wrong" not in str(err.value)  # the secret never appears in an error


def test_an_unreachable_hubspot_is_retryable() -> None:
    hub = HubSpotClient(
        HubSpotSettings(
            base_url="http://127.0.0.1:9",
            access_token="t",
            max_attempts=1,
        )
    )
    with pytest.raises(RetryableError):
        hub.list_owners()


def test_a_503_with_retry_after_waits_what_it_says(sandbox: SandboxServer) -> None:
    sandbox.hubspot.state.faults.append(Fault(operation="owners.list", status=503, retry_after=3))
    waits: list[float] = []
    hub = HubSpotClient(
        HubSpotSettings(base_url=sandbox.url, access_token=TOKEN), sleep=waits.append
    )
    assert len(hub.list_owners()) == 5
    assert waits == [3.0]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        ("1.5", 1.5),  # not RFC 9110, but harmless to honour
        ("-3", 0.0),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),  # an HTTP date: seconds from now
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(
    header: str | None, seconds: float | None
) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC).timestamp()
    assert retry_after_seconds(header, now=now) == seconds


def test_a_certificate_we_do_not_trust_asks_an_admin_instead_of_retrying(
    sandbox: SandboxServer,
) -> None:
    # The sandbox's TLS port (its own certificate authority) serves the HubSpot routes too.
    hub = HubSpotClient(
        HubSpotSettings(base_url=sandbox.salesforce_url, access_token=TOKEN),
        sleep=lambda _: None,
    )
    with pytest.raises(AdminActionRequired, match="SSL_CERT_FILE"):
        hub.list_owners()
    assert sandbox.hubspot.stats()["calls"].get("owners.list", 0) == 0


# -- transient faults: every operation x every fault -------------------------------------------

# What the fault matrix injects, by name. A timeout is the connector's own timeout
# (MATRIX_TIMEOUT) firing on injected latency; a reset drops the connection mid-response.
TRANSIENT: dict[str, dict[str, Any]] = {
    "429": {"status": 429},
    "429+retry-after": {"status": 429, "retry_after": 2},
    "500": {"status": 500},
    "502": {"status": 502},
    "503": {"status": 503},
    "timeout": {"status": 200, "latency_ms": 2000},
    "reset": {"reset": True},
}
MATRIX_TIMEOUT = 1.0  # long enough not to fire by itself on a loaded CI machine
ATTEMPTS = 3
WINDOW_WAIT = 1.0  # rate_limit_wait_seconds: a 10-second 429 without Retry-After waits this
Data = dict[str, Any]


@dataclass(frozen=True)
class Operation:
    """One port call: ``prepare`` makes its data in the sandbox, ``call`` runs it, ``check``
    asserts what it returned, ``untouched`` that a failed call changed nothing."""

    prepare: Callable[[SandboxServer], Data]
    call: Callable[[HubSpotClient, Data], Any]
    check: Callable[[SandboxServer, Data, Any], None]
    untouched: Callable[[SandboxServer, Data], None] = lambda sb, data: None


def _contacts(sb: SandboxServer) -> Data:
    emails = [f"{uuid4().hex}@x.fr" for _ in range(3)]
    ids = sb.hubspot.create_contacts([{"email": e} for e in emails])
    return {"ids": ids, "emails": emails, "owner": next(iter(sb.hubspot.state.owners))}


def _owners_of(sb: SandboxServer, ids: list[str]) -> list[str | None]:
    return [sb.hubspot.state.contacts[i].properties.get("hubspot_owner_id") for i in ids]


def _check_read(sb: SandboxServer, data: Data, result: Any) -> None:
    assert sorted(result.found) == sorted(data["ids"]) and not result.missing


def _check_by_email(sb: SandboxServer, data: Data, found: Any) -> None:
    assert {e: c.id for e, c in found.items()} == dict(
        zip(data["emails"], data["ids"], strict=True)
    )


def _check_owners(sb: SandboxServer, data: Data, owners: Any) -> None:
    assert sorted(o.email for o in owners) == sorted(email for email, *_ in REPS)


def _check_properties(sb: SandboxServer, data: Data, properties: Any) -> None:
    assert "hubspot_owner_id" in {p.name for p in properties}


def _update(hub: HubSpotClient, data: Data) -> Any:
    return hub.update_contacts(
        [ContactUpdate(i, {"hubspot_owner_id": data["owner"]}) for i in data["ids"]]
    )


def _check_update(sb: SandboxServer, data: Data, result: Any) -> None:
    assert sorted(result.updated) == sorted(data["ids"]) and not result.failed
    assert _owners_of(sb, data["ids"]) == [data["owner"]] * len(data["ids"])


def _unowned(sb: SandboxServer, data: Data) -> None:
    assert _owners_of(sb, data["ids"]) == [None] * len(data["ids"])


# Keyed by the sandbox operation (or variant) a fault aims at.
# no HTTP answer came back, or a gateway answered: the write may have landed
NO_ANSWER_FAULTS = {"timeout", "reset", "502"}
OPERATIONS = {
    "contacts.batch_read": Operation(
        _contacts, lambda hub, d: hub.read_contacts(d["ids"], ["email"]), _check_read
    ),
    "contacts.batch_read.by_email": Operation(
        _contacts, lambda hub, d: hub.read_contacts_by_email(d["emails"], []), _check_by_email
    ),
    "owners.list": Operation(lambda sb: {}, lambda hub, d: hub.list_owners(), _check_owners),
    "properties.list": Operation(
        lambda sb: {}, lambda hub, d: hub.contact_properties(), _check_properties
    ),
    "contacts.batch_update": Operation(_contacts, _update, _check_update, _unowned),
}


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[SandboxServer]:
    """One sandbox for the whole table: its data is fresh per case, its faults are cleared."""
    server = SandboxServer(hubspot_token=TOKEN).start()
    for email, first, last in REPS:
        server.hubspot.add_owner(email, first, last)
    yield server
    server.stop()


@dataclass
class Matrix:
    sandbox: SandboxServer
    hub: HubSpotClient
    waits: list[float]

    def inject(self, operation: str, fault: str, times: int) -> int:
        """Add the fault; returns how many faults the operation had met before."""
        state = self.sandbox.hubspot.state
        state.faults.append(Fault(operation=operation, times=times, **TRANSIENT[fault]))
        return state.faults_served[operation]

    def served(self, operation: str) -> int:
        return self.sandbox.hubspot.state.faults_served[operation]


@pytest.fixture
def matrix(shared_sandbox: SandboxServer) -> Iterator[Matrix]:
    waits: list[float] = []
    hub = HubSpotClient(
        HubSpotSettings(
            base_url=shared_sandbox.url,
            access_token=TOKEN,
            timeout_seconds=MATRIX_TIMEOUT,
            max_attempts=ATTEMPTS,
            rate_limit_wait_seconds=WINDOW_WAIT,
        ),
        sleep=waits.append,
    )
    yield Matrix(shared_sandbox, hub, waits)
    hub.close()
    shared_sandbox.hubspot.state.faults.clear()


@pytest.mark.parametrize("fault", TRANSIENT)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_given_one_transient_fault_then_the_connector_absorbs_it_and_returns_the_data(
    matrix: Matrix, operation: str, fault: str
) -> None:
    op = OPERATIONS[operation]
    data = op.prepare(matrix.sandbox)
    before = matrix.inject(operation, fault, times=1)
    if operation == "contacts.batch_update" and fault in NO_ANSWER_FAULTS:
        # A write that got no answer may have landed: it is handed back at once, not sent
        # blind again; the outbox re-reads the record before it sends it again.
        with pytest.raises(RetryableError) as err:
            op.call(matrix.hub, data)
        assert not retry_inline(err.value, write=True)
        assert err.value.category == (None if fault == "502" else NO_ANSWER)
        assert matrix.served(operation) == before + 1 and matrix.waits == []
        return
    op.check(matrix.sandbox, data, op.call(matrix.hub, data))
    assert matrix.served(operation) == before + 1  # the fault was met, then absorbed
    expected_wait = {"429+retry-after": 2.0, "429": WINDOW_WAIT}.get(fault, 0.25)
    assert matrix.waits == [expected_wait]  # Retry-After, the 10 s window, or back-off


@pytest.mark.parametrize("fault", TRANSIENT)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_given_a_fault_outlasting_every_attempt_then_the_connector_raises_retryable(
    matrix: Matrix, operation: str, fault: str
) -> None:
    op = OPERATIONS[operation]
    data = op.prepare(matrix.sandbox)
    before = matrix.inject(operation, fault, times=ATTEMPTS + 1)
    with pytest.raises(CrmError) as err:
        op.call(matrix.hub, data)
    assert type(err.value) is RetryableError, err.value  # never a bug, never an admin's job
    assert err.value.crm is Crm.HUBSPOT
    # a write that got no answer is not retried inline
    blind = operation == "contacts.batch_update" and fault in NO_ANSWER_FAULTS
    assert matrix.served(operation) == before + (1 if blind else ATTEMPTS)
    if blind and fault != "502":  # it may still land: re-read no sooner than one timeout
        assert err.value.retry_after == MATRIX_TIMEOUT
    else:
        assert err.value.retry_after == {"429+retry-after": 2.0, "429": WINDOW_WAIT}.get(fault)
    http_status = None if fault in ("timeout", "reset") else TRANSIENT[fault]["status"]
    assert err.value.status == http_status  # a timeout or a reset got no HTTP answer at all
    if fault != "timeout":  # a timed-out call may still take effect later, as on HubSpot
        op.untouched(matrix.sandbox, data)
