"""Typed outbox writes on the in-memory CRMs: owner and fields writes, each sent by the writer
of its (CRM, kind), and the rules that keep a record's writes from crossing."""

from __future__ import annotations

import pytest

from app.db import utcnow
from app.outbox.models import OutboxWrite, WriteKind
from app.outbox.repository import OutboxRepository
from app.outbox.writers import build_writers, reachable_crms, sendable
from app.outbox.writes import fields_write, owner_write
from app.pauses.repository import PauseRepository
from app.queue import Status
from connectors.crm import Crm, RecordKey
from connectors.errors import RetryableError
from connectors.hubspot.fake import InMemoryHubSpot
from connectors.salesforce.fake import InMemorySalesforce
from tests.conftest import REPS
from tests.service.helpers import Service

REP = REPS[0][0]


def _queue(service: Service, *writes: OutboxWrite) -> list[int]:
    with service.db.transaction() as session:
        for write in writes:
            OutboxRepository(session).add(write)
        session.flush()
        return [w.id or 0 for w in writes]


def _by_id(service: Service) -> dict[int, OutboxWrite]:
    return {w.id or 0: w for w in service.writes()}


def _lead(service: Service) -> RecordKey:
    [lead] = service.salesforce.create_records(
        "Lead", [{"Email": "l@x.fr", "LastName": "L", "Company": "C", "Title": "CTO"}]
    )
    service.forget_webhooks()
    return RecordKey.salesforce("Lead", lead)


def test_given_fields_writes_when_dispatched_then_each_crm_sets_them_and_clears_none(
    service: Service,
) -> None:
    contact = service.hubspot.create_contact(email="c@x.fr", jobtitle="CEO")
    lead = _lead(service)
    _queue(
        service,
        fields_write(
            RecordKey.hubspot(contact), {"industry": "RETAIL", "jobtitle": None}, None, utcnow()
        ),
        fields_write(lead, {"Website": "https://x.fr", "Title": None}, None, utcnow()),
    )

    service.run("outbox")

    assert {w.status for w in service.writes()} == {Status.DONE}
    props = service.hubspot.contact(contact)
    assert props["industry"] == "RETAIL" and props["jobtitle"] is None
    record = service.salesforce.record("Lead", lead.id)
    assert record["Website"] == "https://x.fr" and record["Title"] is None


def test_given_a_fields_write_sent_again_then_it_goes_out_as_it_is_without_a_reread(
    service: Service,
) -> None:
    lead = _lead(service)
    service.salesforce.fail("update_records", RetryableError("down", status=503), times=1)
    _queue(service, fields_write(lead, {"Website": "https://x.fr"}, None, utcnow()))
    service.run("outbox")
    [waiting] = service.writes()
    assert waiting.status == Status.PENDING and waiting.attempts == 1

    service.time_passes()
    service.run("outbox")

    [write] = service.writes()
    assert write.status == Status.DONE and write.attempts == 2
    assert service.salesforce.calls("read_records") == 0  # values: nothing to judge
    assert service.salesforce.record("Lead", lead.id)["Website"] == "https://x.fr"


def test_given_an_owner_write_sent_again_then_the_owner_is_read_first(service: Service) -> None:
    lead = _lead(service)
    rep = service.salesforce.user_id(REP)
    service.salesforce.fail("update_records", RetryableError("down", status=503), times=1)
    _queue(service, owner_write(lead, rep, None, utcnow()))
    service.run("outbox")
    service.time_passes()
    service.run("outbox")

    [write] = service.writes()
    assert write.status == Status.DONE and write.kind == WriteKind.OWNER
    assert service.salesforce.calls("read_records") == 1
    assert service.salesforce.owner_of("Lead", lead.id) == rep


def test_given_writes_of_two_kinds_to_one_record_then_both_land_one_at_a_time(
    service: Service,
) -> None:
    lead = _lead(service)
    rep = service.salesforce.user_id(REP)
    owner_id, fields_id = _queue(
        service,
        owner_write(lead, rep, None, utcnow()),
        fields_write(lead, {"Website": "https://x.fr"}, None, utcnow()),
    )

    service.run("outbox")

    writes = _by_id(service)
    assert writes[owner_id].status == writes[fields_id].status == Status.DONE
    assert writes[fields_id].attempts == 1  # handed back once, its attempt not counted
    applied = service.salesforce.applied_updates(lead.id)
    assert [set(u) - {"Id", "sobject"} for u in applied] == [{"OwnerId"}, {"Website"}]
    assert service.salesforce.calls("update_records") == 2


