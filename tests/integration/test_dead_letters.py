"""Dead letters through `relais dead-letters` and /admin/api/dead-letters: dead inbox events and
outbox writes can be listed and replayed; events rejected at the webhook are listed with their
reason and refused by replay, which says why."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.db import Database, utcnow
from app.inbox.models import InboxEvent
from app.outbox.models import OutboxWrite, WriteKind
from app.queue import Status
from connectors.crm import Crm
from tests.conftest import Relais
from tests.integration.helpers import creation_events, dumps, signed_post

ADMIN = "admin-token-for-dead-letters"


def admin_relais(relais_factory: Callable[..., Relais], settings: Settings) -> Relais:
    """Relais that only stores, with an admin token for /admin/api."""
    admin = settings.model_copy(update={"admin_tokens": SecretStr(ADMIN)})
    return relais_factory(admin, worker=False)


def admin_get(http: httpx.Client, relais: Relais, path: str) -> Any:
    resp = http.get(f"{relais.url}{path}", headers={"Authorization": f"Bearer {ADMIN}"})
    assert resp.status_code == 200, resp.text
    return resp.json()


def admin_post(http: httpx.Client, relais: Relais, path: str, body: Any) -> httpx.Response:
    return http.post(f"{relais.url}{path}", json=body, headers={"Authorization": f"Bearer {ADMIN}"})


def run_cli(database_url: str, *args: str) -> Any:
    return CliRunner().invoke(
        cli, ["dead-letters", *args], env={"RELAIS_DATABASE_URL": database_url}
    )


def rows(db: Database, status: str | None = None) -> list[InboxEvent]:
    with db.transaction() as session:
        query = select(InboxEvent).order_by(InboxEvent.id)  # type: ignore[arg-type]
        if status is not None:
            query = query.where(InboxEvent.status == status)  # type: ignore[arg-type]
        events = list(session.scalars(query))
        session.expunge_all()
        return events


def last_id(db: Database) -> int:
    events = rows(db)
    return max((e.id or 0 for e in events), default=0)


def assert_rejected_everywhere(
    db: Database, http: httpx.Client, relais: Relais, crm: str, reason: str, after: int = 0
) -> InboxEvent:
    """The one event rejected since id ``after`` carries ``reason``, and shows in the CLI and
    the admin API."""
    rejected = [e for e in rows(db, Status.REJECTED) if (e.id or 0) > after]
    assert len(rejected) == 1, [(e.status, e.result) for e in rows(db) if (e.id or 0) > after]
    event = rejected[0]
    assert event.crm == crm
    assert event.result is not None and reason in event.result, event.result
    assert event.payload["reason"] == event.result.removeprefix("rejected: ")
    assert isinstance(event.payload["raw"], str) and event.payload["raw"].isascii()
    listed = run_cli(relais.settings.database_url, "list", "--limit", "1000")
    assert listed.exit_code == 0, listed.output
    line = next(
        (x for x in listed.output.splitlines() if x.startswith(f"rejected inbox {event.id} ")),
        "",
    )
    assert line.startswith(f"rejected inbox {event.id} {crm} at "), listed.output
    assert reason in line, line
    api = admin_get(http, relais, "/admin/api/dead-letters?limit=1000")
    entry = next(r for r in api["rejected"] if r["id"] == event.id)
    assert reason in entry["error"] and entry["replayable"] is False
    return event


def run_cases(cases: Sequence[Any], check: Callable[[Any], None]) -> None:
    """``check`` every case on one server (a server per case would cost a second each);
    every failing case is reported, by its id."""
    failures = []
    for case in cases:
        try:
            check(case)
        except AssertionError as exc:
            failures.append(f"{case.id}: {exc}")
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures)


def _dead_event_and_write(db: Database) -> tuple[int, int]:
    now = utcnow()
    with db.transaction() as session:
        event = InboxEvent(
            crm=Crm.HUBSPOT,
            dedupe_key="dead-1",
            record_key="hubspot:contact:1",
            event_type="contact.creation",
            received_at=now,
            available_at=now,
            payload={"objectId": 1},
            status=Status.DEAD,
            attempts=10,
            last_error="HubSpot answered 500 ten times\nsecond line",
            finished_at=now,
        )
        write = OutboxWrite(
            crm=Crm.HUBSPOT,
            kind=WriteKind.OWNER,
            record_key="hubspot:contact:1",
            sobject="contact",
            object_id="1",
            fields={"hubspot_owner_id": "7"},
            created_at=now,
            available_at=now,
            status=Status.DEAD,
            attempts=10,
            last_error="403 forbidden",
        )
        session.add_all([event, write])
        session.flush()
        assert event.id is not None and write.id is not None
        return event.id, write.id


@pytest.fixture
def relais_admin(relais_factory: Callable[..., Relais], settings: Settings) -> Relais:
    return admin_relais(relais_factory, settings)


def _post_one_good_one_rejected(http: httpx.Client, relais: Relais) -> None:
    events: list[Any] = creation_events([11])
    events.append({**creation_events([12])[0], "objectId": "١٢"})
    assert relais.settings.hubspot_client_secret is not None
    secret = relais.settings.hubspot_client_secret.get_secret_value()
    resp = signed_post(http, relais.webhook_url, secret, dumps(events))
    assert resp.status_code == 200 and resp.json()["rejected"] == 1, resp.text


def test_given_dead_and_rejected_items_then_the_cli_and_the_api_list_them_all(
    relais_admin: Relais, http: httpx.Client, db: Database
) -> None:
    event_id, write_id = _dead_event_and_write(db)
    _post_one_good_one_rejected(http, relais_admin)
    api = admin_get(http, relais_admin, "/admin/api/dead-letters")
    assert [(d["queue"], d["id"], d["status"]) for d in api["inbox"]] == [
        ("inbox", event_id, "dead")
    ]
    assert api["inbox"][0]["error"].startswith("HubSpot answered 500")
    assert api["outbox"][0]["id"] == write_id and api["outbox"][0]["error"] == "403 forbidden"
    assert api["outbox"][0]["payload"] == {"hubspot_owner_id": "7"}  # the fields it sets
    assert api["outbox"][0]["write"] == {"kind": "owner", "sobject": "contact"}
    assert api["totals"] == {"inbox": 1, "outbox": 1, "rejected": 1}
    rejected = api["rejected"][0]
    assert rejected["status"] == "rejected" and rejected["replayable"] is False
    assert rejected["error"].startswith("objectId: '١٢' is not an ASCII decimal number")
    assert "\\u0661\\u0662" in rejected["payload"]["raw"]  # the raw event, as ASCII JSON

    out = run_cli(relais_admin.settings.database_url, "list")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert f"inbox {event_id} hubspot:contact:1 after 10 attempts: HubSpot answered 500" in lines[0]
    assert f"outbox {write_id} hubspot:contact:1 after 10 attempts: 403 forbidden" in lines[1]
    assert lines[2].startswith(f"rejected inbox {rejected['id']} hubspot at ")
    assert "objectId: '١٢' is not an ASCII decimal number" in lines[2]


def test_given_a_rejected_event_then_replay_refuses_it_and_says_why(
    relais_admin: Relais, http: httpx.Client, db: Database
) -> None:
    event_id, write_id = _dead_event_and_write(db)
    _post_one_good_one_rejected(http, relais_admin)
    rejected_id = rows(db, Status.REJECTED)[0].id
    resp = admin_post(
        http,
        relais_admin,
        "/admin/api/dead-letters/replay",
        {"inbox": [event_id, rejected_id, 999_999], "outbox": [write_id]},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["inbox"], body["outbox"]) == (1, 1)
    refused = {r["id"]: r["reason"] for r in body["refused"]}
    assert "rejected at the webhook" in refused[rejected_id]
    assert "would be rejected the same way" in refused[rejected_id]
    assert "no inbox event has this id" in refused[999_999]
    assert rows(db, Status.REJECTED)[0].id == rejected_id  # still rejected, never claimable
    assert {e.id for e in rows(db, Status.PENDING)} >= {event_id}

    cli_replay = run_cli(relais_admin.settings.database_url, "replay", "--inbox", str(rejected_id))
    assert cli_replay.exit_code == 1
    assert "replayed 0 inbox event(s)" in cli_replay.output
    assert f"not replayed: inbox {rejected_id}: rejected at the webhook" in cli_replay.output


def test_given_replay_all_then_dead_items_are_replayed_and_rejected_ones_left(
    relais_admin: Relais, http: httpx.Client, db: Database
) -> None:
    _dead_event_and_write(db)
    _post_one_good_one_rejected(http, relais_admin)
    out = run_cli(relais_admin.settings.database_url, "replay", "--all")
    assert out.exit_code == 0, out.output
    assert "replayed 1 inbox event(s) and 1 outbox write(s)" in out.output
    assert len(rows(db, Status.REJECTED)) == 1
    resp = admin_post(http, relais_admin, "/admin/api/dead-letters/replay", {"all": True})
    assert resp.json() == {"inbox": 0, "outbox": 0, "refused": []}


def test_given_an_item_that_is_not_dead_then_replay_refuses_it(
    relais_admin: Relais, http: httpx.Client, db: Database
) -> None:
    _post_one_good_one_rejected(http, relais_admin)
    pending = rows(db, Status.PENDING)[0].id
    resp = admin_post(http, relais_admin, "/admin/api/dead-letters/replay", {"inbox": [pending]})
    assert resp.json()["refused"][0]["reason"].startswith("not dead-lettered (its status is")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/admin/api/dead-letters"), ("POST", "/admin/api/dead-letters/replay")],
)
def test_the_dead_letter_api_needs_an_admin_token(
    relais_admin: Relais, http: httpx.Client, method: str, path: str
) -> None:
    resp = http.request(method, f"{relais_admin.url}{path}", json={"all": True})
    assert resp.status_code == 401


def test_a_replay_request_with_unknown_keys_is_refused(
    relais_admin: Relais, http: httpx.Client
) -> None:
    resp = admin_post(http, relais_admin, "/admin/api/dead-letters/replay", {"everything": 1})
    assert resp.status_code == 422
