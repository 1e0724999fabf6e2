"""Migration 7a1e5c0d8e03 moves every outbox write's JSON into typed columns, and back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, text

from app import migrations
from tests.integration.test_migrations import scratch_url  # noqa: F401 (a fixture)

BEFORE, TYPED = "7a1e5c0d8e02", "7a1e5c0d8e03"
OLD_ROWS = [
    # (connector, record key, object id, properties)
    ("hubspot", "hubspot:contact:901", "901", {"hubspot_owner_id": "501"}),
    (
        "salesforce",
        "salesforce:Lead:00Q000000000001AAA",
        "00Q000000000001AAA",
        {"OwnerId": "005C", "sobject": "Lead", "owner_before": "005I"},
    ),
    (
        "salesforce",
        "salesforce:Contact:003000000000001AAA",
        "003000000000001AAA",
        {"OwnerId": "005H", "sobject": "Contact", "owner_before": None},
    ),
    ("hubspot", "hubspot:contact:902", "902", {"hubspot_owner_id": "502", "owner_before": "7"}),
]


def _insert_old(engine: Engine) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for connector, key, object_id, props in OLD_ROWS:
            conn.execute(
                text(
                    "INSERT INTO outbox_writes (connector, record_key, object_id, properties, "
                    "created_at, status, attempts, available_at) VALUES (:c, :k, :o, :p, :now, "
                    "'pending', 0, :now)"
                ),
                {"c": connector, "k": key, "o": object_id, "p": json.dumps(props), "now": now},
            )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value  # SQLite: text


def test_given_owner_writes_when_upgraded_then_each_has_its_kind_object_fields_and_owner_before(
    scratch_url: str,  # noqa: F811
) -> None:
    migrations.upgrade(scratch_url, BEFORE)
    engine = create_engine(scratch_url)
    try:
        _insert_old(engine)
        migrations.upgrade(scratch_url, TYPED)
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT crm, kind, sobject, object_id, fields, owner_before, before_known "
                    "FROM outbox_writes ORDER BY id"
                )
            ).all()
        assert [(r[0], r[1], r[2], r[3], _json(r[4]), r[5], bool(r[6])) for r in rows] == [
            ("hubspot", "owner", "contact", "901", {"hubspot_owner_id": "501"}, None, False),
            (
                "salesforce",
                "owner",
                "Lead",
                "00Q000000000001AAA",
                {"OwnerId": "005C"},
                "005I",
                True,
            ),
            (
                "salesforce",
                "owner",
                "Contact",
                "003000000000001AAA",
                {"OwnerId": "005H"},
                None,
                True,
            ),
            ("hubspot", "owner", "contact", "902", {"hubspot_owner_id": "502"}, "7", True),
        ]
        migrations.upgrade(scratch_url, "head")
        migrations.check(scratch_url)
    finally:
        engine.dispose()


def test_given_typed_writes_when_downgraded_then_the_json_comes_back_and_fields_writes_stop(
    scratch_url: str,  # noqa: F811
) -> None:
    migrations.upgrade(scratch_url, BEFORE)
    engine = create_engine(scratch_url)
    try:
        _insert_old(engine)
        migrations.upgrade(scratch_url, TYPED)
        now = datetime.now(UTC)
        with engine.begin() as conn:  # a fields write: it has no form before the revision
            conn.execute(
                text(
                    "INSERT INTO outbox_writes (crm, kind, record_key, sobject, object_id, "
                    "fields, before_known, created_at, status, attempts, available_at) VALUES "
                    "('hubspot', 'fields', 'hubspot:contact:903', 'contact', '903', "
                    "'{\"industry\": \"RETAIL\"}', false, :now, 'pending', 0, :now)"
                ),
                {"now": now},
            )
        migrations.downgrade(scratch_url, BEFORE)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT connector, properties, status FROM outbox_writes ORDER BY id")
            ).all()
        assert [(r[0], _json(r[1])) for r in rows[:4]] == [
            (connector, props) for connector, _, _, props in OLD_ROWS
        ]
        assert [r[2] for r in rows] == ["pending"] * 4 + ["superseded"]
    finally:
        engine.dispose()
