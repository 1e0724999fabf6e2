"""The webhook edge: read a body strictly, and judge every event before it reaches the inbox.

A body that cannot be read at all (not UTF-8, not JSON, nested past what the parser takes, not
a list of events) is refused whole with 400 and the reason. Everything else is judged event by
event: an event that breaks a rule is stored as ``rejected`` with its reason and a bounded copy
of what was received, and the good events of its batch are stored as usual. HubSpot and
Salesforce retry a failed batch whole and then drop it, so one bad event must never cost the
good ones. No value that could break an insert reaches the database (NUL, lone surrogates, NaN
or infinities, integers past 64 bits, strings longer than their column), and since SQLite
enforces no length, every bound lives here, the same for both databases.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import Counter

from app.queue import Status
from connectors.crm import Crm

log = structlog.get_logger("relais.webhooks.edge")
REJECTED_EVENTS = Counter(
    "relais_webhook_events_rejected_total",
    "Webhook events stored as rejected: a value broke a rule of the edge",
    ["crm", "field"],
)

MAX_DEPTH = 16  # levels of objects and arrays in one event (the event itself is level 1)
MAX_KEY_CHARS = 256
MAX_TEXT_CHARS = 131_072  # Salesforce's longest text field (Long Text Area)
# Longer integer literals stay text (LongInteger): Python refuses int() past 4,300 digits,
# which would otherwise fail the whole body instead of the one event carrying it.
MAX_INT_DIGITS = 40
MAX_EVENTS_PER_REQUEST = 1000
MAX_REJECTIONS_LOGGED = 20  # per request; the rest are counted, and listed as dead letters
MAX_INT64 = 2**63 - 1
RAW_CAP_CHARS = 64 * 1024  # a rejected event's stored copy, re-serialised as ASCII JSON
MAX_REASON_CHARS = 1000
# Epoch milliseconds Relais takes as a plausible event time: 2000-01-01 to 2100-01-01.
EPOCH_MS_RANGE = (946_684_800_000, 4_102_444_800_000)

_SURROGATE = re.compile("[\ud800-\udfff]")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_]{1,64}")
ID_TOKEN = re.compile(r"[A-Za-z0-9_.:-]+")
SF_RECORD_ID = re.compile(r"[A-Za-z0-9]{15}|[A-Za-z0-9]{18}")
API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class UnreadableBody(ValueError):
    """The body cannot be read as JSON at all: the whole request is refused with 400."""


class Invalid(ValueError):
    """A value breaks a rule: ``field`` is where (a path into the event), the message what."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


@dataclass(frozen=True)
class LongInteger:
    """An integer literal too long to be a number anyone meant (kept as its digits)."""

    digits: str

    def __str__(self) -> str:
        return f"an integer of {len(self.digits.lstrip('-'))} digits"


def _parse_int(literal: str) -> int | LongInteger:
    digits = literal.lstrip("-")
    return int(literal) if len(digits) <= MAX_INT_DIGITS else LongInteger(literal)


def load_json(body: bytes) -> Any:
    """The decoded body, or UnreadableBody saying why it cannot be read.

    Integers longer than MAX_INT_DIGITS come back as LongInteger and NaN or infinities as
    floats: they are judged later, per event, instead of failing the whole body.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableBody(f"the body is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    try:
        return json.loads(text, parse_int=_parse_int)
    except RecursionError as exc:
        raise UnreadableBody("malformed JSON: nested too deeply to be read") from exc
    except ValueError as exc:
        raise UnreadableBody(f"malformed JSON: {exc}") from exc


# -- rendering received values in reasons and logs ------------------------------------------


def kind(value: Any) -> str:
    """What a received value is, in JSON's words."""
    if isinstance(value, LongInteger):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON array"
    return type(value).__name__


def show(value: Any, limit: int = 40) -> str:
    """A short, printable rendering of a received value: NUL and surrogates come escaped."""
    if isinstance(value, str):
        if len(value) > limit:
            return f"{value[:limit]!r}... ({len(value)} characters)"
        return repr(value)
    if isinstance(value, dict | list | LongInteger):
        return kind(value)
    text = json.dumps(value, allow_nan=True)  # numbers, true, false, null
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def join(path: str, key: str | int) -> str:
    """``path.key``, or ``path[<key shown safely>]`` when the key is not a plain name."""
    if isinstance(key, int):
        return f"{path or 'event'}[{key}]"
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path or 'event'}[{show(key, 30)}]"


# -- generic checks: what no database may receive --------------------------------------------


