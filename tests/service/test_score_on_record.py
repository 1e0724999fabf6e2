"""The score where reps work: scoring.yaml's write section, on the fakes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.mappings.crm_check import check_against_crm
from app.mappings.loader import load_mappings
from connectors.hubspot.fake import InMemoryHubSpot
from connectors.salesforce.fake import InMemorySalesforce
from tests.service.helpers import (
    SCORE_LEAD_FIELDS,
    SCORE_PROPERTIES,
    Service,
    hubspot_account,
    salesforce_org,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "qualification.yaml"
WRITE = """
write:
  hubspot: {score: relais_score, temperature: relais_temperature, breakdown: relais_reasons}
  salesforce_lead: {score: Relais_Score__c, breakdown: Relais_Reasons__c}
"""
READY = {"jobtitle": "DRH", "numberofemployees": "120", "industry": "CONSTRUCTION"}
READY |= {"country": "France"}


@pytest.fixture
def hubspot() -> InMemoryHubSpot:
    """An account where the admin created the score's properties."""
    return hubspot_account(*SCORE_PROPERTIES, subscribed=("country",))


@pytest.fixture
def salesforce() -> InMemorySalesforce:
    """An org where the admin created the score's fields on the Lead."""
    return salesforce_org(*SCORE_LEAD_FIELDS)


@pytest.fixture
def writing(mappings_dir: Path) -> Path:
    with (mappings_dir / "scoring.yaml").open("a") as f:
        f.write(WRITE)
    return mappings_dir


def test_given_a_routed_lead_then_its_score_is_written_with_the_owner_in_one_call(
    service: Service, writing: Path
) -> None:
    cid = service.hubspot.create_contact(email="drh@betonsud.fr", **READY)

    service.deliver_and_run()

    contact = service.hubspot.contact(cid)
    assert contact["hubspot_owner_id"] is not None
    assert contact["relais_score"] == "170" and contact["relais_temperature"] == "warm"
    assert contact["relais_reasons"] == (
        "170: HR director or HR manager +60, Company of 30 employees or more +40, "
        "Industry or construction +50, Based in France +20"
    )
    assert service.hubspot.calls("update_contacts") == 1


def test_given_a_salesforce_lead_then_its_score_lands_on_the_lead(
    service: Service, writing: Path
) -> None:
    lid = service.salesforce.create_record(
        "Lead", Email="st@betonsud.fr", LastName="D", Company="B", Title="Stagiaire RH"
    )

    service.deliver_and_run()

    lead = service.salesforce.record("Lead", lid)
    assert lead["Relais_Score__c"] in ("10", 10, 10.0)  # RH +60, intern -50
    assert lead["Relais_Reasons__c"] == (
        "10: HR director or HR manager +60; -50 Intern (no decision power)"
    )


def test_given_a_nurtured_lead_whose_score_changes_then_the_new_score_is_written(
    service: Service, writing: Path, mappings_dir: Path
) -> None:
    shutil.copy(EXAMPLE, mappings_dir / "qualification.yaml")
    cid = service.hubspot.create_contact(email="c@betonsud.fr", jobtitle="Comptable")
    service.deliver_and_run()
    assert service.hubspot.contact(cid)["relais_score"] == "0"
    service.hubspot.set_property(cid, "country", "France")  # +20, still below 150

    service.deliver_and_run()

    assert [(d.outcome, d.score) for d in service.decisions()] == [("nurture", 0), ("nurture", 20)]
    assert service.hubspot.contact(cid)["relais_score"] == "20"


def test_a_score_property_missing_in_the_crm_is_reported_with_its_line(writing: Path) -> None:
    m = load_mappings(writing)
    problems = check_against_crm(m, InMemoryHubSpot(), InMemorySalesforce())
    assert any(
        "scoring.yaml:" in p and "write.hubspot.score" in p and "'relais_score'" in p
        for p in problems
    ), problems
    assert any("the Salesforce Lead has no field 'Relais_Score__c'" in p for p in problems)
