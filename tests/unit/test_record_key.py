import pytest

from connectors.crm import Crm, RecordKey


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("hubspot:contact:901", RecordKey(Crm.HUBSPOT, "contact", "901")),
        ("salesforce:Lead:00Q000000000001EAA", RecordKey.salesforce("Lead", "00Q000000000001")),
    ],
)
def test_a_stored_key_reads_back_to_the_same_record(text: str, key: RecordKey) -> None:
    assert RecordKey.parse(text) == key and str(key) == text


def test_a_salesforce_key_always_holds_the_18_character_id() -> None:
    assert RecordKey.salesforce("Lead", "00Q000000000001").id == "00Q000000000001EAA"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("hubspot:901", "not a record key"),
        ("", "not a record key"),
        ("pipedrive:person:1", "unknown CRM 'pipedrive'"),
    ],
)
def test_anything_else_is_refused_with_a_clear_error(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        RecordKey.parse(text)


def test_the_crm_has_one_name_for_people_and_one_for_storage() -> None:
    assert (Crm.SALESFORCE.label, Crm.SALESFORCE.value, str(Crm.HUBSPOT)) == (
        "Salesforce",
        "salesforce",
        "hubspot",
    )
