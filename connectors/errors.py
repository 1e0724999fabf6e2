"""How a CRM error is handled: retry it, ask an admin to act, or treat it as a bug of ours.

Every connector raises only these, so the worker can decide without knowing the vendor.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    RETRY = "retry"  # transient: rate limit, 5xx, timeout, connection reset
    ADMIN = "admin_must_act"  # configuration: bad token, missing scope, unknown owner
    BUG = "bug"  # our request was wrong: retrying the same request cannot help


class CrmError(Exception):
    """A CRM call failed."""

    kind: ErrorKind = ErrorKind.BUG

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        category: str | None = None,
        retry_after: float | None = None,
        connector: str | None = None,
    ) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
        self.connector = connector  # which CRM said it (set by the connector that raises)
        self.status = status
        self.category = category
        self.retry_after = retry_after

    def __str__(self) -> str:
        head = f"[{self.kind}]"
        if self.status is not None:
            head += f" HTTP {self.status}"
        if self.category:
            head += f" {self.category}"
        return f"{head}: {self.args[0]}"


class RetryableError(CrmError):
    """The CRM is temporarily unavailable or rate limiting us; the call can be retried."""

    kind = ErrorKind.RETRY


class QuotaExhausted(CrmError):
    """The CRM's daily API allocation is spent: stop calling it until the quota resets."""

    kind = ErrorKind.ADMIN


class AdminActionRequired(CrmError):
    """The CRM refused our configuration (credentials, scopes, owner ids): an admin must act."""

    kind = ErrorKind.ADMIN


class IntegrationBug(CrmError):
    """The CRM rejected our request as malformed: a bug in Relais or an unexpected API change."""

    kind = ErrorKind.BUG
