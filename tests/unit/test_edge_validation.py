"""The webhook edge's rules (app/webhooks/edge.py) and the Salesforce notification checks,
as tables: what passes, and for what fails, the reason naming the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from app.inbox.salesforce_events import SfNotification, parse_flow_event, parse_outbound
from app.queue import Status
from app.webhooks.edge import (
    RAW_CAP_CHARS,
    Invalid,
    LongInteger,
    RejectedEvent,
    UnreadableBody,
    check_tree,
    decimal_id,
    digest,
    epoch_ms,
    int_or_token,
    join,
    load_json,
    metric_label,
    reject,
    scalar,
    sf_record_id,
    show,
)
from connectors.crm import Crm


def reason(rule: Any, *args: Any) -> str | None:
    """The message of the Invalid a rule raises, or None when the value passes."""
    try:
        rule(*args)
    except Invalid as exc:
        return str(exc)
    return None


# -- reading the body --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'[{"a": 1}]', [{"a": 1}]),
        (b'{"a": "\\u00e9"}', {"a": "é"}),
        (b'["\\ud800"]', ["\ud800"]),  # read; the event carrying it is rejected later
        (b"[1e400]", [float("inf")]),
        (b"[" + b"7" * 41 + b"]", [LongInteger("7" * 41)]),
        (b"[" + b"7" * 40 + b"]", [int("7" * 40)]),
        (b"[-" + b"7" * 5000 + b"]", [LongInteger("-" + "7" * 5000)]),
    ],
)
def test_load_json_reads_what_a_parser_can_read(body: bytes, expected: Any) -> None:
    assert load_json(body) == expected


def test_load_json_keeps_nan_for_the_event_check() -> None:
    value = load_json(b'{"v": NaN}')
    assert value["v"] != value["v"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff[]", "the body is not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"[1,", "malformed JSON"),
        (b"\xef\xbb\xbf[]", "malformed JSON"),  # a byte order mark
        (b"", "malformed JSON"),
        (b"[1] [2]", "malformed JSON"),
    ],
)
def test_load_json_says_why_a_body_cannot_be_read(body: bytes, message: str) -> None:
    with pytest.raises(UnreadableBody, match=message):
        load_json(body)


# -- generic checks ---------------------------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": "text", "b": [1, 2.5, None, True], "c": {"d": ""}}, None),
        ({"a": "x" * 131_072}, None),
        ({"a": "x" * 131_073}, "a: 131073 characters, more than 131072"),
        ({"a": "b\x00"}, "a: contains a NUL character"),
        ({"a": ["ok", "\udc00"]}, "a[1]: contains a lone surrogate (U+DC00)"),
        ({"a": "\U0001f600"}, None),  # a real astral character is no surrogate
        ({"a": float("nan")}, "a: NaN is not a finite number"),
        ({"a": {"b": float("-inf")}}, "a.b: -Infinity is not a finite number"),
        ({"a": LongInteger("1" * 50)}, "a: an integer of 50 digits is out of range"),
        ({"k\x00": 1}, "event: a key ('k\\x00'): contains a NUL character"),
        ({"k" * 300: 1}, "event: a key ('kkkkkkkkkkkkkkkkkkkkkkkkkkkkkk'... (300 characters)): "),
        ({"odd key": {"x": "\x00"}}, "event['odd key'].x: contains a NUL character"),
        ({"a": nested(15)}, None),
        ({"a": nested(16)}, "a[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: nested deeper"),
        ("\x00", "event: contains a NUL character"),
        ({"a": 2**63 - 1, "b": -(2**63) + 1}, None),
        ({"a": 2**70}, "a: 1180591620717411303424 is outside 64-bit integers"),
        ({"a": -(2**64)}, "a: -18446744073709551616 is outside 64-bit integers"),
    ],
)
def test_check_tree(value: Any, expected: str | None) -> None:
    got = reason(check_tree, value)
    assert (got is None) if expected is None else (got is not None and got.startswith(expected))


# -- field rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, None),
        ("123", None),
        (2**63 - 1, None),
        ("9223372036854775807", None),
        (0, "objectId: 0 is out of range (1 to 9223372036854775807)"),
        (2**63, "objectId: 9223372036854775808 is out of range"),
        ("9223372036854775808", "objectId: 9223372036854775808 is out of range"),
        (-4, "objectId: -4 is out of range"),
        ("١٢٣", "objectId: '١٢٣' is not an ASCII decimal number"),
        ("²", "objectId: '²' is not an ASCII decimal number"),
        ("", "objectId: '' is not an ASCII decimal number"),
        ("12 ", "objectId: '12 ' is not an ASCII decimal number"),
        ("-5", "objectId: '-5' is not an ASCII decimal number"),
        ("1" * 65, "objectId: 65 characters, more than 64"),
        (LongInteger("1" * 201), "objectId: an integer of 201 digits is out of range"),
        (True, "objectId: expected an integer or a string of digits, got a boolean"),
        (1.0, "objectId: expected an integer or a string of digits, got a number"),
        (None, "objectId: expected an integer or a string of digits, got null"),
        ({"id": 1}, "objectId: expected an integer or a string of digits, got a JSON object"),
    ],
)
def test_decimal_id(value: Any, expected: str | None) -> None:
    got = reason(decimal_id, "objectId", value)
    assert (got is None) if expected is None else (got is not None and got.startswith(expected))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, None),
        (4242, None),
        ("abc-12_3.x:y", None),
        (-1, "portalId: -1 is out of range (0 to 9223372036854775807)"),
        (2**63, "portalId: 9223372036854775808 is out of range"),
        (LongInteger("9" * 99), "portalId: an integer of 99 digits is out of range"),
        ("a b", "portalId: 'a b' is not an ASCII id (letters, digits, '_.:-')"),
        ("é", "portalId: 'é' is not an ASCII id"),
        ("x" * 65, "portalId: 65 characters, more than 64"),
        (1.5, "portalId: expected an integer or a short string, got a number"),
        ([1], "portalId: expected an integer or a short string, got a JSON array"),
    ],
)
def test_int_or_token(value: Any, expected: str | None) -> None:
    got = reason(int_or_token, "portalId", value)
    assert (got is None) if expected is None else (got is not None and got.startswith(expected))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_462_216_307_945, datetime(2016, 5, 2, 19, 11, 47, 945000, tzinfo=UTC)),
        (946_684_800_000, datetime(2000, 1, 1, tzinfo=UTC)),
        (946_684_799_999, "occurredAt: 946684799999 is not epoch milliseconds between 2000"),
        (10**15, "occurredAt: 1000000000000000 is not epoch milliseconds"),
        (1.5e12, "occurredAt: expected epoch milliseconds (an integer), got a number"),
        ("1462216307945", "occurredAt: expected epoch milliseconds (an integer), got a string"),
        (False, "occurredAt: expected epoch milliseconds (an integer), got a boolean"),
    ],
)
def test_epoch_ms(value: Any, expected: datetime | str) -> None:
    if isinstance(expected, datetime):
        assert epoch_ms("occurredAt", value) == expected
    else:
        got = reason(epoch_ms, "occurredAt", value)
        assert got is not None and got.startswith(expected)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("00Q5e00000Ld001", True),
        ("00Q5e00000Ld001EAB", True),
        ("00Q5e00000Ld00", False),
        ("00Q5e00000Ld001EA", False),
        ("00Q5e00000Ld001EABC", False),
        ("00Q5e00000Ld00\uff19EAB", False),
        ("00Q5e00000Ld0-1EAB", False),
        (18, False),
    ],
)
def test_sf_record_id(value: Any, ok: bool) -> None:
    got = reason(sf_record_id, "Id", value)
    assert (got is None) == ok, got


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("x" * 10, None),
        (None, None),
        (3.5, None),
        (False, None),
        ("x" * 11, "v: 11 characters, more than 10"),
        (float("inf"), "v: Infinity is not a finite number"),
        ({}, "v: expected a string, a number, a boolean or null, got a JSON object"),
        (LongInteger("1" * 41), "v: expected a string, a number, a boolean or null, got an"),
    ],
)
def test_scalar(value: Any, expected: str | None) -> None:
    got = reason(scalar, "v", value, 10)
    assert (got is None) if expected is None else (got is not None and got.startswith(expected))


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("abc", "'abc'"),
        ("a\x00b", "'a\\x00b'"),
        ("\ud800", "'\\ud800'"),
        ("y" * 50, "'" + "y" * 40 + "'... (50 characters)"),
        (None, "null"),
        (True, "true"),
        (float("nan"), "NaN"),
        (10**50, "1" + "0" * 39 + "... (51 characters)"),
        ({"a": 1}, "a JSON object"),
        (LongInteger("12345"), "an integer of 5 digits"),
    ],
)
def test_show_renders_values_short_and_printable(value: Any, shown: str) -> None:
    assert show(value) == shown
    assert show(value).isprintable()


@pytest.mark.parametrize(
    ("path", "key", "joined"),
    [
        ("", "objectId", "objectId"),
        ("fields", "Title", "fields.Title"),
        ("fields", "Owner.Email", "fields['Owner.Email']"),
        ("", "a\x00", "event['a\\x00']"),
        ("a", 3, "a[3]"),
    ],
)
def test_join_names_a_path_safely(path: str, key: str | int, joined: str) -> None:
    assert join(path, key) == joined


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("objectId", "objectId"),
        ("fields.Title", "fields"),
        ("sObject.Id", "sObject"),
        ("event", "event"),
        ("event['x']", "event"),
        ("whatever.the.sender.sent", "other"),
    ],
)
def test_metric_labels_come_from_our_field_names_only(field: str, label: str) -> None:
    known = {"objectId", "fields", "sObject"}
    assert metric_label(field, known) == label


# -- what is stored for a rejected event -------------------------------------------------------


def rejected_row(raw: Any) -> dict[str, Any]:
    rejection = reject(Crm.HUBSPOT, Invalid("objectId", "bad"), raw, {"objectId"})
    return rejection.row(datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    "raw",
    [
        {"v": "nul\x00", "s": "\ud800", "n": float("nan"), "i": float("-inf")},
        {"big": LongInteger("9" * 5000)},
        load_json(b"[" * 500 + b"]" * 500),
        "\x00" * 100,
        ["x" * 100_000],
    ],
)
def test_a_rejected_event_is_stored_as_bounded_ascii_that_no_database_refuses(raw: Any) -> None:
    row = rejected_row(raw)
    assert row["status"] == Status.REJECTED and row["record_key"] is None
    copy = row["payload"]["raw"]
    assert copy.isascii() and "\x00" not in copy and len(copy) <= RAW_CAP_CHARS
    json.dumps(row["payload"], allow_nan=False)  # plain JSON: strings and a boolean
    assert len(row["dedupe_key"]) == 64
    assert row["result"] == "rejected: objectId: bad"


def test_a_long_raw_event_is_cut_at_the_cap_and_says_so() -> None:
    row = rejected_row(["x" * 100_000])
    assert row["payload"]["raw_truncated"] is True
    assert len(row["payload"]["raw"]) == RAW_CAP_CHARS
    assert rejected_row({"a": 1})["payload"] == {
        "reason": "objectId: bad",
        "raw": '{"a":1}',
        "raw_truncated": False,
    }


def test_the_rejected_key_ignores_key_order_but_not_values() -> None:
    assert digest({"a": 1, "b": [2]}) == digest({"b": [2], "a": 1})
    assert digest({"a": 1}) != digest({"a": 2})
    assert digest({"a": float("nan")}) == digest({"a": float("nan")})


def test_a_long_reason_is_cut() -> None:
    rejection = reject(Crm.SALESFORCE, Invalid("f", "y" * 5000), {}, set())
    assert isinstance(rejection, RejectedEvent) and len(rejection.reason) == 1000


# -- Salesforce notifications -------------------------------------------------------------------

FLOW = {
    "eventId": "evt-1",
    "object": "Lead",
    "recordId": "00Q5e00000Ld001EAB",
    "changeType": "created",
    "occurredAt": "2026-03-01T10:00:00.000+0000",
    "fields": {"Email": "a@b.fr", "NumberOfEmployees": 120, "Address": {"city": "Nantes"}},
}


def test_a_good_flow_event_becomes_a_notification_of_its_record() -> None:
    parsed = parse_flow_event(FLOW)
    assert isinstance(parsed, SfNotification)
    assert parsed.dedupe_key == "flow:evt-1" and parsed.record_id == "00Q5e00000Ld001EAB"
    assert parsed.occurred_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    row = parsed.row(datetime(2026, 3, 1, tzinfo=UTC))
    assert row["status"] == Status.PENDING
    assert row["record_key"] == "salesforce:Lead:00Q5e00000Ld001EAB"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"eventId": "e" * 65}, "eventId: 65 characters, more than 64"),
        ({"eventId": None}, "eventId: missing"),
        ({"eventId": ""}, "eventId: missing"),
        ({"eventId": 2**70}, "eventId: 1180591620717411303424 is out of range"),
        ({"object": None}, "object: missing"),
        ({"object": "Lead__c; x"}, "object: 'Lead__c; x' is not an object API name"),
        ({"object": "O" * 65}, "object: 65 characters, more than 64"),
        ({"recordId": "00Q"}, "recordId: '00Q' is not a Salesforce id"),
        ({"recordId": None}, "recordId: missing: a Lead notification names its record"),
        ({"changeType": "créé"}, "changeType: 'créé' is not a change type"),
        ({"occurredAt": "soon"}, "occurredAt: 'soon' is not an ISO 8601 date-time"),
        ({"occurredAt": 5}, "occurredAt: 5 is not epoch milliseconds"),
        ({"fields": "x"}, "fields: expected a JSON object, got a string"),
        ({"fields": {"Bad Name": 1}}, "fields: 'Bad Name' is not a field API name"),
        ({"fields": {"T": "\x00"}}, "fields.T: contains a NUL character"),
        ({"fields": {"T": float("nan")}}, "fields.T: NaN is not a finite number"),
        ({"extra": "\udfff"}, "extra: contains a lone surrogate (U+DFFF)"),
    ],
)
def test_a_bad_flow_event_is_rejected_with_the_field_named(
    change: dict[str, Any], expected: str
) -> None:
    parsed = parse_flow_event({**FLOW, **change})
    assert isinstance(parsed, RejectedEvent), parsed
    assert parsed.reason.startswith(expected), parsed.reason


def test_a_flow_event_without_record_id_uses_the_id_of_its_fields() -> None:
    event = {**FLOW, "recordId": None, "fields": {"Id": "00Q5e00000Ld001"}}
    parsed = parse_flow_event(event)
    assert isinstance(parsed, SfNotification) and parsed.record_id == "00Q5e00000Ld001"
    bad = parse_flow_event({**event, "fields": {"Id": "00Q-"}})
    assert isinstance(bad, RejectedEvent) and bad.reason.startswith("fields.Id: '00Q-' is not")


def test_a_flow_event_about_an_object_not_routed_is_ignored_not_rejected() -> None:
    parsed = parse_flow_event({**FLOW, "object": "Account", "recordId": None})
    assert isinstance(parsed, SfNotification)
    row = parsed.row(datetime(2026, 3, 1, tzinfo=UTC))
    assert row["status"] == Status.IGNORED and "not routed" in row["result"]


def test_a_long_notification_id_still_fits_the_inbox_key() -> None:
    parsed = parse_flow_event({**FLOW, "eventId": "e" * 64})
    assert isinstance(parsed, SfNotification)
    assert len(parsed.dedupe_key) == 64 and parsed.dedupe_key.startswith("flow#")


OUTBOUND = {
    "Id": "04l5e00000Abc01AAB",
    "ActionId": "04k5e000000PTfbAAG",
    "sObject": {"type": "Lead", "fields": {"Id": "00Q5e00000Ld001EAB", "Title": "DRH"}},
}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, None),
        ({"Id": "I" * 300}, "Id: 300 characters, more than 64"),
        ({"Id": None}, "Id: missing"),
        ({"ActionId": "a b"}, "ActionId: 'a b' is not an ASCII id"),
        ({"sObject": None}, "sObject: missing"),
        ({"sObject": {"type": None, "fields": {}}}, "sObject.type: missing"),
        (
            {"sObject": {"type": "Lead", "fields": {"Id": "00Q5e00000Ld001EAB", "Tï": "x"}}},
            "sObject: 'Tï' is not a field API name",
        ),
        (
            {"sObject": {"type": "Lead", "fields": {"Id": "00Q5e0", "Title": "x"}}},
            "sObject.Id: '00Q5e0' is not a Salesforce id",
        ),
        (
            {"sObject": {"type": "Lead", "fields": {"Title": "x"}}},
            "sObject.Id: missing: a Lead notification names its record",
        ),
        (
            {"sObject": {"type": "Lead", "fields": {"Id": "00Q5e00000Ld001", "T": "t" * 131_073}}},
            "sObject.T: 131073 characters, more than 131072",
        ),
    ],
)
def test_outbound_notifications(change: dict[str, Any], expected: str | None) -> None:
    parsed = parse_outbound({**OUTBOUND, **change})
    if expected is None:
        assert isinstance(parsed, SfNotification) and parsed.dedupe_key == "om:04l5e00000Abc01AAB"
    else:
        assert isinstance(parsed, RejectedEvent), parsed
        assert parsed.reason.startswith(expected), parsed.reason
