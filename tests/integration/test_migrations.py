"""Migrations that rename keep the rows: upgraded on a database holding data, and back."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text

from app import migrations
from tests.conftest import PG_SCHEMA, USE_POSTGRES

BEFORE_CRM, CRM = "7a1e5c0d8e01", "7a1e5c0d8e02"


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (on PostgreSQL, a schema of its own)."""
    if not USE_POSTGRES:
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    base = os.environ.get(
        "RELAIS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    schema = f"{PG_SCHEMA}_migrations"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


def _insert_before(engine: Engine, until: datetime) -> None:
    event = (
        "INSERT INTO inbox_events (source, dedupe_key, record_key, event_type, received_at, "
        "payload, status, attempts, available_at) VALUES (:source, :key, :record, 'creation', "
        ":now, '{}', 'pending', 0, :now)"
    )
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for source, key in [("hubspot", "e1"), ("salesforce", "e1"), ("hubspot", "e2")]:
            conn.execute(
                text(event),
                {"source": source, "key": key, "record": f"{source}:x:{key}", "now": now},
            )
        conn.execute(
            text(
                "INSERT INTO connector_pauses (connector, paused_until, reason) "
                "VALUES ('hubspot', :until, 'daily quota spent')"
            ),
            {"until": until},
        )


def test_given_events_and_a_pause_when_upgraded_then_they_are_kept_under_the_crm_name(
    scratch_url: str,
) -> None:
    migrations.upgrade(scratch_url, BEFORE_CRM)
    engine = create_engine(scratch_url)
    until = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    try:
        _insert_before(engine, until)
        migrations.upgrade(scratch_url, CRM)

        schema = inspect(engine)
        assert "connector_pauses" not in schema.get_table_names()
        assert [u["name"] for u in schema.get_unique_constraints("inbox_events")] == [
            "uq_inbox_events_crm_dedupe_key"
        ]
        assert schema.get_pk_constraint("crm_pauses")["name"] == "pk_crm_pauses"
        with engine.connect() as conn:
            events = conn.execute(
                text("SELECT crm, dedupe_key FROM inbox_events ORDER BY id")
            ).all()
            pauses = conn.execute(text("SELECT crm, paused_until, reason FROM crm_pauses")).all()
        assert [tuple(e) for e in events] == [
            ("hubspot", "e1"),
            ("salesforce", "e1"),
            ("hubspot", "e2"),
        ]
        assert len(pauses) == 1 and pauses[0][0] == "hubspot"
        assert pauses[0][2] == "daily quota spent"
        paused_until = pauses[0][1]
        if isinstance(paused_until, str):  # SQLite hands the raw text back
            paused_until = datetime.fromisoformat(paused_until)
        assert abs(paused_until.replace(tzinfo=UTC) - until) < timedelta(seconds=1)

        with engine.begin() as conn, pytest.raises(Exception, match=r"(?i)unique"):
            conn.execute(  # the deduplication key still holds under its new name
                text(
                    "INSERT INTO inbox_events (crm, dedupe_key, event_type, received_at, "
                    "payload, status, attempts, available_at) "
                    "SELECT crm, dedupe_key, event_type, received_at, payload, status, "
                    "attempts, available_at FROM inbox_events WHERE dedupe_key = 'e2'"
                )
            )

        migrations.upgrade(scratch_url, "head")
        migrations.check(scratch_url)
    finally:
        engine.dispose()


def test_given_the_crm_names_when_downgraded_then_the_rows_come_back_under_the_old_names(
    scratch_url: str,
) -> None:
    migrations.upgrade(scratch_url, BEFORE_CRM)
    engine = create_engine(scratch_url)
    try:
        _insert_before(engine, datetime(2026, 11, 27, tzinfo=UTC))
        migrations.upgrade(scratch_url, CRM)
        migrations.downgrade(scratch_url, BEFORE_CRM)
        with engine.connect() as conn:
            sources = conn.execute(text("SELECT source FROM inbox_events ORDER BY id")).all()
            pauses = conn.execute(text("SELECT connector FROM connector_pauses")).all()
        assert [s[0] for s in sources] == ["hubspot", "salesforce", "hubspot"]
        assert [p[0] for p in pauses] == ["hubspot"]
        assert [u["name"] for u in inspect(engine).get_unique_constraints("inbox_events")] == [
            "uq_inbox_events_source_dedupe_key"
        ]
    finally:
        engine.dispose()
