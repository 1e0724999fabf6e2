from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, String
from sqlmodel import Field, SQLModel


class RotationPool(SQLModel, table=True):
    """One row per pool; locking it serialises assignments in that pool across workers."""

    __tablename__ = "rotation_pools"

    pool: str = Field(sa_column=Column(String(128), primary_key=True))
    seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class RotationMember(SQLModel, table=True):
    """Per-member state (not a list position), so a pause or a new rep shifts nobody else."""

    __tablename__ = "rotation_members"

    pool: str = Field(sa_column=Column(String(128), primary_key=True))
    member: str = Field(sa_column=Column(String(320), primary_key=True))
    assigned_count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    last_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    seen_seq: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    # Weighted pools: the shares the member accrued minus the leads it received (pools.py).
    deficit: float = Field(default=0.0, sa_column=Column(Float, nullable=False, server_default="0"))
