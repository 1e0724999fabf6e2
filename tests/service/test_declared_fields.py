"""Fields an admin declares in fields.yaml are read from both CRMs, typed, and scored on."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.salesforce.fake import InMemorySalesforce
from connectors.salesforce.port import SfField
from connectors.sandbox.salesforce import DEFAULT_DESCRIBE
from tests.conftest import REPS
from tests.service.helpers import Service

DECLARED = """
  - field: pricing_visits
    type: number
    hubspot: pricing_visits
    salesforce_lead: Pricing_Visits__c
  - {field: quote_asked, type: boolean, hubspot: quote_asked, salesforce_lead: Quote__c}
  - {field: products, type: list, hubspot: products_of_interest, salesforce_lead: Products__c}
"""
RULES = """
  - {name: Pricing page seen 3 times, field: pricing_visits, op: gte, value: 3, points: 45}
  - {name: Quote requested, field: quote_asked, op: eq, value: true, points: 100}
  - {name: Interested in payroll, field: products, op: contains, value: paie, points: 20}
  - {name: Recent activity, field: last_activity, op: gte, value: 2026-11-01, points: 5}
"""


@pytest.fixture
def salesforce() -> InMemorySalesforce:
    """The org of the other service tests, with the custom fields this admin declared."""
    describe = {
        sobject: [SfField(n, str(spec["type"])) for n, spec in fields.items()]
        for sobject, fields in DEFAULT_DESCRIBE.items()
    }
    describe["Lead"] += [
        SfField("Pricing_Visits__c", "double"),
        SfField("Quote__c", "boolean"),
        SfField("Products__c", "multipicklist", ("Paie", "Temps", "Notes de frais")),
    ]
    fake = InMemorySalesforce(describe=describe)
    for email, first, last in REPS:
        fake.add_user(email, first, last)
    return fake


def declare(mappings_dir: Path) -> None:
    with (mappings_dir / "fields.yaml").open("a") as f:
        f.write(DECLARED)
    with (mappings_dir / "scoring.yaml").open("a") as f:
        f.write(RULES)


def test_given_declared_fields_when_a_hubspot_contact_comes_then_its_score_uses_them(
    service: Service, mappings_dir: Path
) -> None:
    declare(mappings_dir)
    service.hubspot.create_contact(
        email="ana@betonsud.fr",
        pricing_visits="12",  # 12 >= 3 as numbers (not as text: "12" < "3")
        quote_asked="true",
        products_of_interest="Temps;Paie",
    )

    service.deliver_and_run()

    [decision] = service.decisions()
    fired = {d["rule"]: d["points"] for d in decision.score_details}
    assert fired == {
        "Pricing page seen 3 times": 45,
        "Quote requested": 100,
        "Interested in payroll": 20,
    }
    assert decision.lead is not None
    fields = decision.lead["record"]["fields"]
    assert (fields["pricing_visits"], fields["quote_asked"]) == ("12", "true")


def test_given_declared_fields_when_a_salesforce_lead_comes_then_its_values_read_alike(
    service: Service, mappings_dir: Path
) -> None:
    declare(mappings_dir)
    lid = service.salesforce.create_record(
        "Lead",
        Email="bob@betonsud.fr",
        LastName="Bob",
        Company="BétonSud",
        Pricing_Visits__c=2,
        Quote__c=True,  # Salesforce's JSON true: read as HubSpot's "true"
        Products__c="Paie;Notes de frais",
    )

    service.deliver_and_run()

    [decision] = service.decisions()
    fired = {d["rule"] for d in decision.score_details}
    assert fired == {"Quote requested", "Interested in payroll"}  # 2 views: not 3
    assert decision.lead is not None
    fields = decision.lead["record"]["fields"]
    assert fields["quote_asked"] == "true" and fields["pricing_visits"] == "2"
    assert decision.record_key.endswith(lid)
