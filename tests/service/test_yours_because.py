"""Why a lead is the rep's, on the record: routing.yaml's explain field, written with the owner."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.mappings.crm_check import check_against_crm
from app.mappings.loader import load_mappings
from connectors.hubspot.fake import InMemoryHubSpot
from connectors.hubspot.port import PropertyInfo
from tests.service.helpers import Service, hubspot_account

READY = {"jobtitle": "DRH", "numberofemployees": "120", "industry": "CONSTRUCTION"}
READY |= {"country": "France"}
RULES = """
rules:
  - name: Construction firms
    when:
      - {field: industry, op: eq, value: construction}
    pool: inbound-france
  - name: default
    pool: inbound-france
explain: {hubspot: relais_why}
"""


@pytest.fixture
def hubspot() -> InMemoryHubSpot:
    """An account where the admin created the property that shows why."""
    return hubspot_account(PropertyInfo("relais_why", "string"))


@pytest.fixture
def explaining(mappings_dir: Path) -> Path:
    routing = mappings_dir / "routing.yaml"
    routing.write_text(routing.read_text().replace("default_pool: inbound-france\n", RULES))
    return mappings_dir


def test_given_explain_when_a_lead_is_routed_then_the_rep_reads_why_in_the_owner_call(
    service: Service, explaining: Path
) -> None:
    [cid] = service.hubspot.create_contacts([{"email": "drh@betonsud.fr", **READY}])

    service.deliver_and_run()

    why = service.hubspot.contact(cid)["relais_why"]
    assert why is not None and why.startswith(
        "Yours because: Construction firms -> pool inbound-france; weighted rotation (you: 1 "
        "of 1, share "
    )
    assert why.endswith(
        "; score 170 (HR director or HR manager +60, Industry or construction +50, Company of "
        "30 employees or more +40)"
    )
    assert len(why) <= 255
    assert service.hubspot.calls("update_contacts") == 1  # with the owner, one call


def test_given_explain_naming_a_missing_property_when_checked_against_the_crm_then_refused(
    service: Service, explaining: Path
) -> None:
    routing = explaining / "routing.yaml"
    routing.write_text(routing.read_text().replace("relais_why", "relais_whyy"))

    problems = check_against_crm(load_mappings(explaining), service.hubspot, None)

    assert any("explain.hubspot" in p and "relais_whyy" in p for p in problems), problems
