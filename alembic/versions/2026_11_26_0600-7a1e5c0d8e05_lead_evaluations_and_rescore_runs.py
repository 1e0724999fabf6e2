"""lead evaluations (the latest per record, what rescoring starts from) and rescoring runs

Revision ID: 7a1e5c0d8e05
Revises: 7a1e5c0d8e04
Create Date: 2026-11-26 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "7a1e5c0d8e05"
down_revision: str | None = "7a1e5c0d8e04"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lead_evaluations",
        sa.Column("record_key", sa.String(length=128), nullable=False),
        sa.Column("lead", sa.JSON(), nullable=False),
        sa.Column("sides", sa.JSON(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("written", sa.JSON(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mappings_version", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("record_key", name=op.f("pk_lead_evaluations")),
    )
    op.create_table(
        "rescore_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor", sa.String(length=128), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("scanned", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("routed", sa.Integer(), nullable=False),
        sa.Column("busy", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rescore_runs")),
        sa.UniqueConstraint("name", name=op.f("uq_rescore_runs_name")),
    )


def downgrade() -> None:
    op.drop_table("rescore_runs")
    op.drop_table("lead_evaluations")
