"""The HubSpot connector against the sandbox over real HTTP: batching, errors, retries."""

from __future__ import annotations

import pytest

from connectors.errors import AdminActionRequired, ErrorKind, QuotaExhausted, RetryableError
from connectors.hubspot import ContactUpdate, HubSpotClient, HubSpotSettings
from connectors.sandbox import SandboxServer
from connectors.sandbox.hubspot import Fault
from tests.conftest import TOKEN


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
