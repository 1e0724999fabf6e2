from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime
from connectors.crm import Crm


class CrmLink(SQLModel, table=True):
    """A HubSpot contact and the Salesforce record of the same person (each side once)."""

    __tablename__ = "crm_links"

    hubspot_key: str = Field(sa_column=Column(String(128), primary_key=True))
    salesforce_key: str = Field(sa_column=Column(String(128), nullable=False, unique=True))
    method: str = Field(sa_column=Column(String(32), nullable=False))  # stored_id | email
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# The column holding each CRM's side of a link.
LINK_COLUMNS = {Crm.HUBSPOT: "hubspot_key", Crm.SALESFORCE: "salesforce_key"}
