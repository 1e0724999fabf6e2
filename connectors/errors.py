"""CRM errors and the one table saying what to do about each.

Every connector raises only these errors, classified from the vendor's answer (retry, an
admin must act, a bug of ours), and returns per-record write failures as ``UpdateFailure``.
``resolve`` maps each to one ``Resolution``: retry (with a delay), pause the CRM (for how
long), dead-letter, or hand back unsent. The worker and the outbox only read the resolution:
nothing above ``connectors/`` matches vendor codes or HTTP statuses.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

from connectors.crm import Crm
from connectors.results import UpdateFailure


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
        crm: Crm | None = None,
    ) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
        self.crm = crm  # which CRM said it (set by the connector that raises)
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


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A ``Retry-After`` header in seconds: delta-seconds (``"7"``, tolerated ``"1.5"``) or an
    HTTP date; None when absent or unreadable (then our own back-off applies)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


# -- what to do about each error: the one table ----------------------------------------------


class Action(StrEnum):
    RETRY = "retry"  # again after the queue's back-off, or the CRM's Retry-After if longer
    PAUSE = "pause"  # stop calling the CRM for ``pause``; what waits keeps its attempts
    DEAD_LETTER = "dead_letter"  # retrying cannot help: set aside, with what to do, for a person
    HAND_BACK = "hand_back"  # nothing was sent: back to the queue now, the attempt not counted


@dataclass(frozen=True)
class Resolution:
    action: Action
    reason: str  # one line: what happened, and what an admin must do when one must
    retry_after: float = 0.0  # RETRY: the least wait in seconds (the queue caps it at a day)
    pause: timedelta = timedelta(0)  # PAUSE: how long the CRM is left alone
    gone: bool = False  # the record cannot be written again (deleted, merged, converted)


# Credentials refused: checked again this often, so a fixed token works within minutes.
ADMIN_PAUSE = timedelta(minutes=5)

# Per-record write failures that no retry can fix, with what must happen first.
FINAL_RECORD_ERRORS = {
    # HubSpot: the contact was deleted or merged into another; there is nothing to write to.
    "OBJECT_NOT_FOUND": "the record no longer exists in the CRM",
    # Salesforce: deleted, or merged into another record.
    "ENTITY_IS_DELETED": "the record was deleted in Salesforce",
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": "a validation rule of the org refuses the value: "
    "change the rule or the record, then replay",
    "INVALID_CROSS_REFERENCE_KEY": "the owner (or a lookup) id does not exist in the org: "
    "fix the rep's user in team.yaml or Salesforce, then replay",
    "INACTIVE_OWNER_OR_USER": "the owner is an inactive user: reactivate them or take them "
    "out of team.yaml, then replay",
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": "the integration user cannot see the "
    "owner or the record: grant it access, then replay",
    "INSUFFICIENT_ACCESS_OR_READONLY": "the integration user may not edit this record: "
    "grant it access, then replay",
    "FIELD_INTEGRITY_EXCEPTION": "the field refuses this value (an owner type the object does "
    "not take, a bad reference): fix the mapping, then replay",
    "REQUIRED_FIELD_MISSING": "the record lacks a required field: complete it, then replay",
    # An org's Flow fails on every update of this record until the Flow is fixed.
    "CANNOT_EXECUTE_FLOW_TRIGGER": "a Flow of the org failed on this update: fix the Flow, "
    "then replay",
    # Once converted, a Lead is read-only: its Contact is the record to route.
    "CANNOT_UPDATE_CONVERTED_LEAD": "the Lead was converted and can no longer be updated",
}
# Of those, the ones saying the record itself is gone for good: nothing will be written to it.
RECORD_GONE = {"OBJECT_NOT_FOUND", "ENTITY_IS_DELETED", "CANNOT_UPDATE_CONVERTED_LEAD"}


def resolve(error: CrmError | UpdateFailure, *, quota_pause: timedelta) -> Resolution:
    """What to do about ``error``: a failed call (``CrmError``) or one record a batch write
    refused (``UpdateFailure``). ``quota_pause``: how long a spent daily quota pauses the CRM
    (configured: when the quota resets depends on the account)."""
    if isinstance(error, UpdateFailure):
        hint = FINAL_RECORD_ERRORS.get(error.category or "")
        if hint is not None:
            gone = error.category in RECORD_GONE
            return Resolution(Action.DEAD_LETTER, f"{error.message} ({hint})", gone=gone)
        # Locked rows, a later collection of a batch that failed, one record HubSpot refused
        # alone: worth another try, and the attempts bound it.
        return Resolution(Action.RETRY, error.message)
    reason = str(error)
    if error.category == LEASE_ENDING:
        # Refused before sending: the item was not tried, so the attempt does not count.
        return Resolution(Action.HAND_BACK, reason)
    if isinstance(error, QuotaExhausted):
        # Every call would be refused until the quota resets: stop calling, keep the attempts.
        return Resolution(Action.PAUSE, reason, pause=quota_pause)
    if error.kind is ErrorKind.ADMIN and error.status in (401, 403):
        # Credentials or scopes refused: nothing can be read or written until an admin fixes
        # them, so the CRM pauses instead of every item spending its attempts.
        return Resolution(Action.PAUSE, reason, pause=ADMIN_PAUSE)
    if error.kind is ErrorKind.BUG:
        # The same request would be refused the same way: keep it, with the CRM's words.
        return Resolution(Action.DEAD_LETTER, reason)
    # Transient, or an admin error about this batch only (an unknown owner id, a field): back
    # off; an admin may fix the mapping meanwhile, and the attempts bound it.
    return Resolution(Action.RETRY, reason, retry_after=error.retry_after or 0.0)
