import pytest

from app.inbox.hubspot_events import parse_event

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
        ({**CREATION, "objectId": None}, "objectId"),
        ("just a string", "not a JSON object"),
    ],
)
def test_unroutable_events_are_kept_as_ignored_with_a_reason(event: object, reason: str) -> None:
    parsed = parse_event(event)
    assert parsed.ignored_because is not None and reason in parsed.ignored_because


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
