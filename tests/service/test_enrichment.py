"""Enrichment on the worker's read stage: a field a provider adds is scored on and kept in the
decision's lead snapshot; the company register is asked once per SIREN (the cache), and when
it is down the lead is decided all the same, the gap in its decision."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import respx
from sqlalchemy import update

from app.db import utcnow
from app.decisions.explain import explain
from app.enrichment.models import EnrichmentCacheEntry
from app.enrichment.register import URL
from connectors.hubspot.fake import InMemoryHubSpot
from connectors.hubspot.port import OWNER_PROPERTY
from tests.conftest import REPS
from tests.service.helpers import Service
from tests.unit.test_enrichment_register import SIREN, company, search

RULES = """
  - {name: Free-mail address, field: email_free, op: eq, value: true, points: -30}
  - {name: Reachable by phone, field: phone_valid, op: eq, value: true, points: 7}
"""


def enrich(mappings_dir: Path, providers: str) -> None:
    (mappings_dir / "enrichment.yaml").write_text(f"providers: [{providers}]\ntimeout_seconds: 5\n")
    with (mappings_dir / "scoring.yaml").open("a") as f:
        f.write(RULES)


def test_given_enrichment_when_a_contact_comes_then_rules_score_on_the_enriched_fields(
    service: Service, mappings_dir: Path
) -> None:
    enrich(mappings_dir, "email, phone")
    service.hubspot.create_contact(email=" Ana@Gmail.com", phone="06 12 34 56 78", country="France")

    service.deliver_and_run()

    [decision] = service.decisions()
    fired = {d["rule"]: d["points"] for d in decision.score_details}
    assert fired["Free-mail address"] == -30 and fired["Reachable by phone"] == 7
    assert decision.lead is not None
    fields = decision.lead["record"]["fields"]
    assert fields["email"] == "ana@gmail.com"
    assert (fields["email_free"], fields["email_domain"]) == ("true", "gmail.com")
    assert (fields["phone_e164"], fields["phone_valid"]) == ("+33612345678", "true")
    assert fields["enrichment_gaps"] is None


REGISTER_RULES = """
  - {name: Software company, field: naf_section, op: eq, value: J, points: 25}
"""


@pytest.fixture
def hubspot() -> InMemoryHubSpot:
    """An app subscribed to the job title too: a person's edit is an event."""
    fake = InMemoryHubSpot(subscribed_properties=(OWNER_PROPERTY, "jobtitle"))
    for email, first, last in REPS:
        fake.add_owner(email, first, last)
    return fake


@pytest.fixture
def register() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def test_given_the_register_when_two_contacts_share_a_siren_then_it_is_asked_once(
    service: Service, mappings_dir: Path, register: respx.MockRouter
) -> None:
    (mappings_dir / "enrichment.yaml").write_text("providers: [siren, register]\n")
    with (mappings_dir / "scoring.yaml").open("a") as f:
        f.write(REGISTER_RULES)
    route = register.get(URL, params={"q": SIREN}).respond(200, json=search(company()))
    service.hubspot.create_contact(email="ana@acme-industrie.fr", siren="732 829 320")
    service.deliver_and_run()
    service.hubspot.create_contact(email="leo@acme-industrie.fr", siren="732829320")
    service.deliver_and_run()

    assert route.call_count == 1  # the second lead's answer came from the cache
    decisions = service.decisions()
    assert len(decisions) == 2
    for decision in decisions:
        assert {d["rule"] for d in decision.score_details} >= {"Software company"}
        assert decision.lead is not None
        fields = decision.lead["record"]["fields"]
        assert (fields["naf_code"], fields["company_active"]) == ("62.01Z", "true")
        assert (fields["headcount_band"], fields["legal_category"]) == ("21", "5710")


def test_given_the_register_down_when_a_contact_comes_then_it_is_decided_with_the_gap(
    service: Service, mappings_dir: Path, register: respx.MockRouter
) -> None:
    (mappings_dir / "enrichment.yaml").write_text("providers: [email, register]\n")
    register.get(URL).respond(503, text="Service Unavailable")
    service.hubspot.create_contact(email="ana@acme-industrie.fr", siren="732829320")

    service.deliver_and_run()

    [decision] = service.decisions()
    assert decision.lead is not None
    fields = decision.lead["record"]["fields"]
    assert fields["email_valid"] == "true" and "naf_section" not in fields
    assert fields["enrichment_gaps"] == "register"
    assert fields["enrichment_gap_reasons"].startswith("register: HTTPStatusError")
    shown = "\n".join(explain(decision))  # relais decisions show, /admin/api/decisions
    assert "decided without enrichment from register: HTTPStatusError" in shown


def test_given_a_cached_answer_older_than_the_ttl_then_the_register_is_asked_again(
    service: Service, mappings_dir: Path, register: respx.MockRouter
) -> None:
    (mappings_dir / "enrichment.yaml").write_text("providers: [register]\ncache_ttl_hours: 24\n")
    route = register.get(URL, params={"q": SIREN}).respond(200, json=search(company()))
    service.hubspot.create_contact(email="ana@acme-industrie.fr", siren=SIREN)
    service.deliver_and_run()
    with service.db.transaction() as session:  # the answer is now 25 hours old
        session.execute(
            update(EnrichmentCacheEntry).values(fetched_at=utcnow() - timedelta(hours=25))
        )

    service.hubspot.create_contact(email="leo@acme-industrie.fr", siren=SIREN)
    service.deliver_and_run()

    assert route.call_count == 2


SYNC_NAF = "\nenrichment:\n  - {field: naf_code, to: [hubspot]}\n"


def test_given_sync_allows_it_when_the_register_finds_a_naf_code_then_it_is_written_once(
    service: Service, mappings_dir: Path, register: respx.MockRouter
) -> None:
    (mappings_dir / "enrichment.yaml").write_text("providers: [siren, register]\n")
    with (mappings_dir / "sync.yaml").open("a") as f:
        f.write(SYNC_NAF)
    register.get(URL, params={"q": SIREN}).respond(200, json=search(company()))
    empty = service.hubspot.create_contact(email="ana@acme-industrie.fr", siren=SIREN)
    typed = service.hubspot.create_contact(
        email="leo@acme-industrie.fr", siren=SIREN, naf_code="10.71C"
    )

    service.deliver_and_run()

    found = service.hubspot.contact(empty)["naf_code"]
    assert found and found != "10.71C"  # the register's code, where the CRM had none
    assert service.hubspot.contact(typed)["naf_code"] == "10.71C"  # a person's value stays
    written = [w for w in service.writes() if "naf_code" in w.fields]
    assert [w.object_id for w in written] == [empty]

    service.hubspot.set_property(empty, "jobtitle", "DRH")  # another event, same company
    assert service.deliver() == 1
    service.run()

    assert [w.object_id for w in service.writes() if "naf_code" in w.fields] == [empty]
