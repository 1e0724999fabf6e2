"""The Salesforce connector against the sandbox org over real HTTPS."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.crm import Crm
from connectors.errors import (
    NO_ANSWER,
    AdminActionRequired,
    CrmError,
    ErrorKind,
    QuotaExhausted,
    RetryableError,
    retry_inline,
)
from connectors.salesforce import RecordUpdate, SalesforceClient
from connectors.salesforce.client import RATE_LIMIT_WAIT_SECONDS
from connectors.salesforce_ids import to18
from connectors.sandbox import SandboxServer
from connectors.sandbox.salesforce import SfFault, ValidationRule
from tests.conftest import REPS, salesforce_settings


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
    result = sf.update_records([RecordUpdate(i, "Lead", {"OwnerId": owner}) for i in ids])
    assert sorted(result.updated) == sorted(ids) and not result.failed
    assert sandbox.salesforce.state.collection_sizes == [200, 200, 50]
    assert sandbox.salesforce.state.auto_assign_headers == {"FALSE": 3}
    assert all(sandbox.salesforce.record("Lead", i)["OwnerId"] == owner for i in ids)


def test_the_owner_and_other_fields_go_in_the_same_collection_and_null_clears_one(
    sandbox: SandboxServer,
) -> None:
    [rid] = sandbox.salesforce.create_records(
        "Lead", [{"Email": "x@acier.fr", "LastName": "X", "Company": "Acier", "Title": "CTO"}]
    )
    owner = a_user(sandbox)
    sf, _ = client(sandbox)
    fields = {"OwnerId": owner, "Website": "https://acier.fr", "Title": None}
    result = sf.update_records([RecordUpdate(rid, "Lead", fields)])
    assert result.updated == [rid] and not result.failed
    assert sandbox.salesforce.state.collection_sizes == [1]  # one call for all three
    record = sandbox.salesforce.record("Lead", rid)
    assert (record["OwnerId"], record["Website"], record["Title"]) == (
        owner,
        "https://acier.fr",
        None,
    )


def test_three_locked_records_of_200_are_retried_alone_and_all_end_updated(
    sandbox: SandboxServer,
) -> None:
    ids = leads(sandbox, 200)
    locked = [ids[5], ids[77], ids[150]]
    for rid in locked:
        sandbox.salesforce.state.locked[rid] = 2  # locked for two tries
    owner = a_user(sandbox)
    sf, waits = client(sandbox)
    result = sf.update_records([RecordUpdate(i, "Lead", {"OwnerId": owner}) for i in ids])
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
    result = sf.update_records([RecordUpdate(rid, "Lead", {"OwnerId": a_user(sandbox)})])
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


def test_a_429_is_a_rate_limit_whatever_its_body_says(sandbox: SandboxServer) -> None:
    # Salesforce's REST API documents no 429 (its own limits answer 403): one from its edge
    # or a proxy carries no REQUEST_LIMIT_EXCEEDED, and used to be dead-lettered as our bug.
    ids = leads(sandbox, 1)
    sandbox.salesforce.state.faults.append(
        SfFault(operation="query", status=429, error_code="UNKNOWN_EXCEPTION", message="slow down")
    )
    sf, waits = client(sandbox)
    assert sf.read_records("Lead", ids, ["Email"])
    assert waits == [RATE_LIMIT_WAIT_SECONDS]


def test_a_retry_after_longer_than_an_inline_wait_goes_back_to_the_queue_with_it(
    sandbox: SandboxServer,
) -> None:
    ids = leads(sandbox, 1)
    sandbox.salesforce.state.faults.append(SfFault(operation="query", status=429, retry_after=60))
    sf, waits = client(sandbox)
    with pytest.raises(RetryableError) as err:
        sf.read_records("Lead", ids, ["Email"])
    assert err.value.retry_after == 60 and not waits
    assert sandbox.salesforce.state.calls["query"] == 1  # not asked again before it said


def test_a_tls_handshake_cut_short_is_retryable_not_a_certificate_problem(
    sandbox: SandboxServer,
) -> None:
    # A listener that reads the ClientHello and hangs up: requests raises SSLError (an
    # SSLEOFError inside), which is the network failing, not a CA to configure.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def hang_up() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            time.sleep(0.05)
            conn.recv(65536)
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    try:
        sf, waits = client(sandbox, login_url=f"https://127.0.0.1:{port}")
        with pytest.raises(CrmError) as err:
            sf.list_users()
    finally:
        listener.close()
    assert type(err.value) is RetryableError, err.value
    assert "SSLError" in str(err.value) and len(waits) == 2


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
# Retry-After when Salesforce gave one; a 429 without it waits RATE_LIMIT_WAIT_SECONDS.
RETRY_AFTER = {"429+retry-after": 2.0, "429": RATE_LIMIT_WAIT_SECONDS}
Data = dict[str, Any]


@dataclass(frozen=True)
class Operation:
    """One port call: ``prepare`` makes its data in the sandbox, ``call`` runs it, ``check``
    asserts what it returned, ``untouched`` that a failed call changed nothing."""

    prepare: Callable[[SandboxServer], Data]
    call: Callable[[SalesforceClient, Data], Any]
    check: Callable[[SandboxServer, Data, Any], None]
    untouched: Callable[[SandboxServer, Data], None] = lambda sb, data: None


def _leads(sb: SandboxServer) -> Data:
    emails = [f"{uuid4().hex}@acier.fr" for _ in range(3)]
    ids = sb.salesforce.create_records("Lead", [{"Email": e, "LastName": "L"} for e in emails])
    rep = next(
        uid for uid, u in sb.salesforce.state.records["User"].items() if u["Email"] == REPS[0][0]
    )
    return {"ids": ids, "emails": emails, "rep": rep}


def _check_users(sb: SandboxServer, data: Data, users: Any) -> None:
    assert {email for email, *_ in REPS} <= {u.email for u in users}


def _check_read(sb: SandboxServer, data: Data, found: Any) -> None:
    assert sorted(found) == sorted(data["ids"])
    assert sorted(r.fields["Email"] for r in found.values()) == sorted(data["emails"])


def _check_by_email(sb: SandboxServer, data: Data, found: Any) -> None:
    assert [r.id for r in found] == data["ids"]  # oldest first


def _check_queues(sb: SandboxServer, data: Data, queues: Any) -> None:
    assert [q.name for q in queues] == ["Relais fallback"]


def _check_describe(sb: SandboxServer, data: Data, fields: Any) -> None:
    assert {"OwnerId", "Status"} <= {f.name for f in fields}


def _update(sf: SalesforceClient, data: Data) -> Any:
    return sf.update_records(
        [RecordUpdate(i, "Lead", {"OwnerId": data["rep"]}) for i in data["ids"]]
    )


def _owners(sb: SandboxServer, ids: list[str]) -> list[str]:
    return [sb.salesforce.record("Lead", i)["OwnerId"] for i in ids]


def _check_update(sb: SandboxServer, data: Data, result: Any) -> None:
    assert sorted(result.updated) == sorted(data["ids"]) and not result.failed
    assert _owners(sb, data["ids"]) == [data["rep"]] * len(data["ids"])


def _not_updated(sb: SandboxServer, data: Data) -> None:
    assert _owners(sb, data["ids"]) == [sb.salesforce.default_owner] * len(data["ids"])


# Keyed by the sandbox operation (or variant) a fault aims at; each client is new, so its
# first call logs in (oauth.token) before the call under test.
# no HTTP answer came back, or a gateway answered: the write may have landed
NO_ANSWER_FAULTS = {"timeout", "reset", "502"}
OPERATIONS = {
    "oauth.token": Operation(lambda sb: {}, lambda sf, d: sf.list_users(), _check_users),
    "query": Operation(
        _leads, lambda sf, d: sf.read_records("Lead", d["ids"], ["Email"]), _check_read
    ),
    "query.Lead": Operation(
        _leads, lambda sf, d: sf.find_by_email("Lead", d["emails"], []), _check_by_email
    ),
    "query.User": Operation(lambda sb: {}, lambda sf, d: sf.list_users(), _check_users),
    "query.Group": Operation(lambda sb: {}, lambda sf, d: sf.list_queues(), _check_queues),
    "sobjects.describe": Operation(
        lambda sb: {}, lambda sf, d: sf.describe("Lead"), _check_describe
    ),
    "composite.sobjects.update": Operation(_leads, _update, _check_update, _not_updated),
}


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[SandboxServer]:
    """One sandbox for the whole table: its data is fresh per case, its faults are cleared."""
    server = SandboxServer().start()
    for email, first, last in REPS:
        server.salesforce.add_user(email, first, last)
    server.salesforce.add_queue("Relais fallback")
    yield server
    server.stop()


@dataclass
class Matrix:
    sandbox: SandboxServer
    sf: SalesforceClient
    waits: list[float]

    def inject(self, operation: str, fault: str, times: int) -> int:
        """Add the fault; returns how many faults the operation had met before."""
        state = self.sandbox.salesforce.state
        state.faults.append(SfFault(operation=operation, times=times, **TRANSIENT[fault]))
        return state.faults_served[operation]

    def served(self, operation: str) -> int:
        return self.sandbox.salesforce.state.faults_served[operation]


@pytest.fixture
def matrix(shared_sandbox: SandboxServer) -> Iterator[Matrix]:
    sf, waits = client(shared_sandbox, timeout_seconds=MATRIX_TIMEOUT, max_attempts=ATTEMPTS)
    yield Matrix(shared_sandbox, sf, waits)
    sf.close()
    shared_sandbox.salesforce.state.faults.clear()


@pytest.mark.parametrize("fault", TRANSIENT)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_given_one_transient_fault_then_the_connector_absorbs_it_and_returns_the_data(
    matrix: Matrix, operation: str, fault: str
) -> None:
    op = OPERATIONS[operation]
    data = op.prepare(matrix.sandbox)
    before = matrix.inject(operation, fault, times=1)
    if operation == "composite.sobjects.update" and fault in NO_ANSWER_FAULTS:
        # A write that got no answer may have landed: it is handed back at once, not sent
        # blind again; the outbox re-reads the record before it sends it again.
        with pytest.raises(RetryableError) as err:
            op.call(matrix.sf, data)
        assert not retry_inline(err.value, write=True)
        assert err.value.category == (None if fault == "502" else NO_ANSWER)
        assert matrix.served(operation) == before + 1 and matrix.waits == []
        return
    op.check(matrix.sandbox, data, op.call(matrix.sf, data))
    assert matrix.served(operation) == before + 1  # the fault was met, then absorbed
    assert matrix.waits == [RETRY_AFTER.get(fault, 0.25)]  # Retry-After, or back-off


@pytest.mark.parametrize("fault", TRANSIENT)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_given_a_fault_outlasting_every_attempt_then_the_connector_raises_retryable(
    matrix: Matrix, operation: str, fault: str
) -> None:
    op = OPERATIONS[operation]
    data = op.prepare(matrix.sandbox)
    before = matrix.inject(operation, fault, times=ATTEMPTS + 1)
    with pytest.raises(CrmError) as err:
        op.call(matrix.sf, data)
    assert type(err.value) is RetryableError, err.value  # never a bug, never an admin's job
    assert err.value.crm is Crm.SALESFORCE
    blind = (
        operation == "composite.sobjects.update" and fault in NO_ANSWER_FAULTS
    )  # not retried inline
    assert matrix.served(operation) == before + (1 if blind else ATTEMPTS)
    if blind and fault != "502":  # it may still land: re-read no sooner than one timeout
        assert err.value.retry_after == MATRIX_TIMEOUT
    else:
        assert err.value.retry_after == RETRY_AFTER.get(fault)
    http_status = None if fault in ("timeout", "reset") else TRANSIENT[fault]["status"]
    assert err.value.status == http_status  # a timeout or a reset got no HTTP answer at all
    if fault != "timeout":  # a timed-out call may still take effect later, as on Salesforce
        op.untouched(matrix.sandbox, data)
