"""decisions name their routing rule (a plain indexed column: searched alike on SQLite and
PostgreSQL); earlier decisions get it from their explanation

Revision ID: 7a1e5c0d8e07
Revises: 7a1e5c0d8e06
Create Date: 2026-11-26 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "7a1e5c0d8e07"
down_revision: str | None = "7a1e5c0d8e06"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

decisions = sa.table(
    "decisions",
    sa.column("id", sa.Integer()),
    sa.column("explanation", sa.JSON()),
    sa.column("routing_rule", sa.String(128)),
)


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("routing_rule", sa.String(length=128), nullable=True))
    op.create_index("ix_decisions_routing_rule", "decisions", ["routing_rule"], unique=False)
    _backfill()


def _backfill() -> None:
    """The rule's name out of each earlier explanation, read in Python: JSON operators differ
    between SQLite and PostgreSQL."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(decisions.c.id, decisions.c.explanation).where(
            decisions.c.explanation.is_not(None)
        )
    ).all()
    named = [
        {"key": i, "name": str(rule["name"])[:128]}
        for i, why in rows
        if isinstance(why, dict)
        and isinstance(rule := why.get("routing_rule"), dict)
        and rule.get("name")
    ]
    if named:
        bind.execute(
            decisions.update()
            .where(decisions.c.id == sa.bindparam("key"))
            .values(routing_rule=sa.bindparam("name")),
            named,
        )


def downgrade() -> None:
    op.drop_index("ix_decisions_routing_rule", table_name="decisions")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("routing_rule")
