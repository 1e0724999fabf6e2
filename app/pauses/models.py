from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from app.db import CrmType, UTCDateTime
from connectors.crm import Crm


class CrmPause(SQLModel, table=True):
    """A CRM that refused for a while (quota spent, credentials revoked): what goes to it or
    comes from it waits, without spending an attempt, until ``paused_until``."""

    __tablename__ = "crm_pauses"

    crm: Crm = Field(sa_column=Column(CrmType(), primary_key=True))
    paused_until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
