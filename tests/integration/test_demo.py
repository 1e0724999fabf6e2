"""The README's main command runs end to end, in both CRMs, and tells what happened: the
funnel from the leads created to the ones routed."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from app.cli import cli
from tests.conftest import ROOT


def _count(out: str, label: str) -> int:
    found = re.search(rf"^  {label}:\s+(\d+)", out, re.MULTILINE)
    assert found, f"no {label!r} line in:\n{out}"
    return int(found[1])


def test_given_the_demo_when_run_then_only_ready_leads_get_a_rep_and_the_funnel_is_shown() -> None:
    result = CliRunner().invoke(
        cli,
        ["demo", "--leads", "24", "--rate", "200", "--latency-ms", "5"],
        env={"RELAIS_MAPPINGS_DIR": str(ROOT / "mappings"), "RELAIS_LOG_LEVEL": "WARNING"},
    )
    assert result.exit_code == 0, result.output
    out = result.output
    # 16 HubSpot leads + the 2 people also in HubSpot; 8 Salesforce leads: 26 records
    assert "leads created:        24 people, 26 records qualified" in out
    counts = {o: _count(out, o) for o in ("disqualified", "incomplete", "nurture", "ready")}
    assert sum(counts.values()) == 26
    assert 0 < counts["ready"] < counts["nurture"]  # most marketing leads are not ready
    for reason in ("A competitor", "A student", "An intern", "No valid email to reach them"):
        assert reason in out
    assert "revealing act:" in out and "score is below the threshold" in out
    # only the ready records have an owner, in either CRM
    owned = re.search(r"records owned:\s+HubSpot (\d+) of 18, Salesforce (\d+) of 8", out)
    assert owned, out
    assert int(owned[1]) + int(owned[2]) == counts["ready"] == _count(out, "routed")
    assert "Sarah Petit (inactive)           0" in out
    assert "webhook -> owner:     HubSpot p50" in out
    assert "per Salesforce lead" in out
