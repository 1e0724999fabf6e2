"""The README's main command runs end to end, in both CRMs, and tells what happened."""

from __future__ import annotations

from typer.testing import CliRunner

from app.cli import cli
from tests.conftest import ROOT


def test_the_demo_routes_every_lead_in_both_crms_and_reports_owners_latency_and_calls() -> None:
    result = CliRunner().invoke(
        cli,
        ["demo", "--leads", "24", "--rate", "200", "--latency-ms", "5"],
        env={"RELAIS_MAPPINGS_DIR": str(ROOT / "mappings"), "RELAIS_LOG_LEVEL": "WARNING"},
    )
    assert result.exit_code == 0, result.output
    out = result.output
    # 16 HubSpot leads + the 2 people also in HubSpot; 8 Salesforce leads; 2 linked
    assert "HubSpot 18 of 18, Salesforce 8 of 8; 2 people linked" in out
    for rep in ("Claire Martin", "Hugo Bernard", "Inès Dubois", "Lucas Moreau"):
        assert rep in out
    assert "Sarah Petit (inactive)           0" in out
    assert "webhook -> owner:     HubSpot p50" in out
    assert "Salesforce p50" in out and "per Salesforce lead" in out
