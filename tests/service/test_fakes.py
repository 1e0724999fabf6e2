"""The in-memory CRMs keep the promises of their ports, as the real clients do."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from connectors.crm import Crm
from connectors.errors import LEASE_ENDING, QuotaExhausted, RetryableError
from connectors.hubspot.fake import InMemoryHubSpot
from connectors.hubspot.port import OWNER_PROPERTY, ContactUpdate, HubSpotPort
from connectors.salesforce.fake import InMemorySalesforce
from connectors.salesforce.port import RecordUpdate, SalesforcePort
from connectors.salesforce_ids import to18

# mypy checks that each fake implements its port exactly.
_hubspot_port: HubSpotPort = InMemoryHubSpot()
_salesforce_port: SalesforcePort = InMemorySalesforce()


def test_hubspot_reads_report_missing_ids_and_count_one_call_per_hundred() -> None:
    hs = InMemoryHubSpot()
    ids = hs.create_contacts([{"email": f"c{i}@x.fr"} for i in range(150)])

    result = hs.read_contacts([*ids, "999999"], ["email", OWNER_PROPERTY])

    assert sorted(result.found) == sorted(ids) and result.missing == ["999999"]
    assert result.found[ids[0]].properties == {
        "email": "c0@x.fr",
        OWNER_PROPERTY: None,
        "hs_object_id": ids[0],
    }
    assert hs.calls("read_contacts") == 2


def test_hubspot_finds_contacts_by_email_in_any_case() -> None:
    hs = InMemoryHubSpot()
    cid = hs.create_contact(email="Lea.Durand@Beton.fr")

    found = hs.read_contacts_by_email(["LEA.DURAND@beton.fr", "nobody@x.fr"], ["firstname"])

    assert list(found) == ["lea.durand@beton.fr"] and found["lea.durand@beton.fr"].id == cid


def test_hubspot_refuses_an_invalid_owner_or_a_deleted_contact_per_record() -> None:
    hs = InMemoryHubSpot()
    owner = hs.add_owner("rep@x.fr")
    good, bad, gone = hs.create_contacts([{"email": f"{n}@x.fr"} for n in "abc"])
    hs.delete_contact(gone)

    result = hs.update_contacts(
        [
            ContactUpdate(good, {OWNER_PROPERTY: owner.id}),
            ContactUpdate(bad, {OWNER_PROPERTY: "123"}),
            ContactUpdate(gone, {OWNER_PROPERTY: owner.id}),
        ]
    )

    assert result.updated == [good] and hs.owner_of(good) == owner.id
    failures = {f.id: f for f in result.failed}
    assert failures[bad].category == "INVALID_OWNER_ID"
    assert "123 was not a valid owner ID" in failures[bad].message
    assert failures[gone].category == "OBJECT_NOT_FOUND"
    assert hs.owner_of(bad) is None


def test_hubspot_refuses_a_value_outside_an_enumeration() -> None:
    hs = InMemoryHubSpot()
    cid = hs.create_contact(email="e@x.fr")

    result = hs.update_contacts([ContactUpdate(cid, {"lifecyclestage": "not-a-stage"})])

    [failure] = result.failed
    assert failure.category == "VALIDATION_ERROR" and "INVALID_OPTION" in failure.message


def test_hubspot_emits_the_webhooks_hubspot_would_send_including_our_echo() -> None:
    hs = InMemoryHubSpot()
    owner = hs.add_owner("rep@x.fr")
    cid = hs.create_contact(email="w@x.fr")
    hs.update_contacts([ContactUpdate(cid, {OWNER_PROPERTY: owner.id})])

    creation, echo = hs.take_events()

    assert creation["subscriptionType"] == "contact.creation" and creation["objectId"] == int(cid)
    assert echo["changeSource"] == "INTEGRATION" and echo["sourceId"] == str(hs.app_id)
    assert echo["propertyName"] == OWNER_PROPERTY and echo["propertyValue"] == owner.id
    assert hs.take_events() == []


def test_a_failure_armed_on_an_operation_is_raised_that_many_times_then_calls_work() -> None:
    hs = InMemoryHubSpot()
    hs.fail("list_owners", RetryableError("HTTP 503", status=503), times=2)

    for _ in range(2):
        with pytest.raises(RetryableError) as raised:
            hs.list_owners()
        assert raised.value.crm is Crm.HUBSPOT  # as the real client says which CRM failed
    assert hs.list_owners() == []
    assert hs.calls("list_owners") == 3
    with pytest.raises(ValueError, match="unknown operation"):
        hs.fail("list_owner", QuotaExhausted())


def test_a_write_is_not_started_past_its_deadline() -> None:
    hs, sf = InMemoryHubSpot(), InMemorySalesforce()
    past = time.monotonic() - 1

    with pytest.raises(RetryableError) as raised:
        hs.update_contacts([], deadline=past)
    assert raised.value.category == LEASE_ENDING
    with pytest.raises(RetryableError):
        sf.update_records([], deadline=past)


def test_salesforce_reads_by_15_or_18_character_ids_and_leaves_unknown_ones_out() -> None:
    sf = InMemorySalesforce()
    lid = sf.create_record("Lead", Email="a@x.fr", LastName="A", Company="X")
    assert len(lid) == 18 and to18(lid[:15]) == lid

    found = sf.read_records("Lead", [lid[:15], to18("00QFake99999999")], ["Email", "OwnerId"])

    assert list(found) == [lid]
    assert found[lid].fields == {"Id": lid, "Email": "a@x.fr", "OwnerId": sf.integration_user}


def test_salesforce_finds_unconverted_records_by_email_oldest_first() -> None:
    sf = InMemorySalesforce()
    older, converted, newer = sf.create_records(
        "Lead", [{"Email": "Dup@x.fr", "LastName": n, "Company": "X"} for n in "abc"]
    )
    sf.convert_lead(converted)

    found = sf.find_by_email("Lead", ["dup@X.fr"], ["OwnerId"])

    assert [r.id for r in found] == [older, newer]


def test_salesforce_lists_only_active_users_and_refuses_them_as_owners_per_record() -> None:
    sf = InMemorySalesforce()
    active = sf.add_user("a@x.fr")
    gone = sf.add_user("b@x.fr", active=False)
    queue = sf.add_queue("Relais Nurture")
    ids = sf.create_records("Lead", [{"LastName": n, "Company": "X"} for n in "abcd"])

    result = sf.update_records(
        [
            RecordUpdate(ids[0], "Lead", {"OwnerId": active}),
            RecordUpdate(ids[1], "Lead", {"OwnerId": gone}),
            RecordUpdate(ids[2], "Lead", {"OwnerId": queue}),
            RecordUpdate(ids[3], "Lead", {"OwnerId": to18("005Fake99999999")}),
        ]
    )

    assert {u.email for u in sf.list_users()} == {"integration@relais.example", "a@x.fr"}
    assert result.updated == [ids[0], ids[2]] and sf.owner_of("Lead", ids[2]) == queue
    codes = {f.id: f.category for f in result.failed}
    assert codes == {ids[1]: "INACTIVE_OWNER_OR_USER", ids[3]: "INVALID_CROSS_REFERENCE_KEY"}
    assert sf.owner_of("Lead", ids[1]) == sf.integration_user


def test_salesforce_writes_any_fields_with_the_owner_in_one_call_of_200() -> None:
    sf = InMemorySalesforce()
    user = sf.add_user("a@x.fr")
    ids = sf.create_records("Lead", [{"LastName": f"L{i}", "Company": "X"} for i in range(201)])

    result = sf.update_records(
        [RecordUpdate(i, "Lead", {"OwnerId": user, "Status": "Working - Contacted"}) for i in ids]
    )

    assert len(result.updated) == 201 and sf.calls("update_records") == 2
    assert sf.record("Lead", ids[0])["Status"] == "Working - Contacted"
    assert sf.applied_updates(ids[0]) == [
        {"Id": ids[0], "sobject": "Lead", "OwnerId": user, "Status": "Working - Contacted"}
    ]


def test_salesforce_refuses_converted_deleted_records_and_unknown_fields_per_record() -> None:
    sf = InMemorySalesforce()
    converted, deleted, odd = sf.create_records(
        "Lead", [{"LastName": n, "Company": "X"} for n in "abc"]
    )
    sf.convert_lead(converted)
    sf.delete_record("Lead", deleted)

    result = sf.update_records(
        [
            RecordUpdate(converted, "Lead", {"OwnerId": sf.integration_user}),
            RecordUpdate(deleted, "Lead", {"OwnerId": sf.integration_user}),
            RecordUpdate(odd, "Lead", {"Nope__c": "x"}),
        ]
    )

    assert result.updated == []
    failures = {f.id: f for f in result.failed}
    assert failures[converted].category == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert failures[deleted].category == "ENTITY_IS_DELETED"
    assert failures[odd].category == "INVALID_FIELD" and "Nope__c" in failures[odd].message
    assert failures[converted].message.startswith(
        f"CANNOT_UPDATE_CONVERTED_LEAD on Lead {converted}"
    )


def test_salesforce_notifies_what_a_person_changes_and_our_writes_only_when_asked() -> None:
    sf = InMemorySalesforce()
    user = sf.add_user("a@x.fr")
    lid = sf.create_record("Lead", Email="n@x.fr", LastName="N", Company="X")
    sf.update_records([RecordUpdate(lid, "Lead", {"OwnerId": user})])
    sf.change_record("Lead", lid, {"OwnerId": sf.integration_user})

    created, changed = sf.take_notifications()

    assert created["changeType"] == "created" and created["recordId"] == lid
    assert changed["fields"]["OwnerId"] == sf.integration_user
    sf.notify_api_updates = True
    sf.update_records([RecordUpdate(lid, "Lead", {"OwnerId": user})])
    [echo] = sf.take_notifications()
    assert echo["fields"]["OwnerId"] == user


def test_the_fakes_stay_consistent_under_parallel_calls() -> None:
    hs, sf = InMemoryHubSpot(), InMemorySalesforce()
    owner = hs.add_owner("rep@x.fr")
    user = sf.add_user("rep@x.fr")
    ids = hs.create_contacts([{"email": f"p{i}@x.fr"} for i in range(200)])
    leads = sf.create_records("Lead", [{"LastName": f"P{i}", "Company": "X"} for i in range(200)])

    def work(n: int) -> None:
        mine = ids[n::8]
        hs.update_contacts([ContactUpdate(i, {OWNER_PROPERTY: owner.id}) for i in mine])
        hs.read_contacts(mine, [OWNER_PROPERTY])
        sf.update_records([RecordUpdate(i, "Lead", {"OwnerId": user}) for i in leads[n::8]])
        sf.read_records("Lead", leads[n::8], ["OwnerId"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))

    assert {hs.owner_of(i) for i in ids} == {owner.id}
    assert {sf.owner_of("Lead", i) for i in leads} == {user}
    assert hs.calls("update_contacts") == 8 and sf.calls("update_records") == 8
    assert len(hs.applied_updates()) == 200 and len(sf.applied_updates()) == 200
