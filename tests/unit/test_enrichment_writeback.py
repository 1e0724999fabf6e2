"""Enriched values written back to the CRMs under sync.yaml (pure): only the fields sync.yaml
names, only where enrichment changed the value, never over a value a person entered unless
``overwrite: true``; and the CRM checks of where they are written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.enrichment.base import Found, replaced
from app.enrichment.service import run
from app.enrichment.writeback import enriched_values, writes
from app.mappings.crm_check import check_against_crm
from app.mappings.loader import load_mappings
from app.mappings.schemas import EnrichmentSync, Sync
from app.records.schemas import Record
from connectors.crm import RecordKey
from connectors.hubspot.fake import InMemoryHubSpot
from connectors.salesforce.fake import InMemorySalesforce

ROOT = Path(__file__).resolve().parents[2]
CONTACT = RecordKey.hubspot("101")
LEAD = RecordKey.salesforce("Lead", "00Q000000000001AAA")
PEOPLE = RecordKey.salesforce("Contact", "003000000000001AAA")
PROPS = {"naf_code": "naf_code", "phone_e164": "phone_e164", "company_active": "active"}


def sync(*entries: dict[str, object]) -> Sync:
    return Sync(enrichment=[EnrichmentSync.model_validate(e) for e in entries])


NAF = {"field": "naf_code", "to": ["hubspot", "salesforce_lead"]}
NAF_OVER = {**NAF, "overwrite": True}
# (what sync.yaml says, the enriched lead with the CRM's values kept, the record, expected)
CASES = [
    ("empty in the CRM: written", [NAF], {"naf_code": "62.01Z", replaced("naf_code"): None},
     CONTACT, {"naf_code": "62.01Z"}),
    ("blank in the CRM: written", [NAF], {"naf_code": "62.01Z", replaced("naf_code"): "  "},
     CONTACT, {"naf_code": "62.01Z"}),
    ("a person's value, overwrite false: kept", [NAF],
     {"naf_code": "62.01Z", replaced("naf_code"): "70.22Z"}, CONTACT, {}),
    ("a person's value, overwrite true: replaced", [NAF_OVER],
     {"naf_code": "62.01Z", replaced("naf_code"): "70.22Z"}, CONTACT, {"naf_code": "62.01Z"}),
    ("enrichment left the value as the CRM holds it: nothing", [NAF_OVER],
     {"naf_code": "62.01Z"}, CONTACT, {}),
    ("the same value: nothing", [NAF_OVER],
     {"naf_code": "62.01Z", replaced("naf_code"): "62.01Z"}, CONTACT, {}),
    ("a field sync.yaml does not name: nothing", [NAF],
     {"phone_e164": "+33612345678", replaced("phone_e164"): None}, CONTACT, {}),
    ("an object sync.yaml does not name: nothing", [NAF],
     {"naf_code": "62.01Z", replaced("naf_code"): None}, PEOPLE, {}),
    ("salesforce names Leads and Contacts", [{"field": "naf_code", "to": ["salesforce"]}],
     {"naf_code": "62.01Z", replaced("naf_code"): None}, PEOPLE, {"naf_code": "62.01Z"}),
    ("a field not mapped on the object: nothing", [{"field": "legal_category", "to": ["hubspot"]}],
     {"legal_category": "5710", replaced("legal_category"): None}, CONTACT, {}),
    ("written at its property, a flag as CRMs read it",
     [{"field": "company_active", "to": ["hubspot"], "overwrite": True}],
     {"company_active": "false", replaced("company_active"): "true"}, CONTACT,
     {"active": "false"}),
    ("no sync.yaml enrichment: nothing", [],
     {"naf_code": "62.01Z", replaced("naf_code"): None}, CONTACT, {}),
    ("several fields, each on its own terms",
     [NAF, {"field": "phone_e164", "to": ["hubspot"]}],
     {"naf_code": "62.01Z", replaced("naf_code"): None, "phone_e164": "+33612345678",
      replaced("phone_e164"): "+33 6 12 34 56 78"},
     CONTACT, {"naf_code": "62.01Z"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "entries", "lead", "key", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_given_an_enriched_lead_when_written_back_then_only_what_sync_yaml_allows(
    case: str,
    entries: list[dict[str, object]],
    lead: dict[str, str | None],
    key: RecordKey,
    expected: dict[str, str],
) -> None:
    assert enriched_values(lead, key, sync(*entries), PROPS) == expected


class Fixed:
    def __init__(self, name: str, fields: tuple[str, ...], found: Found) -> None:
        self.name, self.fields, self.found = name, fields, found

    def enrich(self, lead: object) -> Found:
        return dict(self.found)


def test_given_a_provider_replaces_a_crm_value_when_merged_then_the_crms_value_is_kept_beside() -> (
    None
):
    email = Fixed(
        "email", ("email", "email_valid"), {"email": "ana@acme.fr", "email_valid": "true"}
    )
    register = Fixed("register", ("naf_code",), {"naf_code": "62.01Z"})
    lead = run([email, register], {"email": " Ana@Acme.fr", "naf_code": "62.01Z"}, timeout=2)
    assert lead["email"] == "ana@acme.fr" and lead[replaced("email")] == " Ana@Acme.fr"
    assert lead[replaced("email_valid")] is None  # the CRM had none
    assert replaced("naf_code") not in lead  # the same value: the CRM's, nothing to write


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "mappings", tmp_path, dirs_exist_ok=True)
    shutil.copy(ROOT / "docs" / "examples" / "enrichment.yaml", tmp_path / "enrichment.yaml")
    return tmp_path


def test_given_the_shipped_mappings_when_a_record_is_written_back_then_at_its_mapped_fields(
    folder: Path,
) -> None:
    text = (folder / "sync.yaml").read_text()
    (folder / "sync.yaml").write_text(
        text + "enrichment:\n  - {field: naf_code, to: [hubspot, salesforce]}\n"
    )
    m = load_mappings(folder)
    lead = {"naf_code": "62.01Z", replaced("naf_code"): None}
    assert writes(Record(CONTACT, lead, None), m) == {"naf_code": "62.01Z"}
    assert writes(Record(LEAD, lead, None), m) == {"NAF_Code__c": "62.01Z"}
    assert writes(Record(PEOPLE, lead, None), m) == {}  # Contacts have no NAF field mapped


def test_given_write_back_targets_when_checked_against_the_crm_then_missing_and_picklists_named(
    folder: Path,
) -> None:
    fields = (folder / "fields.yaml").read_text()
    (folder / "fields.yaml").write_text(
        fields + "  - {field: phone_e164, hubspot: phone_e164_x, salesforce_lead: Industry}\n"
    )
    text = (folder / "sync.yaml").read_text()
    (folder / "sync.yaml").write_text(
        text + "enrichment:\n  - {field: naf_code, to: [hubspot, salesforce]}\n"
        "  - field: phone_e164\n    to: [hubspot, salesforce_lead]\n"
    )
    m = load_mappings(folder)
    problems = check_against_crm(m, InMemoryHubSpot(), InMemorySalesforce())
    at = f"{folder}/sync.yaml:{len(text.splitlines()) + 4}: enrichment[1].to"
    ours = [p for p in problems if "sync.yaml" in p]
    assert len(ours) == 2, problems
    assert ours[0].startswith(f"{at}[0]: no HubSpot contact property 'phone_e164_x'")
    assert ours[1] == (
        f"{at}[1]: the Salesforce Lead field 'Industry' is a picklist: an enriched phone_e164 "
        "outside its values would be refused (use a text one)"
    )
