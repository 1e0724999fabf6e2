"""Issue 9's acceptance, end to end through the sandbox CRMs (real HTTP, a real database, the
shipped mappings with the score shown on the records): leads out of target, unreachable or
cold get no owner and carry their status in the CRM; a hot lead gets its owner and its score
line in one batch write."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from app.config import Settings
from app.db import Database
from app.decisions.models import Decision
from connectors.sandbox import SandboxServer
from tests.conftest import Relais, connect_salesforce, connect_webhooks, copy_mappings, wait_for
from tests.integration.helpers import ready

WRITE = """
write:
  hubspot: {score: relais_score, temperature: relais_temperature, breakdown: relais_reasons}
  salesforce_lead: {score: Relais_Score__c, breakdown: Relais_Reasons__c}
"""
REASON = """
reason:
  hubspot: relais_qualification_reason
  salesforce_lead: Relais_Qualification_Reason__c
"""
# HubSpot contacts, by what qualification.yaml makes of them (status written, reason)
KEPT_OUT: dict[str, tuple[dict[str, str], str, str]] = {
    "student": (ready("lea@betonsud.fr", jobtitle="Étudiante en RH"), "UNQUALIFIED", "student"),
    "competitor": (ready("spy@payfit.com"), "UNQUALIFIED", "competitor"),
    "no email": ({k: v for k, v in ready("-").items() if k != "email"}, "OPEN", "No valid email"),
    "cold": (ready("oma@tole.fr", jobtitle="Comptable", numberofemployees="8"), "BAD_TIMING", ""),
}
SF_STATUS = {"UNQUALIFIED": "Closed - Not Converted", "OPEN": "Open - Not Contacted"}
SF_STATUS["BAD_TIMING"] = "Open - Not Contacted"


@pytest.fixture
def showing_scores(
    settings: Settings, tmp_path: Path, relais_factory: Callable[..., Relais]
) -> Relais:
    """Relais on the shipped mappings, with the score and the outcome's reason written where
    reps work."""
    copy_mappings(tmp_path / "m")  # without the reps' calendars: whatever the hour
    with (tmp_path / "m" / "scoring.yaml").open("a") as f:
        f.write(WRITE)
    with (tmp_path / "m" / "qualification.yaml").open("a") as f:
        f.write(REASON)
    return relais_factory(settings.model_copy(update={"mappings_dir": tmp_path / "m"}))


def decisions(db: Database, key: str) -> list[Decision]:
    with db.transaction() as session:
        rows = session.scalars(
            select(Decision).where(col(Decision.record_key) == key).order_by(col(Decision.id))
        )
        return list(rows)


def decision_outcome(db: Database, cid: str) -> str:
    [decision] = decisions(db, f"hubspot:contact:{cid}")
    return decision.outcome


def as_sf(props: dict[str, str]) -> dict[str, Any]:
    names = {"email": "Email", "jobtitle": "Title", "numberofemployees": "NumberOfEmployees"}
    out: dict[str, Any] = {names[k]: v for k, v in props.items() if k in names}
    industry = "Construction" if props.get("industry") == "CONSTRUCTION" else "Other"
    return (
        out
        | {"LastName": "Durand", "Company": "BétonSud", "Industry": industry}
        | {"Country": props.get("country", "France")}
    )


def test_given_leads_kept_out_and_a_hot_one_in_hubspot_then_only_the_hot_one_is_owned_with_its_score_in_the_same_call(  # noqa: E501
    sandbox: SandboxServer, showing_scores: Relais, db: Database
) -> None:
    hs = sandbox.hubspot
    connect_webhooks(sandbox, showing_scores)
    ids = dict(zip(KEPT_OUT, hs.create_contacts([c for c, _, _ in KEPT_OUT.values()]), strict=True))

    def status(cid: str) -> str | None:
        with hs.lock:
            return hs.state.contacts[cid].properties.get("hs_lead_status")

    wait_for(lambda: all(status(i) for i in ids.values()), what="the statuses written back")
    for name, cid in ids.items():
        _, lead_status, reason = KEPT_OUT[name]
        with hs.lock:
            props = dict(hs.state.contacts[cid].properties)
        assert not props.get("hubspot_owner_id"), name  # kept in marketing
        assert (props["lifecyclestage"], props["hs_lead_status"]) == ("lead", lead_status), name
        assert props["relais_score"] and props["relais_reasons"], name  # why, on the record
        shown = props["relais_qualification_reason"]
        assert shown.startswith(f"{decision_outcome(db, cid)}: ") and reason in shown, name
        [decision] = decisions(db, f"hubspot:contact:{cid}")
        assert reason in decision.rule and decision.owner_email is None, name
    with hs.lock:
        student = hs.state.contacts[ids["student"]].properties
    assert "-50 Student (no purchasing power)" in student["relais_reasons"]

    before = hs.stats()["calls"].get("contacts.batch_update", 0)
    [hot] = hs.create_contacts([ready("drh@betonsud.fr", pricing_page_views="3")])
    wait_for(lambda: bool(decisions(db, f"hubspot:contact:{hot}")), what="the hot lead decided")
    wait_for(lambda: decisions(db, f"hubspot:contact:{hot}")[0].written_at is not None)
    with hs.lock:
        contact = hs.state.contacts[hot]
        props, owner_writes = dict(contact.properties), contact.owner_writes
    assert props["hubspot_owner_id"] and owner_writes == 1
    assert (props["relais_score"], props["relais_temperature"]) == ("215", "hot")
    assert props["relais_reasons"].startswith("215: HR director or HR manager +60")
    assert "Pricing page x3 +45" in props["relais_reasons"]
    assert (props["lifecyclestage"], props["hs_lead_status"]) == ("salesqualifiedlead", "NEW")
    assert props["relais_qualification_reason"].startswith("ready: ")
    assert hs.stats()["calls"]["contacts.batch_update"] == before + 1  # owner and score: one call


def test_given_leads_kept_out_and_a_hot_one_in_salesforce_then_only_the_hot_one_is_owned_with_its_score_in_the_same_call(  # noqa: E501
    sandbox: SandboxServer, showing_scores: Relais, db: Database
) -> None:
    sf = sandbox.salesforce
    connect_salesforce(sandbox, showing_scores)
    leads = [as_sf(c) for c, _, _ in KEPT_OUT.values()]
    ids = dict(zip(KEPT_OUT, sf.create_records("Lead", leads), strict=True))
    integration_user = sf.default_owner

    def status(lid: str) -> str | None:
        return sf.record("Lead", lid).get("Relais_Score__c")

    wait_for(lambda: all(status(i) is not None for i in ids.values()), what="scores written")
    for name, lid in ids.items():
        _, lead_status, reason = KEPT_OUT[name]
        record = sf.record("Lead", lid)
        assert record["OwnerId"] == integration_user, name  # no rep
        assert record["Status"] == SF_STATUS[lead_status], name
        assert record["Relais_Reasons__c"], name
        shown = record["Relais_Qualification_Reason__c"]
        assert shown.split(": ")[0] in ("disqualified", "incomplete", "nurture"), name
        assert reason in shown, name
        [decision] = decisions(db, f"salesforce:Lead:{lid}")
        assert reason in decision.rule and decision.owner_email is None, name

    before = sf.stats()["calls"].get("composite.sobjects.update", 0)
    [hot] = sf.create_records("Lead", [as_sf(ready("drh@acier.fr")) | {"Pricing_Page_Views__c": 3}])
    key = f"salesforce:Lead:{hot}"
    wait_for(lambda: bool(decisions(db, key)) and decisions(db, key)[0].written_at is not None)
    record = sf.record("Lead", hot)
    assert record["OwnerId"] != integration_user and sf.state.owner_writes[hot] == 1
    assert record["Relais_Score__c"] == "215"
    assert "Pricing page x3 +45" in record["Relais_Reasons__c"]
    assert record["Status"] == "Open - Not Contacted"
    assert sf.stats()["calls"]["composite.sobjects.update"] == before + 1  # one call for both
