"""reps paused by an admin, each pool member's deficit (weighted pools), assignments by time

Revision ID: 7a1e5c0d8e06
Revises: 7a1e5c0d8e05
Create Date: 2026-11-26 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "7a1e5c0d8e06"
down_revision: str | None = "7a1e5c0d8e05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rep_pauses",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_rep_pauses")),
    )
    with op.batch_alter_table("rotation_members") as batch:
        batch.add_column(sa.Column("deficit", sa.Float(), server_default="0", nullable=False))
    op.create_index("ix_assignments_assigned_at", "assignments", ["assigned_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_assignments_assigned_at", table_name="assignments")
    with op.batch_alter_table("rotation_members") as batch:
        batch.drop_column("deficit")
    op.drop_table("rep_pauses")
