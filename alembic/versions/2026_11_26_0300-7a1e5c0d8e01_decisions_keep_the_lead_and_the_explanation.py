"""decisions keep the lead they were made on and their structured explanation

Revision ID: 7a1e5c0d8e01
Revises: 6d4d8ea76f4f
Create Date: 2026-11-26 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a1e5c0d8e01"
down_revision: str | None = "6d4d8ea76f4f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: decisions made before this revision have neither (they cannot be replayed).
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lead", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("explanation", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("explanation")
        batch_op.drop_column("lead")
