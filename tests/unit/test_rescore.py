"""Rescoring one lead (pure): what changes, what is written, what is routed."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.evaluations.models import LeadEvaluation
from app.evaluations.service import changed, evaluated
from app.mappings.loader import Mappings, load_mappings
from app.rescore.service import rescored
from connectors.crm import RecordKey

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
KEY = RecordKey.hubspot("1")
WRITE = "\nwrite:\n  hubspot: {score: relais_score, breakdown: relais_reasons}\n"
HR = {
    "email": "drh@betonsud.fr",
    "title": "DRH",
    "company_size": "120",
    "industry": "construction",
    "country": "France",
}


@pytest.fixture(scope="module")
def m(tmp_path_factory: pytest.TempPathFactory) -> Mappings:
    target = tmp_path_factory.mktemp("m") / "mappings"
    shutil.copytree(ROOT / "mappings", target)
    with (target / "scoring.yaml").open("a") as f:
        f.write(WRITE)
    shutil.copy(ROOT / "docs" / "examples" / "qualification.yaml", target / "qualification.yaml")
    return load_mappings(target)


def evaluation(
    lead: Mapping[str, str | None], m: Mappings, at: datetime, outcome: str
) -> LeadEvaluation:
    """The lead as the live path left it at ``at``: scored, its values written."""
    fresh = evaluated(KEY, lead, [KEY], 0, outcome, {}, None, at, "v")
    first = rescored(fresh, None, m, at, [KEY])
    return evaluated(KEY, lead, [KEY], first.score.total, outcome, first.values, None, at, "v")


def test_given_no_time_passed_when_rescored_then_nothing_changes(m: Mappings) -> None:
    ev = evaluation(
        {
            "email": "c@betonsud.fr",
            "title": "Comptable",
            "last_activity": "2026-11-20T00:00:00+00:00",
        },
        m,
        NOW,
        "nurture",
    )

    again = rescored(ev, None, m, NOW, [KEY])

    assert (again.values, again.moved, again.rescored, again.route) == ({}, False, False, False)


def test_given_a_month_without_activity_when_rescored_then_only_the_score_fields_change(
    m: Mappings,
) -> None:
    lead = {
        "email": "c@betonsud.fr",
        "title": "Comptable",
        "last_activity": "2026-11-20T00:00:00+00:00",
    }
    ev = evaluation(lead, m, NOW, "nurture")

    later = rescored(ev, None, m, NOW + timedelta(days=31), [KEY])

    assert later.score.total == ev.score - 5
    assert set(later.values[KEY]) == {"relais_score", "relais_reasons"}  # not the lifecycle
    assert later.values[KEY]["relais_score"] == str(ev.score - 5)
    assert later.moved and not later.route and later.row(NOW, "v").outcome == "nurture"
    assert later.row(NOW, "v").written[str(KEY)]["relais_score"] == str(ev.score - 5)


def test_given_an_assigned_lead_when_rescored_then_it_is_never_requalified_nor_routed(
    m: Mappings,
) -> None:
    lead = {**HR, "last_activity": "2026-01-01T00:00:00+00:00"}  # far below the threshold now
    ev = evaluation(lead, m, NOW - timedelta(days=300), "ready")

    later = rescored(ev, "claire.martin@paieco.example", m, NOW, [KEY])

    assert later.qualified is None and not later.route
    assert later.row(NOW, "v").outcome == "ready"  # kept: a lead routed once is never un-routed
    assert set(later.values[KEY]) == {"relais_score", "relais_reasons"}


def test_given_a_nurtured_lead_that_now_qualifies_when_rescored_then_it_is_routed_not_written(
    m: Mappings,
) -> None:
    ev = evaluation({**HR}, m, NOW, "nurture")  # as if scored under a stricter model

    later = rescored(ev, None, m, NOW, [KEY])

    assert later.qualified is not None and later.qualified.ready
    assert later.route and later.values == {}  # the live path decides and writes


def test_given_a_value_written_before_when_compared_then_only_differences_remain() -> None:
    before = evaluated(KEY, {}, [KEY], 1, "nurture", {KEY: {"a": "1", "b": "2"}}, None, NOW, "v")

    diff = changed({KEY: {"a": "1", "b": "3", "c": None}}, before)

    assert diff == {KEY: {"b": "3", "c": None}}


@pytest.mark.parametrize("value", ["25:00", "3h", "03:00:00", "noon", ""])
def test_given_a_bad_daily_time_when_configured_then_it_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="RELAIS_RESCORE_DAILY_AT"):
        Settings(rescore_daily_at=value)


def test_given_off_when_configured_then_there_is_no_daily_rescoring() -> None:
    assert Settings(rescore_daily_at="off").rescore_time() is None
    assert str(Settings(rescore_daily_at="04:30").rescore_time()) == "04:30:00"


@pytest.mark.parametrize(
    ("at", "message"),
    [
        ("2999-01-01T00:00:00Z", "an instant in the future is refused"),
        ("yesterday", "not an ISO 8601 instant with a time zone"),
        ("2026-11-01T00:00:00", "not an ISO 8601 instant with a time zone"),
    ],
)
def test_given_an_at_that_cannot_be_written_when_rescoring_then_it_exits_1_with_why(
    at: str, message: str
) -> None:
    result = CliRunner().invoke(cli, ["rescore", "--at", at])

    assert result.exit_code == 1
    assert message in result.output
