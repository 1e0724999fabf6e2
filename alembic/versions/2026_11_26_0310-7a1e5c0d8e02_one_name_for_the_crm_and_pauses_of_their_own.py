"""one name for the CRM: inbox_events.source becomes crm; connector_pauses becomes crm_pauses

Revision ID: 7a1e5c0d8e02
Revises: 7a1e5c0d8e01
Create Date: 2026-11-26 03:10:00

Renames, keeping every row: the inbox's events keep their deduplication key under its new
name, and a pause still running keeps running.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "7a1e5c0d8e02"
down_revision: str | None = "7a1e5c0d8e01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The unique key goes while its column is renamed, and comes back under its new name.
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_inbox_events_source_dedupe_key", type_="unique")
        batch_op.alter_column("source", new_column_name="crm")
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_inbox_events_crm_dedupe_key", ["crm", "dedupe_key"])
    _move_pauses("connector_pauses", "connector", "crm_pauses", "crm")


def downgrade() -> None:
    _move_pauses("crm_pauses", "crm", "connector_pauses", "connector")
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_inbox_events_crm_dedupe_key", type_="unique")
        batch_op.alter_column("crm", new_column_name="source")
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_inbox_events_source_dedupe_key", ["source", "dedupe_key"]
        )


def _move_pauses(old: str, old_key: str, new: str, new_key: str) -> None:
    """A new table under the new names (its primary key named after it), the rows copied: a
    few rows at most, one per CRM, and no constraint name left behind on either database."""
    op.create_table(
        new,
        sa.Column(new_key, sa.String(length=32), nullable=False),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(new_key, name=op.f(f"pk_{new}")),
    )
    op.execute(
        f"INSERT INTO {new} ({new_key}, paused_until, reason) "  # noqa: S608 (names above)
        f"SELECT {old_key}, paused_until, reason FROM {old}"
    )
    op.drop_table(old)
