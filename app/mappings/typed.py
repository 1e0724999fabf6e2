"""A canonical field's values read as its type (``app/mappings/fields.py`` ``FieldType``).

Text compares without case; a number reads ``1 200`` and ``12,5``; a date or datetime is ISO
8601 (``2026-11-20``, ``2026-11-20T10:00:00Z``; without a zone it is UTC; a date is its
midnight UTC) or epoch milliseconds; a boolean is true/false (yes/no, 1/0); a list is a
multi-select whose values are separated by ``;``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from app.mappings.fields import FieldType

TRUE, FALSE = {"true", "yes", "1"}, {"false", "no", "0"}


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).replace(" ", "").replace("\u202f", "").replace(",", "."))
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _instant(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = str(value).strip() if value is not None else ""
    # Epoch milliseconds (HubSpot's older format): ASCII digits only ("²" is a digit to
    # str.isdigit), and an instant a datetime can hold; anything else is unreadable.
    if text.isascii() and text.isdigit() and len(text) >= 10:
        try:
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _boolean(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().casefold() if value is not None else ""
    return True if text in TRUE else False if text in FALSE else None


def read(kind: FieldType, value: object) -> Any:
    """A value as its type compares (None: empty or unreadable, which no condition but
    ``missing`` matches)."""
    if value is None or isinstance(value, str | int | float):
        # Scoring reads the same values again and again (a title by many rules, the rules'
        # own values for every lead): read each once. The type is in the key: True == 1.
        return _read_once(kind, type(value).__name__, value)
    return _read(kind, value)


@lru_cache(maxsize=65536)
def _read_once(kind: FieldType, _type: str, value: object) -> Any:
    return _read(kind, value)


def _read(kind: FieldType, value: object) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if kind == "number":
        return _number(value)
    if kind in ("date", "datetime"):
        return _instant(value)
    if kind == "boolean":
        return _boolean(value)
    if kind == "list":
        items = tuple(v.strip().casefold() for v in str(value).split(";") if v.strip())
        return items or None
    return str(value).strip().casefold()
