from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db import insert_ignoring_conflicts, table_of
from app.links.models import CrmLink
from connectors.crm import RecordKey


class LinkRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def counterparts(self, records: Sequence[RecordKey]) -> dict[RecordKey, RecordKey]:
        """record -> the linked record on the other CRM, for records already linked."""
        found = self._counterparts([str(k) for k in records])
        return {RecordKey.parse(k): RecordKey.parse(v) for k, v in found.items()}

    def _counterparts(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        rows = self.session.scalars(
            select(CrmLink).where(
                or_(
                    col(CrmLink.hubspot_key).in_(list(keys)),
                    col(CrmLink.salesforce_key).in_(list(keys)),
                )
            )
        ).all()
        out: dict[str, str] = {}
        for link in rows:
            out[link.hubspot_key] = link.salesforce_key
            out[link.salesforce_key] = link.hubspot_key
        return {k: v for k, v in out.items() if k in set(keys)}

    def add(self, link: CrmLink) -> bool:
        """Store a link unless either side is linked already; True when stored."""
        table = table_of(CrmLink)
        values = {c.name: getattr(link, c.name) for c in table.c}
        if self._counterparts([link.hubspot_key, link.salesforce_key]):
            return False
        return bool(insert_ignoring_conflicts(self.session, table, [values], ["hubspot_key"]))
