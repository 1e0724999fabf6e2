"""A search through the decisions, GET /admin/api/decisions (a real server, the admin token)
and `relais decisions search` (on the same migrated database): each filter, paging by cursor,
401 without the token, 422 naming each bad parameter. Runs on SQLite and, with
`dev.py test --postgres`, on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.db import Database, utcnow
from app.decisions.models import Assignment, Decision
from app.decisions.repository import DecisionRepository
from tests.conftest import ROOT, Relais

ADMIN = "admin-token-for-decisions"
CLAIRE = "claire.martin@paieco.example"
HUGO = "hugo.bernard@paieco.example"
CONSTRUCTION = "Construction firms"

# record, outcome, rep, pool, routing rule, hours ago (inserted in this order: ids 1 to 5)
DECISIONS = [
    ("hubspot:contact:10", "nurture", None, None, None, 240),
    ("hubspot:contact:1", "assigned", CLAIRE, "West", CONSTRUCTION, 72),
    ("salesforce:Lead:00Q1", "held", None, "West", CONSTRUCTION, 2),
    ("hubspot:contact:2", "assigned", HUGO, "East", "Large accounts", 1),
    ("salesforce:Lead:00Q3", "fallback", HUGO, "West", None, 0.5),
]


@pytest.fixture
def admin(relais_factory: Callable[..., Relais], settings: Settings, db: Database) -> Relais:
    """Relais that only serves, with an admin token, on a database holding DECISIONS; the
    same person's Salesforce Lead 00Q2 was given by the decision on hubspot:contact:1."""
    now = utcnow()
    with db.transaction() as session:
        repo = DecisionRepository(session)
        for record, outcome, rep, pool, rule, hours in DECISIONS:
            at = now - timedelta(hours=hours)
            why = {"rule": "weighted", "routing_rule": {"name": rule}} if rule else None
            d = repo.add(
                Decision(
                    record_key=record, outcome=outcome, owner_email=rep, pool=pool,
                    rule=f"{outcome} because", score=100, mappings_version="test",
                    first_received_at=at, decided_at=at, explanation=why, routing_rule=rule,
                )
            )  # fmt: skip
            if record == "hubspot:contact:1":
                given = Assignment(
                    record_key="salesforce:Lead:00Q2", decision_id=d.id or 0,
                    owner_email=CLAIRE, assigned_at=at,
                )  # fmt: skip
                repo.add_assignment(given)
    with_token = settings.model_copy(update={"admin_tokens": SecretStr(ADMIN)})
    return relais_factory(with_token, worker=False)


def search(http: httpx.Client, relais: Relais, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    return http.get(f"{relais.url}/admin/api/decisions", params=params, headers=headers)


def records(http: httpx.Client, relais: Relais, **params: Any) -> list[str]:
    resp = search(http, relais, **params)
    assert resp.status_code == 200, resp.text
    return [d["record"] for d in resp.json()["decisions"]]


def test_given_decisions_when_searching_without_filters_then_all_come_newest_first(
    admin: Relais, http: httpx.Client
) -> None:
    body = search(http, admin).json()
    assert [d["id"] for d in body["decisions"]] == [5, 4, 3, 2, 1]
    assert body["next"] is None
    first = body["decisions"][3]
    assert {k: v for k, v in first.items() if k != "decided_at"} == {
        "id": 2, "record": "hubspot:contact:1", "outcome": "assigned", "rep": CLAIRE,
        "pool": "West", "rule": CONSTRUCTION, "reason": "assigned because", "score": 100,
    }  # fmt: skip
    assert datetime.fromisoformat(first["decided_at"]).tzinfo is not None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"record": "hubspot:contact:2"}, ["hubspot:contact:2"]),
        # the same person's other record: the decision that gave it (the ledger)
        ({"record": "salesforce:Lead:00Q2"}, ["hubspot:contact:1"]),
        ({"record": "hubspot:contact:404"}, []),
        ({"rep": HUGO.upper()}, ["salesforce:Lead:00Q3", "hubspot:contact:2"]),
        ({"rule": CONSTRUCTION}, ["salesforce:Lead:00Q1", "hubspot:contact:1"]),
        ({"outcome": "held"}, ["salesforce:Lead:00Q1"]),
        ({"pool": "West"}, ["salesforce:Lead:00Q3", "salesforce:Lead:00Q1", "hubspot:contact:1"]),
        ({"since": "3h"}, ["salesforce:Lead:00Q3", "hubspot:contact:2", "salesforce:Lead:00Q1"]),
        ({"since": "4d"}, ["salesforce:Lead:00Q3", "hubspot:contact:2", "salesforce:Lead:00Q1",
                           "hubspot:contact:1"]),
        ({"pool": "West", "rep": HUGO}, ["salesforce:Lead:00Q3"]),
        ({"rule": CONSTRUCTION, "outcome": "assigned", "since": "1d"}, []),
    ],
)  # fmt: skip
def test_given_decisions_when_filtering_then_only_the_matching_ones_come(
    admin: Relais, http: httpx.Client, params: dict[str, str], expected: list[str]
) -> None:
    assert records(http, admin, **params) == expected


