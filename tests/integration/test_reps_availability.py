"""The pause toggle of a rep through /admin/api/reps (a real server, the admin token) and
`relais reps` (on the same migrated database): pause, list, resume; an unknown rep is refused
with the closest email; a bad body is refused with what is wrong. Runs on SQLite and, with
`dev.py test --postgres`, on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.db import Database
from app.reps.repository import RepPauseRepository
from tests.conftest import ROOT, Relais, copy_mappings

ADMIN = "admin-token-for-reps"
CLAIRE = "claire.martin@paieco.example"
HUGO = "hugo.bernard@paieco.example"


@pytest.fixture
def admin(relais_factory: Callable[..., Relais], settings: Settings, tmp_path: Path) -> Relais:
    """Relais that only serves (no worker), with an admin token for /admin/api, on the
    shipped mappings with the reps' calendars."""
    shipped = copy_mappings(tmp_path / "mappings", calendar=True)
    update = {"admin_tokens": SecretStr(ADMIN), "mappings_dir": shipped}
    with_token = settings.model_copy(update=update)
    return relais_factory(with_token, worker=False)


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}


def put(http: httpx.Client, relais: Relais, email: str, body: Any) -> httpx.Response:
    url = f"{relais.url}/admin/api/reps/{email}/availability"
    return http.put(url, json=body, headers=auth())


def get(http: httpx.Client, relais: Relais, path: str) -> Any:
    resp = http.get(f"{relais.url}/admin/api{path}", headers=auth())
    assert resp.status_code == 200, resp.text
    return resp.json()


def run_cli(database_url: str, *args: str) -> Any:
    env = {"RELAIS_DATABASE_URL": database_url, "RELAIS_MAPPINGS_DIR": str(ROOT / "mappings")}
    return CliRunner().invoke(cli, ["reps", *args], env=env)


def test_given_a_rep_when_an_admin_pauses_then_resumes_it_then_the_api_shows_each_state(
    admin: Relais, http: httpx.Client, db: Database
) -> None:
    paused = put(http, admin, CLAIRE, {"available": False, "reason": "training day"})
    assert paused.status_code == 200, paused.text
    body = paused.json()
    assert (body["email"], body["paused"], body["changed"]) == (CLAIRE, True, True)
    assert body["reason"] == "training day" and body["since"] is not None
    assert body["working_hours"]["timezone"] == "Europe/Paris" and body["active"] is True

    with db.transaction() as session:  # what the assign stage reads for its next batch
        assert list(RepPauseRepository(session).paused()) == [CLAIRE]

    again = put(http, admin, CLAIRE.upper(), {"available": False}).json()
    assert again["changed"] is False and again["since"] == body["since"]
    assert again["reason"] == "training day"  # no reason given: the first one stays

    listed = {rep["email"]: rep for rep in get(http, admin, "/reps")}
    assert len(listed) == 5 and listed[CLAIRE]["paused"] is True
    assert listed[HUGO]["paused"] is False and listed[HUGO]["out_of_office"]
    assert listed["sarah.petit@paieco.example"]["active"] is False
    assert get(http, admin, f"/reps/{CLAIRE}") == {k: v for k, v in body.items() if k != "changed"}

    resumed = put(http, admin, CLAIRE, {"available": True}).json()
    assert (resumed["paused"], resumed["changed"], resumed["since"]) == (False, True, None)
    assert put(http, admin, CLAIRE, {"available": True}).json()["changed"] is False
    assert get(http, admin, f"/reps/{CLAIRE}")["paused"] is False


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/api/reps"),
        ("GET", f"/admin/api/reps/{CLAIRE}"),
        ("PUT", f"/admin/api/reps/{CLAIRE}/availability"),
    ],
)
def test_without_the_admin_token_the_reps_api_answers_401(
    admin: Relais, http: httpx.Client, db: Database, method: str, path: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        resp = http.request(method, admin.url + path, json={"available": False}, headers=headers)
        assert resp.status_code == 401, resp.text
    with db.transaction() as session:
        assert RepPauseRepository(session).paused() == {}


def test_an_unknown_rep_is_404_with_the_closest_email(admin: Relais, http: httpx.Client) -> None:
    for resp in (
        put(http, admin, "claire.martn@paieco.example", {"available": False}),
        http.get(f"{admin.url}/admin/api/reps/claire.martn@paieco.example", headers=auth()),
    ):
        assert resp.status_code == 404, resp.text
        assert resp.json()["suggestion"] == CLAIRE
        assert f"did you mean '{CLAIRE}'?" in resp.json()["detail"]
    nobody = put(http, admin, "zz@elsewhere.test", {"available": True})
    assert nobody.status_code == 404 and nobody.json()["suggestion"] is None


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", "Input should be an object"),
        (b"{not json", "Invalid JSON"),
        (b'{"available": "no"}', "available: Input should be a valid boolean"),
        (b'{"available": false, "until": "monday"}', "until: Extra inputs are not permitted"),
        (b'{"available": true, "reason": "back"}', '"reason" applies to a pause only'),
    ],
)
def test_a_bad_body_is_422_with_what_is_wrong_and_changes_nothing(
    admin: Relais, http: httpx.Client, db: Database, content: bytes, error: str
) -> None:
    url = f"{admin.url}/admin/api/reps/{CLAIRE}/availability"
    resp = http.put(url, content=content, headers=auth())
    assert resp.status_code == 422, resp.text
    assert error in resp.json()["detail"]
    with db.transaction() as session:
        assert RepPauseRepository(session).paused() == {}


