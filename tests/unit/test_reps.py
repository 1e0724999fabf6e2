"""The pure parts of the reps' pause toggle: finding a rep of team.yaml (with a suggestion when
the email is not one), the availability data the CLI and the API show, and the body the API
accepts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from app.mappings.loader import load_mappings
from app.mappings.schemas import Team
from app.reps.endpoints import AvailabilityChange
from app.reps.models import RepPause
from app.reps.service import Toggled, UnknownRep, find_rep, rep_availability
from tests.conftest import ROOT

SINCE = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def team() -> Team:
    return load_mappings(ROOT / "mappings").team


def test_given_an_email_in_another_case_when_finding_the_rep_then_it_is_found(team: Team) -> None:
    rep = find_rep(team, "  Claire.Martin@PaieCo.example ")
    assert rep.email == "claire.martin@paieco.example"


def test_given_a_misspelt_email_when_finding_the_rep_then_the_error_suggests_the_closest(
    team: Team,
) -> None:
    with pytest.raises(UnknownRep) as caught:
        find_rep(team, "claire.martn@paieco.example")
    assert caught.value.suggestion == "claire.martin@paieco.example"
    assert str(caught.value) == (
        "'claire.martn@paieco.example' is not a rep of team.yaml, "
        "did you mean 'claire.martin@paieco.example'?"
    )


def test_given_an_email_like_no_rep_when_finding_the_rep_then_no_suggestion(team: Team) -> None:
    with pytest.raises(UnknownRep) as caught:
        find_rep(team, "zz@elsewhere.test")
    assert caught.value.suggestion is None
    assert str(caught.value) == "'zz@elsewhere.test' is not a rep of team.yaml"


def test_given_a_rep_not_paused_then_its_data_shows_team_yaml_and_no_pause(team: Team) -> None:
    data = rep_availability(find_rep(team, "hugo.bernard@paieco.example"), None)
    assert data == {
        "email": "hugo.bernard@paieco.example",
        "name": "Hugo Bernard",
        "paused": False,
        "since": None,
        "reason": None,
        "active": True,
        "working_hours": {
            "timezone": "Europe/Paris",
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "start": "09:00:00",
            "end": "18:00:00",
        },
        "out_of_office": [
            {"start": "2026-12-21", "end": "2027-01-01", "reason": "Christmas holidays"}
        ],
    }


def test_given_a_paused_inactive_rep_then_its_data_shows_both(team: Team) -> None:
    pause = RepPause(email="sarah.petit@paieco.example", since=SINCE, reason="sick leave")
    data = rep_availability(find_rep(team, "sarah.petit@paieco.example"), pause)
    assert data["paused"] is True
    assert data["since"] == "2026-03-02T09:30:00+00:00"
    assert data["reason"] == "sick leave"
    assert data["active"] is False
    assert data["working_hours"] is None and data["out_of_office"] == []


def test_a_resume_is_reported_as_one_only_when_the_rep_was_paused(team: Team) -> None:
    rep = find_rep(team, "ines.dubois@paieco.example")
    pause = RepPause(email=rep.email, since=SINCE, reason=None)
    assert Toggled(rep, changed=True, pause=None).resumed
    assert not Toggled(rep, changed=False, pause=None).resumed
    assert not Toggled(rep, changed=True, pause=pause).resumed
    assert Toggled(rep, changed=False, pause=pause).to_json()["changed"] is False


@pytest.mark.parametrize(
    ("body", "available", "reason"),
    [
        ('{"available": false, "reason": "training day"}', False, "training day"),
        ('{"available": false}', False, None),
        ('{"available": true}', True, None),
    ],
)
def test_a_valid_body_is_read(body: str, available: bool, reason: str | None) -> None:
    change = AvailabilityChange.model_validate_json(body)
    assert (change.available, change.reason) == (available, reason)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("null", "Input should be an object"),
        ("{}", "available: Field required"),
        ('{"available": "no"}', "available: Input should be a valid boolean"),
        ('{"available": 0}', "available: Input should be a valid boolean"),
        ('{"available": false, "why": "x"}', "why: Extra inputs are not permitted"),
        ('{"available": false, "reason": "' + "x" * 501 + '"}', "at most 500 characters"),
        ('{"available": true, "reason": "back"}', '"reason" applies to a pause only'),
        ("{available: false}", "Invalid JSON"),
    ],
)
def test_an_invalid_body_is_refused_with_what_is_wrong(body: str, error: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AvailabilityChange.model_validate_json(body)
    shown = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in caught.value.errors()
    )
    assert error in shown


def test_given_a_reason_with_a_control_character_when_parsed_then_it_is_refused() -> None:
    from pydantic import ValidationError

    from app.reps.endpoints import AvailabilityChange

    with pytest.raises(ValidationError, match="without control characters"):
        AvailabilityChange.model_validate_json('{"available": false, "reason": "\\u0000x"}')
