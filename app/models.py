"""Every table of Relais, so that ``metadata()`` (migrations, alembic check) sees them all."""

from sqlalchemy import MetaData
from sqlmodel import SQLModel

from app.decisions.models import Assignment, Decision
from app.enrichment.models import EnrichmentCacheEntry
from app.evaluations.models import LeadEvaluation
from app.inbox.models import InboxEvent, RecordLease
from app.links.models import CrmLink
from app.outbox.models import OutboxWrite
from app.pauses.models import CrmPause
from app.reps.models import RepPause
from app.rescore.models import RescoreRun
from app.routing.models import RotationMember, RotationPool


def metadata() -> MetaData:
    """The metadata holding every table above (the tables register themselves on import)."""
    return SQLModel.metadata


__all__ = [
    "Assignment",
    "CrmLink",
    "CrmPause",
    "Decision",
    "EnrichmentCacheEntry",
    "InboxEvent",
    "LeadEvaluation",
    "OutboxWrite",
    "RecordLease",
    "RepPause",
    "RescoreRun",
    "RotationMember",
    "RotationPool",
    "metadata",
]
