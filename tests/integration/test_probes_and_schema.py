"""Probes, migrations and the mappings the service starts with."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
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
