"""How a CRM error is handled: retry it, ask an admin to act, or treat it as a bug of ours.

Every connector raises only these, so the worker can decide without knowing the vendor.
"""

from __future__ import annotations

import time
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


# The category of a RetryableError raised when no HTTP answer came back (a reset, a timeout, a
# truncated body): a read can simply be tried again, a write may or may not have landed.
NO_ANSWER = "NO_ANSWER"


# The category of a RetryableError raised instead of sending a write the worker's lease would
# not cover to its end: another worker could take the write meanwhile and send it too.
LEASE_ENDING = "LEASE_ENDING"


# How long one call may last, in call timeouts: a timeout bounds the connection and each read
# separately, so a call can take about twice its timeout before it gives up.
CALL_BOUND = 2.0
# Answers from a gateway in front of the CRM: the request may have reached the CRM and landed.
GATEWAY_STATUSES = frozenset({502, 504})


def retry_inline(exc: BaseException, *, write: bool) -> bool:
    """Whether a connector may retry this error inside the same call. A write whose outcome
    is unknown (no answer, or a gateway's 502/504) is not retried blind: the outbox re-reads
    the record first, so that a write which did land is confirmed instead of sent twice."""
    if not isinstance(exc, RetryableError) or exc.category == LEASE_ENDING:
        return False
    unknown = exc.category == NO_ANSWER or exc.status in GATEWAY_STATUSES
    return not (write and unknown)


def handed_back(exc: CrmError, *, write: bool, timeout: float) -> CrmError:
    """A write that got no answer may still land: whoever takes it again re-reads the record no
    sooner than one call timeout from now, when a request still in flight has had its chance."""
    if write and exc.category == NO_ANSWER:
        exc.retry_after = max(exc.retry_after or 0.0, timeout)
    return exc


def check_deadline(deadline: float | None, needed: float) -> None:
    """Refuse to start a write that could still be under way at ``deadline`` (a
    ``time.monotonic()`` value: when the worker's lease on it ends). Past it another worker
    may send the same write: one sender at a time is what makes a write land once."""
    if deadline is not None and time.monotonic() + needed > deadline:
        raise RetryableError(
            "not sent: the worker's lease would end before this call could finish; the "
            "outbox takes the write again, re-reading the record first",
            category=LEASE_ENDING,
        )


class QuotaExhausted(CrmError):
    """The CRM's daily API allocation is spent: stop calling it until the quota resets."""

    kind = ErrorKind.ADMIN


class AdminActionRequired(CrmError):
    """The CRM refused our configuration (credentials, scopes, owner ids): an admin must act."""

    kind = ErrorKind.ADMIN


class IntegrationBug(CrmError):
    """The CRM rejected our request as malformed: a bug in Relais or an unexpected API change."""

    kind = ErrorKind.BUG
