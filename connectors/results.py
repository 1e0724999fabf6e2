"""What a batch write to a CRM answers, the same for every connector: the records it updated
and, for each record it refused, why (the record's own error, not the call's)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class UpdateFailure:
    """One record the CRM refused. ``category``: the CRM's code for it (``OBJECT_NOT_FOUND``,
    ``FIELD_CUSTOM_VALIDATION_EXCEPTION`` ...); ``connectors.errors.resolve_record`` says what
    to do about it, so nothing above the connectors reads these codes."""

    id: str
    message: str
    category: str | None = None


@dataclass
class UpdateResult:
    updated: list[str] = field(default_factory=list)  # ids the CRM confirmed
    failed: list[UpdateFailure] = field(default_factory=list)


__all__ = ["UpdateFailure", "UpdateResult"]
