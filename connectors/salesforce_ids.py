"""Salesforce record ids: 15-character (case-sensitive) and 18-character (checksummed) forms."""

from __future__ import annotations

_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def to18(sf_id: str) -> str:
    """The 18-character form of a 15- or 18-character id."""
    if len(sf_id) == 18:
        return sf_id
    if len(sf_id) != 15:
        raise ValueError(f"a Salesforce id has 15 or 18 characters, not {len(sf_id)}: {sf_id!r}")
    suffix = ""
    for block in range(3):
        bits = 0
        for i, ch in enumerate(sf_id[block * 5 : block * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        suffix += _SUFFIX_CHARS[bits]
    return sf_id + suffix


def same_id(a: str, b: str) -> bool:
    """True when two ids (15 or 18 characters) name the same record."""
    if len(a) not in (15, 18) or len(b) not in (15, 18) or not (a.isalnum() and b.isalnum()):
        return False
    try:
        return to18(a[:15]) == to18(b[:15]) and (len(a) != 18 or len(b) != 18 or a == b)
    except ValueError:
        return False