def _text_problem(value: str, max_chars: int) -> str | None:
    if len(value) > max_chars:
        return f"{len(value)} characters, more than {max_chars}"
    if "\x00" in value:
        return "contains a NUL character"
    surrogate = _SURROGATE.search(value)
    if surrogate is not None:
        return f"contains a lone surrogate (U+{ord(surrogate.group()):04X})"
    return None


def check_text(field: str, value: str, max_chars: int) -> None:
    """Invalid when ``value`` is too long or holds what no database takes (NUL, surrogates)."""
    problem = _text_problem(value, max_chars)
    if problem is not None:
        raise Invalid(field, problem)


def check_tree(
    value: Any, path: str = "", *, max_depth: int = MAX_DEPTH, max_text: int = MAX_TEXT_CHARS
) -> None:
    """Invalid for the first value that is not storable as-is: a string too long or with NUL or
    a lone surrogate, a non-finite number, an overlong integer, nesting past ``max_depth``.

    Iterative, so a deep value costs no recursion; values are visited in document order.
    """
    stack: list[tuple[str, Any, int]] = [(path, value, 1)]
    while stack:
        where, item, depth = stack.pop()
        if isinstance(item, str):
            check_text(where or "event", item, max_text)
        elif isinstance(item, float) and not math.isfinite(item):
            raise Invalid(where or "event", f"{show(item)} is not a finite number")
        elif isinstance(item, LongInteger):
            raise Invalid(where or "event", f"{item} is out of range")
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_INT64:
            raise Invalid(where or "event", f"{show(item)} is outside 64-bit integers")
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise Invalid(where or "event", f"nested deeper than {max_depth} levels")
            children: list[tuple[str, Any]] = []
            if isinstance(item, dict):
                for key, child in item.items():
                    problem = _text_problem(key, MAX_KEY_CHARS)
                    if problem is not None:
                        raise Invalid(where or "event", f"a key ({show(key, 30)}): {problem}")
                    children.append((join(where, key), child))
            else:
                children = [(join(where, i), child) for i, child in enumerate(item)]
            stack.extend((p, c, depth + 1) for p, c in reversed(children))


# -- field rules ------------------------------------------------------------------------------


def text(
    field: str, value: Any, max_chars: int, pattern: re.Pattern[str] | None = None, what: str = ""
) -> str:
    """A string of at most ``max_chars`` characters, matching ``pattern`` when one is given."""
    if not isinstance(value, str):
        raise Invalid(field, f"expected a string, got {kind(value)}")
    check_text(field, value, max_chars)
    if pattern is not None and not pattern.fullmatch(value):
        raise Invalid(field, f"{show(value)} is not {what}")
    return value


def decimal_id(field: str, value: Any, low: int = 1, high: int = MAX_INT64) -> int:
    """An id given as an integer or as a string of ASCII digits, within ``[low, high]``."""
    if isinstance(value, str):
        check_text(field, value, 64)
        # str.isdigit() is also true for '١٢٣' or '²': only ASCII digits name a record.
        if not value.isascii() or not value.isdigit():
            raise Invalid(field, f"{show(value)} is not an ASCII decimal number")
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, LongInteger):
        raise Invalid(field, f"{value} is out of range ({low} to {high})")
    else:
        raise Invalid(field, f"expected an integer or a string of digits, got {kind(value)}")
    if not low <= number <= high:
        raise Invalid(field, f"{show(number)} is out of range ({low} to {high})")
    return number


def int_or_token(field: str, value: Any) -> int | str:
    """An integer from 0 to 2**63-1, or a short ASCII token (letters, digits, ``_.:-``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= MAX_INT64:
            raise Invalid(field, f"{show(value)} is out of range (0 to {MAX_INT64})")
        return value
    if isinstance(value, str):
        return text(field, value, 64, ID_TOKEN, "an ASCII id (letters, digits, '_.:-')")
    if isinstance(value, LongInteger):
        raise Invalid(field, f"{value} is out of range (0 to {MAX_INT64})")
    raise Invalid(field, f"expected an integer or a short string, got {kind(value)}")


def epoch_ms(field: str, value: Any) -> datetime:
    """Epoch milliseconds between 2000 and 2100, as an aware datetime."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise Invalid(field, f"expected epoch milliseconds (an integer), got {kind(value)}")
    low, high = EPOCH_MS_RANGE
    if not low <= value <= high:
        raise Invalid(field, f"{show(value)} is not epoch milliseconds between 2000 and 2100")
    return datetime.fromtimestamp(value / 1000, UTC)


