"""The dry run gives the result the live path records: same enrichment, score, breakdown and
qualification, for a lead read from its CRM."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.simulate.schemas import SimulationRequest
from app.simulate.service import run
from connectors.crm import RecordKey
from tests.service.helpers import Service

ROOT = Path(__file__).resolve().parents[2]
RULES = """
  - {name: Free-mail address, field: email_free, op: eq, value: true, points: -30}
  - {name: Reachable by phone, field: phone_valid, op: eq, value: true, points: 7}
"""


def test_given_enrichment_when_a_recorded_lead_is_simulated_then_it_matches_its_decision(
    service: Service, mappings_dir: Path
) -> None:
    shutil.copy(ROOT / "mappings" / "qualification.yaml", mappings_dir / "qualification.yaml")
    (mappings_dir / "enrichment.yaml").write_text("providers: [email, phone]\ntimeout_seconds: 5\n")
    with (mappings_dir / "scoring.yaml").open("a") as f:
        f.write(RULES)
    cid = service.hubspot.create_contact(
        email="ana@gmail.com", jobtitle="DRH", phone="06 12 34 56 78", country="France"
    )
    service.deliver_and_run()
    [decision] = service.decisions()

    simulated = run(
        service.runtime, SimulationRequest(record=RecordKey.hubspot(cid), at=decision.decided_at)
    )

    assert simulated.score == decision.score
    assert [(r.rule, r.points) for r in simulated.breakdown] == [
        (d["rule"], d["points"]) for d in decision.score_details
    ]
    assert {r.rule for r in simulated.breakdown} >= {"Free-mail address", "Reachable by phone"}
    assert simulated.qualification.outcome == decision.outcome
    assert simulated.qualification.reason == decision.rule
