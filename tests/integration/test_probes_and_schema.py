"""Probes, migrations and the mappings the service starts with."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine

from app import migrations
from app.config import Settings
from tests.conftest import Relais


def test_healthz_and_readyz_when_everything_is_in_place(relais: Relais, http: httpx.Client) -> None:
    assert http.get(f"{relais.url}/healthz").json() == {"status": "ok"}
    ready = http.get(f"{relais.url}/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"]["migrations"] == "ok"
    assert body["checks"]["mappings"].startswith("ok (version ")
    assert body["dead_letters"] == {"inbox": 0, "outbox": 0, "rejected": 0}


def test_readyz_says_so_when_the_schema_is_behind(
    relais_factory: Callable[..., Relais],
    settings: Settings,
    http: httpx.Client,
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    create_engine(url).connect().close()
    relais = relais_factory(settings.model_copy(update={"database_url": url}), worker=False)
    ready = http.get(f"{relais.url}/readyz")
    assert ready.status_code == 503
    assert "relais db upgrade" in ready.json()["checks"]["migrations"]


def test_readyz_when_the_database_is_unreachable(
    relais_factory: Callable[..., Relais], settings: Settings, http: httpx.Client
) -> None:
    relais = relais_factory(
        settings.model_copy(
            update={
                "database_url": "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1"
            }
        ),
        worker=False,
    )
    ready = http.get(f"{relais.url}/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("unreachable")


def test_the_models_match_the_migrations(database_url: str) -> None:
    migrations.check(database_url)  # raises when a model changed without a migration


def test_the_schema_can_be_built_and_torn_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cycle.db'}"
    migrations.upgrade(url)
    migrations.upgrade(url, "head")  # idempotent
    from alembic import command

    command.downgrade(migrations.alembic_config(url), "base")
    migrations.upgrade(url)


def test_a_nested_sqlite_transaction_fails_loudly_instead_of_hanging(database_url: str) -> None:
    from app.db import Database

    db = Database(database_url)
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL allows concurrent transactions")
    with db.transaction(), pytest.raises(RuntimeError, match="nested transaction"):  # noqa: SIM117
        with db.transaction():
            pass
    with db.transaction():  # the lock was released
        pass
    db.dispose()


def test_metrics_are_open_by_default_and_need_the_token_once_one_is_set(
    relais_factory: Callable[..., Relais], settings: Settings, http: httpx.Client
) -> None:
    open_ = relais_factory(settings, worker=False)
    assert http.get(f"{open_.url}/metrics").status_code == 200
    guarded = relais_factory(
        settings.model_copy(update={"metrics_token": SecretStr("scrape-me")}), worker=False
    )
    assert http.get(f"{guarded.url}/metrics").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert http.get(f"{guarded.url}/metrics", headers=wrong).status_code == 401
    right = http.get(f"{guarded.url}/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert right.status_code == 200 and "relais_" in right.text


def test_api_docs_are_public_by_default_and_can_be_switched_off(
    relais_factory: Callable[..., Relais], settings: Settings, http: httpx.Client
) -> None:
    on = relais_factory(settings, worker=False)
    assert http.get(f"{on.url}/openapi.json").status_code == 200
    assert http.get(f"{on.url}/docs").status_code == 200
    off = relais_factory(settings.model_copy(update={"api_docs": False}), worker=False)
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert http.get(f"{off.url}{path}").status_code == 404
    assert http.get(f"{off.url}/healthz").status_code == 200
