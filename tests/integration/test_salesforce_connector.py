"""The Salesforce connector against the sandbox org over real HTTPS."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.errors import AdminActionRequired, ErrorKind, QuotaExhausted, RetryableError
from connectors.salesforce import OwnerUpdate, SalesforceClient
from connectors.salesforce_ids import to18
from connectors.sandbox import SandboxServer
from connectors.sandbox.salesforce import SfFault, ValidationRule
from tests.conftest import salesforce_settings


def client(sandbox: SandboxServer, **kw: object) -> tuple[SalesforceClient, list[float]]:
    waits: list[float] = []
    return SalesforceClient(
        salesforce_settings(sandbox, **kw), sleep=waits.append, rng=random.Random(1)
    ), waits


def leads(sandbox: SandboxServer, n: int) -> list[str]:
    return sandbox.salesforce.create_records(
        "Lead",
        [{"Email": f"l{i}@acier.fr", "LastName": f"L{i}", "Company": "Acier"} for i in range(n)],
    )


def a_user(sandbox: SandboxServer) -> str:
    return next(iter(sandbox.salesforce.state.records["User"]))


def test_reads_records_by_id_in_batches_and_accepts_15_character_ids(
    sandbox: SandboxServer,
) -> None:
    ids = leads(sandbox, 250)
    sf, _ = client(sandbox)
    found = sf.read_records("Lead", [ids[0][:15], *ids[1:]], ["Email", "OwnerId"])
    assert set(found) == set(ids)
    assert found[ids[3]].fields["Email"] == "l3@acier.fr"
    assert sandbox.salesforce.state.calls["query"] == 2  # 200 ids per query


def test_lists_active_users_and_queues(sandbox: SandboxServer) -> None:
    sandbox.salesforce.add_user("gone@paieco.example", active=False)
    queue = sandbox.salesforce.add_queue("Relais fallback")
    sf, _ = client(sandbox)
    users = sf.list_users()
    assert len(users) == 6 and all(
        u.active and u.id.startswith("005") for u in users
    )  # 5 reps + integration user
    assert [q.id for q in sf.list_queues()] == [queue]


def test_finds_leads_by_email_oldest_first(sandbox: SandboxServer) -> None:
    first = leads(sandbox, 1)[0]
    dup = sandbox.salesforce.create_records("Lead", [{"Email": "L0@acier.fr", "LastName": "x"}])
    sf, _ = client(sandbox)
    found = sf.find_by_email("Lead", ["l0@ACIER.fr"], ["OwnerId"])
    assert [r.id for r in found] == [first, dup[0]]


def test_owner_updates_go_200_per_collection_with_auto_assign_off(
    sandbox: SandboxServer,
) -> None:
    queue = sandbox.salesforce.add_queue("Assignment rule queue")
    sandbox.salesforce.state.assignment_rule_owner = queue  # what the org's rules would do
    ids = leads(sandbox, 450)
    owner = a_user(sandbox)
    sf, _ = client(sandbox)
    result = sf.update_owners([OwnerUpdate(i, "Lead", owner) for i in ids])
    assert sorted(result.updated) == sorted(ids) and not result.failed
    assert sandbox.salesforce.state.collection_sizes == [200, 200, 50]
    assert sandbox.salesforce.state.auto_assign_headers == {"FALSE": 3}
    assert all(sandbox.salesforce.record("Lead", i)["OwnerId"] == owner for i in ids)


def test_three_locked_records_of_200_are_retried_alone_and_all_end_updated(
    sandbox: SandboxServer,
) -> None:
    ids = leads(sandbox, 200)
    locked = [ids[5], ids[77], ids[150]]
    for rid in locked:
        sandbox.salesforce.state.locked[rid] = 2  # locked for two tries
    owner = a_user(sandbox)
    sf, waits = client(sandbox)
    result = sf.update_owners([OwnerUpdate(i, "Lead", owner) for i in ids])
    assert sorted(result.updated) == sorted(ids) and not result.failed
    sizes = sandbox.salesforce.state.collection_sizes
    assert sizes[0] == 200 and sizes[1:] == [1] * 6  # each locked record retried alone
    assert all(sandbox.salesforce.record("Lead", i)["OwnerId"] == owner for i in ids)
    assert len(set(waits)) == len(waits) == 6  # jittered back-off


def test_an_expired_session_is_renewed_once_and_the_call_replayed(
    sandbox: SandboxServer,
) -> None:
    ids = leads(sandbox, 3)
    sf, _ = client(sandbox)
    assert len(sf.read_records("Lead", ids, ["Email"])) == 3
    sandbox.salesforce.state.tokens.clear()  # the org expires the session
    assert len(sf.read_records("Lead", ids, ["Email"])) == 3
    assert sandbox.salesforce.state.calls["oauth.token"] == 2
    assert sandbox.salesforce.state.calls["query"] == 3  # 1, then 401 + replay


def test_a_validation_rule_failure_names_the_field_and_the_rule(sandbox: SandboxServer) -> None:
    [rid] = sandbox.salesforce.create_records(
        "Lead", [{"Email": "x@y.fr", "LastName": "X", "Status": "Closed - Not Converted"}]
    )
    sandbox.salesforce.state.validation_rules.append(
        ValidationRule(
            field="Status",
            equals="Closed - Not Converted",
            name="Closed_Leads_Are_Locked",
            message="A closed lead cannot change owner",
        )
    )
    sf, _ = client(sandbox)
    result = sf.update_owners([OwnerUpdate(rid, "Lead", a_user(sandbox))])
    [failure] = result.failed
    assert failure.category == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert "Status" in failure.message and "Closed_Leads_Are_Locked" in failure.message


def test_the_daily_allocation_stops_and_concurrency_limits_back_off(
    sandbox: SandboxServer,
) -> None:
    ids = leads(sandbox, 1)
    sf, _ = client(sandbox)
    sandbox.salesforce.state.faults.append(
        SfFault(
            operation="query",
            status=403,
            error_code="REQUEST_LIMIT_EXCEEDED",
            message="ConcurrentPerOrgLongTxn Limit exceeded.",
        )
    )
    assert sf.read_records("Lead", ids, ["Email"])  # backed off, then went through
    sandbox.salesforce.state.daily_limit = 0
    with pytest.raises(QuotaExhausted):
        sf.read_records("Lead", ids, ["Email"])


def test_api_usage_is_read_from_sforce_limit_info(sandbox: SandboxServer) -> None:
    ids = leads(sandbox, 1)
    sf, _ = client(sandbox)
    sf.read_records("Lead", ids, ["Email"])
    used, total = sf.api_usage or (0, 0)
    assert used == sandbox.salesforce.state.daily_used and total == 100_000


def test_5xx_is_retried_then_handed_to_the_queue(sandbox: SandboxServer) -> None:
    ids = leads(sandbox, 1)
    sandbox.salesforce.state.faults.append(
        SfFault(operation="query", status=503, times=5, error_code="SERVER_UNAVAILABLE")
    )
    sf, waits = client(sandbox)
    with pytest.raises(RetryableError) as err:
        sf.read_records("Lead", ids, ["Email"])
    assert err.value.kind is ErrorKind.RETRY and waits == [0.25, 0.5]


def test_bad_credentials_ask_an_admin_to_act(sandbox: SandboxServer) -> None:
    sf, _ = client(sandbox, client_secret="wrong")
    with pytest.raises(AdminActionRequired) as err:
        sf.list_users()
    assert "invalid_grant" in str(err.value) and "wrong" not in str(err.value)


def test_the_tls_path_is_real_a_certificate_from_another_authority_is_refused(
    sandbox: SandboxServer,
    tmp_path: Path,
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    sf, _ = client(sandbox, ca_bundle=other)
    with pytest.raises(AdminActionRequired, match="RELAIS_SALESFORCE_CA_BUNDLE"):
        sf.list_users()
    assert sandbox.salesforce.state.calls["oauth.token"] == 0  # refused before any request


def test_password_and_jwt_flows_also_log_in(sandbox: SandboxServer) -> None:
    st = sandbox.salesforce.state
    sf, _ = client(
        sandbox, auth="password", username=st.username, password=st.password, security_token="TOKEN"
    )
    assert sf.list_users()
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    sf, _ = client(sandbox, auth="jwt", username=st.username, private_key=key)
    assert sf.list_users()
    assert to18(st.org_id[:15]) == st.org_id