def scalar(field: str, value: Any, max_chars: int) -> None:
    """A string of at most ``max_chars``, a finite number, a boolean or null."""
    if isinstance(value, str):
        check_text(field, value, max_chars)
    elif isinstance(value, float) and not math.isfinite(value):
        raise Invalid(field, f"{show(value)} is not a finite number")
    elif isinstance(value, dict | list | LongInteger):
        raise Invalid(field, f"expected a string, a number, a boolean or null, got {kind(value)}")


def sf_record_id(field: str, value: Any) -> str:
    return text(field, value, 18, SF_RECORD_ID, "a Salesforce id (15 or 18 ASCII letters/digits)")


def metric_label(field: str, known: Iterable[str]) -> str:
    """The field a rejection is counted under: a name from our rules, never the sender's text."""
    head = re.match(r"[A-Za-z0-9_]*", field)
    name = head.group() if head else ""
    return name if name in known or name == "event" else "other"


# -- what is stored for a rejected event -----------------------------------------------------


def _prune(value: Any, depth: int = 0) -> Any:
    """A copy cut below MAX_DEPTH * 4 levels, so that re-serialising it cannot recurse away."""
    if isinstance(value, dict | list) and depth >= MAX_DEPTH * 4:
        return f"<{kind(value)} nested deeper than {MAX_DEPTH * 4} levels>"
    if isinstance(value, dict):
        return {key: _prune(child, depth + 1) for key, child in value.items()}
    if isinstance(value, list):
        return [_prune(child, depth + 1) for child in value]
    return value


def safe_json(value: Any, *, sort_keys: bool = False) -> str:
    """ASCII JSON of anything the edge received: NUL and surrogates escaped, NaN written as
    NaN, overlong integers as strings of their digits, nesting cut (see _prune)."""
    return json.dumps(
        _prune(value),
        ensure_ascii=True,
        allow_nan=True,
        sort_keys=sort_keys,
        separators=(",", ":"),
        default=lambda v: v.digits if isinstance(v, LongInteger) else repr(v),
    )


def digest(value: Any) -> str:
    """The inbox key of a rejected event: a hash of its canonical form, so a redelivery of
    the same batch finds its rejected events already stored."""
    return hashlib.sha256(safe_json(value, sort_keys=True).encode("ascii")).hexdigest()


@dataclass(frozen=True)
class RejectedEvent:
    """An event refused at the edge: stored as ``rejected``, never claimed, never replayed."""

    crm: Crm
    reason: str
    field: str  # the metric label (see metric_label)
    raw: Any
    dedupe_key: str

    def row(self, now: datetime) -> dict[str, Any]:
        copy = safe_json(self.raw)
        return {
            "crm": self.crm,
            "dedupe_key": self.dedupe_key,
            "record_key": None,
            "event_type": "rejected",
            "occurred_at": None,
            "received_at": now,
            "available_at": now,
            # The raw event as a bounded ASCII string: nothing in it can break the insert.
            "payload": {
                "reason": self.reason,
                "raw": copy[:RAW_CAP_CHARS],
                "raw_truncated": len(copy) > RAW_CAP_CHARS,
            },
            "status": Status.REJECTED,
            "result": f"rejected: {self.reason}",
            "finished_at": now,
        }


def reject(
    crm: Crm, error: Invalid, raw: Any, known: Iterable[str], key: str | None = None
) -> RejectedEvent:
    reason = str(error)
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 3] + "..."
    return RejectedEvent(crm, reason, metric_label(error.field, known), raw, key or digest(raw))


def count_rejections(rejections: Iterable[RejectedEvent]) -> None:
    """Count and log each rejection: its reason only, where received values are cut short and
    escaped (see show); never the raw event."""
    logged = 0
    for r in rejections:
        REJECTED_EVENTS.labels(r.crm, r.field).inc()
        if logged < MAX_REJECTIONS_LOGGED:  # a junk batch must not flood the logs
            log.warning("webhook.event_rejected", crm=r.crm, field=r.field, reason=r.reason)
        logged += 1
    if logged > MAX_REJECTIONS_LOGGED:
        log.warning(
            "webhook.events_rejected_not_logged",
            count=logged - MAX_REJECTIONS_LOGGED,
            hint="every rejection is listed by `relais dead-letters list`",
        )


def check_batch_size(count: int) -> None:
    """UnreadableBody past MAX_EVENTS_PER_REQUEST: no CRM sends that many in one request (HubSpot
    100 events, Salesforce 100 notifications), and each costs work before the answer."""
    if count > MAX_EVENTS_PER_REQUEST:
        raise UnreadableBody(
            f"{count} events in one request; at most {MAX_EVENTS_PER_REQUEST} are taken "
            "(HubSpot and Salesforce send at most 100)"
        )
