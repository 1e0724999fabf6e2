from typing import Any

import pytest

from app.inbox.hubspot_events import ParsedEvent
from app.inbox.hubspot_events import parse_event as parse_any
from app.webhooks.edge import RejectedEvent


def parse_event(event: Any) -> ParsedEvent:
    """parse_event for events that pass the edge's checks."""
    parsed = parse_any(event)
    assert isinstance(parsed, ParsedEvent), parsed
    return parsed


def rejection(event: Any) -> RejectedEvent:
    parsed = parse_any(event)
    assert isinstance(parsed, RejectedEvent), parsed
    return parsed


CREATION = {
    "objectId": 1246978,
    "changeSource": "IMPORT",
    "eventId": 3816279480,
    "subscriptionId": 22,
    "portalId": 33,
    "appId": 1160452,
    "occurredAt": 1462216307945,
    "subscriptionType": "contact.creation",
    "attemptNumber": 0,
}


def test_legacy_creation_is_routed_with_its_record_and_time() -> None:
    parsed = parse_event(CREATION)
    assert parsed.ignored_because is None
    assert parsed.record_key == "hubspot:contact:1246978"
    assert parsed.occurred_at is not None and parsed.occurred_at.year == 2016


def test_event_type_key_is_accepted_as_well_as_subscription_type() -> None:
    legacy = {k: v for k, v in CREATION.items() if k != "subscriptionType"}
    legacy["eventType"] = "contact.creation"
    assert parse_event(legacy).ignored_because is None


def test_generic_contact_events_are_routed_and_other_objects_ignored() -> None:
    generic = {**CREATION, "subscriptionType": "object.creation", "objectTypeId": "0-1"}
    assert parse_event(generic).ignored_because is None
    company = {**generic, "objectTypeId": "0-2"}
    assert parse_event(company).ignored_because is not None


def test_redelivery_has_the_same_key_and_another_event_a_different_one() -> None:
    again = {**CREATION, "attemptNumber": 3}
    assert parse_event(again).dedupe_key == parse_event(CREATION).dedupe_key
    # eventId alone is not unique: same eventId, another object -> another key
    other = {**CREATION, "objectId": 999}
    assert parse_event(other).dedupe_key != parse_event(CREATION).dedupe_key


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({**CREATION, "subscriptionType": "contact.deletion"}, "not routed"),
        ({**CREATION, "subscriptionType": "deal.creation"}, "not routed"),
        ({**CREATION, "subscriptionType": "contact.someFutureThing"}, "not routed"),
        ({**CREATION, "subscriptionType": "deal.creation", "objectId": None}, "not routed"),
    ],
)
def test_unroutable_events_are_kept_as_ignored_with_a_reason(event: object, reason: str) -> None:
    parsed = parse_event(event)
    assert parsed.ignored_because is not None and reason in parsed.ignored_because


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({**CREATION, "objectId": None}, "objectId: missing"),
        ({**CREATION, "objectId": "١٢٣"}, "objectId: '١٢٣' is not an ASCII decimal number"),
        ({**CREATION, "objectId": "12a"}, "objectId: '12a' is not an ASCII decimal number"),
        ({**CREATION, "objectId": 10**200}, "objectId: 100000"),
        ({**CREATION, "objectId": 2**63}, "objectId: 9223372036854775808 is out of range"),
        ({**CREATION, "objectId": 0}, "objectId: 0 is out of range"),
        ({**CREATION, "objectId": True}, "objectId: expected an integer"),
        ({**CREATION, "objectId": 1.5}, "objectId: expected an integer"),
        ({**CREATION, "subscriptionType": "c" * 200}, "subscriptionType: 200 characters"),
        ({**CREATION, "subscriptionType": "contact creation"}, "subscriptionType: 'contact"),
        ({**CREATION, "subscriptionType": "contact.créé"}, "subscriptionType:"),
        ({**CREATION, "subscriptionType": 7}, "subscriptionType: expected a string"),
        ({k: v for k, v in CREATION.items() if k != "subscriptionType"}, "subscriptionType"),
        ({**CREATION, "occurredAt": 10**15}, "occurredAt:"),
        ({**CREATION, "occurredAt": "yesterday"}, "occurredAt: expected epoch milliseconds"),
        ({**CREATION, "portalId": {"a": 1}}, "portalId: expected an integer or a short"),
        ({**CREATION, "eventId": "x" * 300}, "eventId: 300 characters"),
        ({**CREATION, "changeSource": "CRM\x00UI"}, "changeSource: contains a NUL"),
        ({**CREATION, "propertyValue": "a\ud800b"}, "propertyValue: contains a lone surrogate"),
        ({**CREATION, "propertyValue": "v" * 70_000}, "propertyValue: 70000 characters"),
        ({**CREATION, "propertyValue": float("nan")}, "propertyValue: NaN is not a finite"),
        ({**CREATION, "propertyValue": [1]}, "propertyValue: expected a string, a number"),
        ({**CREATION, "extra": float("inf")}, "extra: Infinity is not a finite number"),
        ({**CREATION, "extra": {"deeper": [float("-inf")]}}, "extra.deeper[0]: -Infinity"),
        ("just a string", "event: expected a JSON object, got a string"),
        ([CREATION], "event: expected a JSON object, got a JSON array"),
    ],
)
def test_events_breaking_a_rule_are_rejected_with_a_reason_naming_the_field(
    event: object, reason: str
) -> None:
    rejected = rejection(event)
    assert rejected.reason.startswith(reason), rejected.reason
    assert rejected.crm == "hubspot"


def test_a_rejected_event_keeps_its_key_across_redeliveries() -> None:
    bad = {**CREATION, "objectId": "١٢٣"}
    again = {**bad, "attemptNumber": 4}
    assert rejection(bad).dedupe_key == rejection(again).dedupe_key
    assert rejection(bad).dedupe_key != rejection({**bad, "eventId": 5}).dedupe_key
    assert len(rejection(bad).dedupe_key) <= 64


def test_an_objectid_given_as_a_string_of_ascii_digits_names_the_same_contact() -> None:
    assert parse_event({**CREATION, "objectId": "1246978"}).record_key == "hubspot:contact:1246978"


def test_our_own_owner_write_echoing_back_is_recognised() -> None:
    echo = {
        **CREATION,
        "subscriptionType": "contact.propertyChange",
        "propertyName": "hubspot_owner_id",
        "propertyValue": "90000",
        "changeSource": "INTEGRATION",
        "sourceId": "1160452",
    }
    assert parse_event(echo).ignored_because == "echo of a Relais write"
    by_a_rep = {**echo, "changeSource": "CRM_UI", "sourceId": "userId:42"}
    assert parse_event(by_a_rep).ignored_because is None


def test_an_integration_change_without_app_ids_is_not_taken_for_our_echo() -> None:
    event = {
        **CREATION,
        "subscriptionType": "contact.propertyChange",
        "propertyName": "hubspot_owner_id",
        "propertyValue": "1",
        "changeSource": "INTEGRATION",
    }
    del event["appId"]
    assert parse_event(event).ignored_because is None
