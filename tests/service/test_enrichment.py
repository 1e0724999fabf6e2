"""Enrichment on the worker's read stage: a field a provider adds is scored on and kept in the
decision's lead snapshot."""

from __future__ import annotations

from pathlib import Path

from tests.service.helpers import Service

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
