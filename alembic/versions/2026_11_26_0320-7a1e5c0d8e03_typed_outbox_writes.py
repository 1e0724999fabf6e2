"""typed outbox writes: the CRM, the kind, the target object and the fields in columns

Revision ID: 7a1e5c0d8e03
Revises: 7a1e5c0d8e02
Create Date: 2026-11-26 03:20:00

``outbox_writes.connector`` becomes ``crm``; the JSON ``properties`` (the owner field, the
Salesforce ``sobject`` and ``owner_before``) is split into ``kind``, ``sobject``, ``fields``
(exactly the CRM fields to set), ``owner_before`` and ``before_known``. Every row is kept:
every write before this revision is an owner write.
"""

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from alembic import op

revision: str = "7a1e5c0d8e03"
down_revision: str | None = "7a1e5c0d8e02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HUBSPOT_OBJECT = "contact"  # the only HubSpot object written before this revision
CHUNK = 1000

writes = sa.table(
    "outbox_writes",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("last_error", sa.Text),
    sa.column("sobject", sa.String),
    sa.column("properties", sa.JSON),
    sa.column("fields", sa.JSON),
    sa.column("owner_before", sa.String),
    sa.column("before_known", sa.Boolean),
)


def upgrade() -> None:
    with op.batch_alter_table("outbox_writes", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_writes_record")
        batch_op.alter_column(
            "connector", new_column_name="crm", existing_type=sa.String(32), existing_nullable=False
        )
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("sobject", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("fields", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("owner_before", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("before_known", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    _split_properties()
    with op.batch_alter_table("outbox_writes", schema=None) as batch_op:
        batch_op.alter_column("kind", existing_type=sa.String(16), nullable=False)
        batch_op.alter_column("sobject", existing_type=sa.String(64), nullable=False)
        batch_op.alter_column("fields", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("properties")
        batch_op.create_index("ix_outbox_writes_record", ["crm", "object_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox_writes", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_writes_record")
        batch_op.add_column(sa.Column("properties", sa.JSON(), nullable=True))
    _join_properties()
    with op.batch_alter_table("outbox_writes", schema=None) as batch_op:
        batch_op.alter_column("properties", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("before_known")
        batch_op.drop_column("owner_before")
        batch_op.drop_column("fields")
        batch_op.drop_column("sobject")
        batch_op.drop_column("kind")
        batch_op.alter_column(
            "crm", new_column_name="connector", existing_type=sa.String(32), existing_nullable=False
        )
    with op.batch_alter_table("outbox_writes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_writes_record", ["connector", "object_id", "id"], unique=False
        )


def _rows(*columns: Any) -> Iterator[Sequence[Any]]:
    """Every write, a chunk at a time (the table keeps every write ever queued)."""
    conn = op.get_bind()
    last = 0
    while True:
        chunk = conn.execute(
            sa.select(writes.c.id, *columns)
            .where(writes.c.id > last)
            .order_by(writes.c.id)
            .limit(CHUNK)
        ).all()
        if not chunk:
            return
        yield chunk
        last = chunk[-1][0]


def _split_properties() -> None:
    conn = op.get_bind()
    for chunk in _rows(writes.c.properties):
        values = []
        for wid, props in chunk:
            fields = dict(props or {})
            sobject = fields.pop("sobject", None) or HUBSPOT_OBJECT  # HubSpot's had none
            known = "owner_before" in fields
            before = fields.pop("owner_before", None)
            values.append(
                {
                    "_id": wid,
                    "kind": "owner",
                    "sobject": sobject,
                    "fields": fields,  # what is left: the owner field alone
                    "owner_before": str(before) if before else None,
                    "before_known": known,
                }
            )
        conn.execute(
            writes.update()
            .where(writes.c.id == sa.bindparam("_id"))
            .values(
                kind=sa.bindparam("kind"),
                sobject=sa.bindparam("sobject"),
                fields=sa.bindparam("fields", type_=sa.JSON),
                owner_before=sa.bindparam("owner_before"),
                before_known=sa.bindparam("before_known"),
            ),
            values,
        )


def _join_properties() -> None:
    conn = op.get_bind()
    # A fields write has no form before this revision (the old outbox would send it as an
    # owner write with no owner): one not yet written is settled as superseded, never sent.
    conn.execute(
        writes.update()
        .where(writes.c.kind != "owner", writes.c.status != "done")
        .values(
            status="superseded",
            last_error="superseded: fields writes are unknown before revision 7a1e5c0d8e03",
        )
    )
    for chunk in _rows(
        writes.c.sobject, writes.c.fields, writes.c.owner_before, writes.c.before_known
    ):
        values = []
        for wid, sobject, fields, before, known in chunk:
            props = dict(fields or {})
            if sobject != HUBSPOT_OBJECT:
                props["sobject"] = sobject
            if known:
                props["owner_before"] = before
            values.append({"_id": wid, "properties": props})
        conn.execute(
            writes.update()
            .where(writes.c.id == sa.bindparam("_id"))
            .values(properties=sa.bindparam("properties", type_=sa.JSON)),
            values,
        )