def test_a_body_larger_than_4_kib_is_413(admin: Relais, http: httpx.Client) -> None:
    resp = put(http, admin, CLAIRE, {"available": False, "reason": "x" * 5000})
    assert resp.status_code == 413, resp.text


def test_the_cli_pauses_lists_and_resumes_a_rep_on_the_servers_database(
    admin: Relais, http: httpx.Client, database_url: str
) -> None:
    paused = run_cli(database_url, "pause", CLAIRE, "--reason", "training day")
    assert paused.exit_code == 0, paused.output
    assert paused.output.startswith(f"{CLAIRE} paused since ")
    assert paused.output.rstrip().endswith("UTC: training day")
    assert get(http, admin, f"/reps/{CLAIRE}")["reason"] == "training day"

    listed = run_cli(database_url, "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].startswith("EMAIL") and "PAUSED" in lines[0] and "OUT OF OFFICE" in lines[0]
    claire = next(line for line in lines if line.startswith(CLAIRE))
    assert "(training day)" in claire and "mon,tue,wed,thu,fri 08:30-18:00 Europe/Paris" in claire
    hugo = next(line for line in lines if line.startswith(HUGO))
    assert " no " in hugo and "2026-12-21..2027-01-01" in hugo

    again = run_cli(database_url, "pause", CLAIRE)
    assert again.exit_code == 0 and f"{CLAIRE} already paused since " in again.output
    resumed = run_cli(database_url, "resume", CLAIRE)
    assert resumed.exit_code == 0 and resumed.output == f"{CLAIRE} resumed\n"
    assert get(http, admin, f"/reps/{CLAIRE}")["paused"] is False
    noop = run_cli(database_url, "resume", CLAIRE)
    assert noop.exit_code == 0 and noop.output == f"{CLAIRE} was not paused\n"


def test_the_cli_refuses_an_unknown_rep_with_the_closest_email(database_url: str) -> None:
    for args in (["pause", "Hugo.Bernad@paieco.example"], ["resume", "hugo.bernad@paieco.example"]):
        result = run_cli(database_url, *args)
        assert result.exit_code == 1
        assert f"did you mean '{HUGO}'?" in result.output
    too_long = run_cli(database_url, "pause", HUGO, "--reason", "x" * 501)
    assert too_long.exit_code == 1 and "longer than 500 characters" in too_long.output
