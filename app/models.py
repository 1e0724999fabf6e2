"""Imports every table so that ``SQLModel.metadata`` (migrations, alembic check) sees them all."""

from app.decisions.models import Assignment, Decision
from app.inbox.models import ConnectorPause, InboxEvent, RecordLease
from app.links.models import CrmLink
from app.outbox.models import OutboxWrite
from app.routing.models import RotationMember, RotationPool

__all__ = [
    "Assignment",
    "ConnectorPause",
    "CrmLink",
    "Decision",
    "InboxEvent",
    "OutboxWrite",
    "RecordLease",
    "RotationMember",
    "RotationPool",
]