def test_given_an_instant_with_its_zone_when_searching_since_then_it_is_the_bound(
    admin: Relais, http: httpx.Client
) -> None:
    paris = (datetime.now(UTC) - timedelta(hours=1.5)).astimezone(
        datetime.now().astimezone().tzinfo
    )
    assert records(http, admin, since=paris.isoformat()) == [
        "salesforce:Lead:00Q3",
        "hubspot:contact:2",
    ]


def test_given_more_decisions_than_the_limit_when_paging_then_the_cursor_walks_them_all(
    admin: Relais, http: httpx.Client
) -> None:
    seen: list[int] = []
    cursor: int | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"before": cursor} if cursor else {})
        body = search(http, admin, **params).json()
        seen += [d["id"] for d in body["decisions"]]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break
    assert (seen, pages) == ([5, 4, 3, 2, 1], 3)
    assert search(http, admin, limit=5).json()["next"] is None  # exactly full: the last page
    page = search(http, admin, pool="West", limit=1).json()
    assert [d["id"] for d in page["decisions"]] == [5] and page["next"] == 5
    rest = search(http, admin, pool="West", before=5).json()
    assert [d["id"] for d in rest["decisions"]] == [3, 2]


def test_given_no_admin_token_when_searching_then_401(admin: Relais, http: httpx.Client) -> None:
    resp = http.get(f"{admin.url}/admin/api/decisions")
    assert resp.status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert http.get(f"{admin.url}/admin/api/decisions", headers=wrong).status_code == 401


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"record": "contact-1"}, "record: not a record key (crm:object:id)"),
        ({"record": "pipedrive:person:1"}, "record: unknown CRM 'pipedrive'"),
        ({"rep": "claire"}, "rep: 'claire' is not an email"),
        ({"rule": " "}, "rule: a routing rule's name must be 1 to 320 characters"),
        ({"outcome": "won"}, "outcome: 'won' is not an outcome (one of "),
        ({"since": "yesterday"}, "since: 'yesterday' is neither a duration"),
        ({"since": "2026-11-01T00:00:00"}, "since: '2026-11-01T00:00:00' has no zone"),
        ({"limit": "0"}, "limit: 0 is out of range (from 1 to 500)"),
        ({"limit": "501"}, "limit: 501 is out of range (from 1 to 500)"),
        ({"limit": "ten"}, "limit: 'ten' is not a whole number"),
        ({"before": "-3"}, "before: '-3' is not a whole number"),
    ],
)
def test_given_a_bad_parameter_when_searching_then_422_says_which_and_why(
    admin: Relais, http: httpx.Client, params: dict[str, str], message: str
) -> None:
    resp = search(http, admin, **params)
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"].startswith(message)


def test_given_several_bad_parameters_when_searching_then_422_lists_each(
    admin: Relais, http: httpx.Client
) -> None:
    resp = search(http, admin, rep="x", limit="9999", since="soon", outcome="held")
    assert resp.status_code == 422
    assert [e.split(":")[0] for e in resp.json()["errors"]] == ["rep", "since", "limit"]


def run_cli(database_url: str, *args: str) -> Any:
    env = {"RELAIS_DATABASE_URL": database_url, "RELAIS_MAPPINGS_DIR": str(ROOT / "mappings")}
    return CliRunner().invoke(cli, ["decisions", "search", *args], env=env)


def test_given_decisions_when_searching_from_the_cli_then_a_table_of_the_matches(
    admin: Relais, database_url: str
) -> None:
    result = run_cli(database_url, "--rule", CONSTRUCTION, "--since", "7d")
    assert result.exit_code == 0, result.output
    header, *lines = result.output.splitlines()
    assert header.split() == ["ID", "DECIDED", "(UTC)", "RECORD", "OUTCOME", "REP", "POOL",
                              "RULE", "SCORE"]  # fmt: skip
    assert [line.split()[:5] for line in lines] == [
        ["3", *lines[0].split()[1:3], "salesforce:Lead:00Q1", "held"],
        ["2", *lines[1].split()[1:3], "hubspot:contact:1", "assigned"],
    ]
    assert f"{CLAIRE}  West  {CONSTRUCTION}  100" in lines[1]

    assert run_cli(database_url, "--rep", "nobody@x.example").exit_code == 1
    bad = run_cli(database_url, "--since", "soon", "--limit", "600")
    assert bad.exit_code == 2
    assert "since: 'soon' is neither a duration" in bad.output and "limit: 600" in bad.output
