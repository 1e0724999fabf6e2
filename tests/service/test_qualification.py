"""Only qualified leads reach a rep: qualification.yaml in the pipeline, on the fakes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.queue import Status
from connectors.hubspot.fake import InMemoryHubSpot
from connectors.hubspot.port import OWNER_PROPERTY
from tests.conftest import REPS
from tests.service.helpers import Service, hubspot_key

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "qualification.yaml"
# Scored by the shipped scoring.yaml: 60 (HR) + 40 (30+ staff) + 50 (industry) + 20 (France)
READY = {"jobtitle": "DRH", "numberofemployees": "120", "industry": "CONSTRUCTION"}
READY |= {"country": "France"}


@pytest.fixture
def hubspot() -> InMemoryHubSpot:
    """A HubSpot app subscribed to the properties scoring reads, not only the owner."""
    fake = InMemoryHubSpot(subscribed_properties=(OWNER_PROPERTY, "firstname", *READY))
    for email, first, last in REPS:
        fake.add_owner(email, first, last)
    return fake


@pytest.fixture
def qualifying(mappings_dir: Path) -> Path:
    shutil.copy(EXAMPLE, mappings_dir / "qualification.yaml")
    return mappings_dir


def test_given_qualification_when_a_lead_is_below_the_threshold_then_it_stays_in_marketing(
    service: Service, qualifying: Path
) -> None:
    cid = service.hubspot.create_contact(email="cold@betonsud.fr", jobtitle="Comptable")

    service.deliver_and_run()

    assert service.hubspot.owner_of(cid) is None  # no rep
    assert service.assignments() == {}
    [decision] = service.decisions()
    assert decision.outcome == "nurture" and decision.owner_email is None
    assert decision.rule.startswith("score ") and "below the threshold" in decision.rule
    assert decision.details["qualification"]["outcome"] == "nurture"
    assert service.hubspot.contact(cid)["lifecyclestage"] == "lead"  # written back
    assert [e.status for e in service.events()] == [Status.DONE]


def test_given_qualification_when_a_lead_is_ready_then_it_is_routed_with_its_status_written(
    service: Service, qualifying: Path
) -> None:
    cid = service.hubspot.create_contact(email="drh@betonsud.fr", **READY)

    service.deliver_and_run()

    assert service.hubspot.owner_of(cid) is not None
    [decision] = service.decisions()
    assert decision.outcome == "assigned"
    assert decision.details["qualification"]["outcome"] == "ready"
    assert service.hubspot.contact(cid)["lifecyclestage"] == "salesqualifiedlead"
    assert service.hubspot.calls("update_contacts") == 1  # owner and stage in one call


def test_given_a_disqualifying_rule_then_the_lead_gets_its_reason_and_the_crm_its_status(
    service: Service, qualifying: Path
) -> None:
    cid = service.hubspot.create_contact(
        email="x@payfit.com", hs_email_domain="payfit.com", **READY
    )

    service.deliver_and_run()

    [decision] = service.decisions()
    assert (decision.outcome, decision.rule) == ("disqualified", "A competitor")
    assert service.hubspot.owner_of(cid) is None
    assert service.hubspot.contact(cid)["hs_lead_status"] == "UNQUALIFIED"


def test_given_a_nurtured_lead_when_it_changes_but_stays_cold_then_nothing_new_is_recorded(
    service: Service, qualifying: Path
) -> None:
    cid = service.hubspot.create_contact(email="cold@betonsud.fr", jobtitle="Comptable")
    service.deliver_and_run()
    service.hubspot.set_property(cid, "firstname", "Léa")  # a person edits it

    service.deliver_and_run()

    assert [d.outcome for d in service.decisions()] == ["nurture"]
    assert len(service.writes(hubspot_key(cid))) == 1  # the first write-back only
    assert all(e.status == Status.DONE for e in service.events())


def test_given_a_nurtured_lead_when_it_becomes_ready_then_it_is_routed(
    service: Service, qualifying: Path
) -> None:
    cid = service.hubspot.create_contact(email="lea@betonsud.fr", jobtitle="Comptable")
    service.deliver_and_run()
    for name, value in READY.items():
        service.hubspot.set_property(cid, name, value)

    service.deliver_and_run()

    assert [d.outcome for d in service.decisions()] == ["nurture", "assigned"]
    assert service.hubspot.owner_of(cid) is not None


def test_given_a_routed_lead_when_it_turns_cold_then_it_keeps_its_rep(
    service: Service, qualifying: Path
) -> None:
    cid = service.hubspot.create_contact(email="drh@betonsud.fr", **READY)
    service.deliver_and_run()
    owner = service.hubspot.owner_of(cid)
    service.hubspot.set_property(cid, "jobtitle", "Comptable")  # the score falls

    service.deliver_and_run()

    assert service.hubspot.owner_of(cid) == owner  # never un-routed
    assert [d.outcome for d in service.decisions()] == ["assigned"]


def test_given_a_salesforce_lead_without_email_then_it_is_incomplete_and_not_routed(
    service: Service, qualifying: Path
) -> None:
    lid = service.salesforce.create_record(
        "Lead", LastName="Durand", Company="BétonSud", Title="DRH", NumberOfEmployees=120
    )

    service.deliver_and_run()

    [decision] = service.decisions()
    assert (decision.outcome, decision.rule) == ("incomplete", "No email to reach them")
    assert service.salesforce.owner_of("Lead", lid) == service.salesforce.integration_user
    assert service.assignments() == {}
