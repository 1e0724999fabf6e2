"""The README's main command runs end to end and tells what happened."""

from __future__ import annotations

from typer.testing import CliRunner

from app.cli import cli
from tests.conftest import ROOT


def test_the_demo_routes_every_lead_and_reports_owners_latency_and_calls() -> None:
    result = CliRunner().invoke(
        cli,
        ["demo", "--leads", "24", "--rate", "200", "--latency-ms", "5"],
        env={"RELAIS_MAPPINGS_DIR": str(ROOT / "mappings"), "RELAIS_LOG_LEVEL": "WARNING"},
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "24 of 24 owned in HubSpot" in out
    for rep in ("Claire Martin", "Hugo Bernard", "Inès Dubois", "Lucas Moreau"):
        assert f"{rep}" in out
    assert "Sarah Petit (inactive)           0" in out
    assert "webhook -> owner:     p50" in out
    assert "per lead" in out