def test_given_a_later_write_sets_a_field_again_then_only_its_value_is_sent(
    service: Service,
) -> None:
    lead = _lead(service)
    first, second, third = _queue(
        service,
        fields_write(lead, {"Website": "https://a.fr", "Title": "CEO"}, None, utcnow()),
        fields_write(lead, {"Website": "https://b.fr"}, None, utcnow()),
        fields_write(lead, {"Title": "CFO", "Website": "https://c.fr"}, None, utcnow()),
    )

    service.run("outbox")

    writes = _by_id(service)
    assert writes[first].status == writes[second].status == Status.SUPERSEDED
    assert f"outbox write #{third}" in (writes[first].last_error or "")
    assert writes[third].status == Status.DONE
    record = service.salesforce.record("Lead", lead.id)
    assert (record["Website"], record["Title"]) == ("https://c.fr", "CFO")


def test_given_an_earlier_write_retried_after_a_later_one_then_it_sends_only_its_other_fields(
    service: Service,
) -> None:
    lead = _lead(service)
    service.salesforce.fail("update_records", RetryableError("down", status=503), times=1)
    [first] = _queue(
        service, fields_write(lead, {"Website": "https://a.fr", "Title": "CEO"}, None, utcnow())
    )
    service.run("outbox")  # fails: waits for its retry
    [second] = _queue(service, fields_write(lead, {"Website": "https://b.fr"}, None, utcnow()))
    service.run("outbox")  # the later write goes out first
    service.time_passes()
    service.run("outbox")

    writes = _by_id(service)
    assert writes[first].status == writes[second].status == Status.DONE
    record = service.salesforce.record("Lead", lead.id)
    assert (record["Website"], record["Title"]) == ("https://b.fr", "CEO")  # the latest value
    last = service.salesforce.applied_updates(lead.id)[-1]
    assert {k: v for k, v in last.items() if k not in ("Id", "sobject")} == {"Title": "CEO"}


def test_given_a_paused_crm_then_its_writes_wait_and_the_others_go(service: Service) -> None:
    contact = service.hubspot.create_contact(email="c@x.fr")
    lead = _lead(service)
    _queue(
        service,
        fields_write(RecordKey.hubspot(contact), {"industry": "RETAIL"}, None, utcnow()),
        fields_write(lead, {"Website": "https://x.fr"}, None, utcnow()),
    )
    with service.db.transaction() as session:
        PauseRepository(session).pause(Crm.HUBSPOT, utcnow().replace(year=2100), "quota")

    service.run("outbox")

    statuses = {w.crm: w.status for w in service.writes()}
    assert statuses == {Crm.HUBSPOT: Status.PENDING, Crm.SALESFORCE: Status.DONE}


def test_the_registry_has_a_writer_per_crm_and_kind_of_the_crms_configured() -> None:
    both = build_writers(InMemoryHubSpot(), InMemorySalesforce())
    assert reachable_crms(both) == (Crm.HUBSPOT, Crm.SALESFORCE)
    assert set(sendable(both)) == {(crm, kind) for crm in Crm for kind in WriteKind}
    assert set(sendable(both, [Crm.HUBSPOT])) == {(Crm.SALESFORCE, k) for k in WriteKind}
    only = build_writers(None, InMemorySalesforce())
    assert reachable_crms(only) == (Crm.SALESFORCE,)
    assert reachable_crms(build_writers(None, None)) == ()


def test_a_fields_write_never_sets_the_owner() -> None:
    key = RecordKey.salesforce("Lead", "00Q000000000001")
    with pytest.raises(ValueError, match="owner_write"):
        fields_write(key, {"ownerid": "005x"}, None, utcnow())
    with pytest.raises(ValueError, match="no field"):
        fields_write(key, {}, None, utcnow())
    owner = owner_write(key, "005x", None, utcnow(), owner_before="", before_known=True)
    assert (owner.kind, owner.fields, owner.sobject) == (
        WriteKind.OWNER,
        {"OwnerId": "005x"},
        "Lead",
    )
    assert (owner.owner_before, owner.before_known) == (None, True)
