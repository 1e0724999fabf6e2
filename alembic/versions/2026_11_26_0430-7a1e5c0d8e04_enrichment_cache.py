"""enrichment cache: providers' answers (the company register's) kept with their time

Revision ID: 7a1e5c0d8e04
Revises: 7a1e5c0d8e03
Create Date: 2026-11-26 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "7a1e5c0d8e04"
down_revision: str | None = "7a1e5c0d8e03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "enrichment_cache",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "key", name=op.f("pk_enrichment_cache")),
    )


def downgrade() -> None:
    op.drop_table("enrichment_cache")
