"""One table says what to do about each CRM error: every answer the connectors classify, and
every per-record write failure, maps to retry (delay), pause (duration), dead-letter or hand
back unsent. The worker and the outbox only read the resolution."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.errors import (
    ADMIN_PAUSE,
    FINAL_RECORD_ERRORS,
    LEASE_ENDING,
    NO_ANSWER,
    Action,
    AdminActionRequired,
    CrmError,
    IntegrationBug,
    RetryableError,
    resolve,
)
from connectors.hubspot.client import classify as hubspot_classify
from connectors.results import UpdateFailure
from connectors.salesforce.client import classify as salesforce_classify

QUOTA_PAUSE = timedelta(hours=1)
ROOT = Path(__file__).resolve().parents[2]


def hubspot(status: int, body: dict[str, str], retry_after: str | None = None) -> CrmError:
    return hubspot_classify(status, body, {"Retry-After": retry_after} if retry_after else {})


def salesforce(status: int, code: str | None, message: str = "refused") -> CrmError:
    body = [{"errorCode": code, "message": message}] if code else "<html>bad gateway</html>"
    return salesforce_classify(status, body)


CALL_ERRORS = [
    # (what the CRM said, the error, action, least retry delay, pause)
    ("HubSpot daily quota", hubspot(429, {"policyName": "DAILY"}), Action.PAUSE, 0, QUOTA_PAUSE),
    (
        "Salesforce 24-hour allocation (a 403, yet no credentials problem)",
        salesforce(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
        Action.PAUSE,
        0,
        QUOTA_PAUSE,
    ),
    ("HubSpot token refused", hubspot(401, {}), Action.PAUSE, 0, ADMIN_PAUSE),
    ("HubSpot scope missing", hubspot(403, {}), Action.PAUSE, 0, ADMIN_PAUSE),
    (
        "Salesforce session refused",
        salesforce(401, "INVALID_SESSION_ID"),
        Action.PAUSE,
        0,
        ADMIN_PAUSE,
    ),
    ("Salesforce permission", salesforce(403, "INSUFFICIENT_ACCESS"), Action.PAUSE, 0, ADMIN_PAUSE),
    (
        "HubSpot 10-second window without Retry-After: wait the window",
        hubspot(429, {"policyName": "TEN_SECONDLY_ROLLING"}),
        Action.RETRY,
        10,
        None,
    ),
    ("HubSpot Retry-After honoured", hubspot(503, {}, "42"), Action.RETRY, 42, None),
    ("HubSpot 500", hubspot(500, {}), Action.RETRY, 0, None),
    (
        "Salesforce concurrency limit",
        salesforce(403, "REQUEST_LIMIT_EXCEEDED"),
        Action.RETRY,
        5,
        None,
    ),
    ("Salesforce gateway page", salesforce(502, None), Action.RETRY, 0, None),
    ("Salesforce row lock", salesforce(400, "UNABLE_TO_LOCK_ROW"), Action.RETRY, 0, None),
    (
        "HubSpot unknown owner id: an admin fixes the mapping while the attempts last",
        hubspot(400, {"message": "INVALID_OWNER_ID: 9 was not a valid owner ID"}),
        Action.RETRY,
        0,
        None,
    ),
    ("Salesforce unknown field", salesforce(400, "INVALID_FIELD"), Action.RETRY, 0, None),
    (
        "a certificate we do not trust (no HTTP status)",
        AdminActionRequired("set RELAIS_SALESFORCE_CA_BUNDLE"),
        Action.RETRY,
        0,
        None,
    ),
    (
        "HubSpot refuses our request",
        hubspot(400, {"message": "bad input"}),
        Action.DEAD_LETTER,
        0,
        None,
    ),
    ("Salesforce malformed query", salesforce(400, "MALFORMED_QUERY"), Action.DEAD_LETTER, 0, None),
    ("Salesforce unknown error code", salesforce(404, "NOT_FOUND"), Action.DEAD_LETTER, 0, None),
    (
        "a write that got no answer: re-read no sooner than one timeout",
        RetryableError("reset", category=NO_ANSWER, retry_after=10.0),
        Action.RETRY,
        10,
        None,
    ),
    (
        "the lease would end before the call: not sent, not counted",
        RetryableError("lease", category=LEASE_ENDING),
        Action.HAND_BACK,
        0,
        timedelta(0),
    ),
]


@pytest.mark.parametrize(
    ("said", "error", "action", "delay", "pause"), CALL_ERRORS, ids=[c[0] for c in CALL_ERRORS]
)
def test_given_a_crm_error_when_resolved_then_one_action_says_what_to_do(
    said: str, error: CrmError, action: Action, delay: float, pause: timedelta | None
) -> None:
    resolution = resolve(error, quota_pause=QUOTA_PAUSE)
    assert resolution.action is action, said
    assert resolution.retry_after == delay
    if pause is not None:
        assert resolution.pause == pause
    assert resolution.reason == str(error)  # the CRM's words, and what an admin must do


def test_given_credentials_refused_then_the_reason_says_what_the_admin_must_fix() -> None:
    resolution = resolve(hubspot(401, {}), quota_pause=QUOTA_PAUSE)
    assert "RELAIS_HUBSPOT_ACCESS_TOKEN" in resolution.reason


RECORD_FAILURES = [
    *[(code, Action.DEAD_LETTER) for code in sorted(FINAL_RECORD_ERRORS)],
    ("UNABLE_TO_LOCK_ROW", Action.RETRY),  # still locked after the connector's own retries
    ("REQUEST_LIMIT_EXCEEDED", Action.RETRY),  # a later collection of a batch that failed
    ("VALIDATION_ERROR", Action.RETRY),  # one record HubSpot refused alone
    ("INVALID_OWNER_ID", Action.RETRY),
    (None, Action.RETRY),
]


@pytest.mark.parametrize(("code", "action"), RECORD_FAILURES)
def test_given_a_record_a_batch_write_refused_then_final_codes_are_dead_lettered_at_once(
    code: str | None, action: Action
) -> None:
    failure = UpdateFailure("00Q1", f"{code} on Lead 00Q1: the CRM's words", code)
    resolution = resolve(failure, quota_pause=QUOTA_PAUSE)
    assert resolution.action is action
    assert resolution.reason.startswith(failure.message)
    if code in FINAL_RECORD_ERRORS:
        assert FINAL_RECORD_ERRORS[code] in resolution.reason  # what must happen first
    assert resolution.retry_after == 0  # the queue's back-off


def test_every_final_record_error_says_what_must_happen() -> None:
    assert all(len(hint) > 20 for hint in FINAL_RECORD_ERRORS.values())


def test_the_bug_class_is_dead_lettered_and_the_admin_class_without_status_retried() -> None:
    assert resolve(IntegrationBug("x"), quota_pause=QUOTA_PAUSE).action is Action.DEAD_LETTER
    assert resolve(AdminActionRequired("x"), quota_pause=QUOTA_PAUSE).action is Action.RETRY


VENDOR_WORDS = {*FINAL_RECORD_ERRORS, "UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "DAILY"}
ERROR_CLASSES = {"QuotaExhausted", "AdminActionRequired", "IntegrationBug", "ErrorKind"}


@pytest.mark.parametrize("module", ["app/outbox", "app/worker"])
def test_the_worker_and_the_outbox_read_resolutions_not_vendor_codes(module: str) -> None:
    for path in sorted((ROOT / module).glob("*.py")):
        tree = ast.parse(path.read_text())
        constants = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert not constants & (VENDOR_WORDS | {401, 403}), path
        assert not names & ERROR_CLASSES, path
