"""Bearer tokens compared in constant time (admin API, metrics)."""

from __future__ import annotations

import hmac
from collections.abc import Sequence


def bearer_matches(header: str, tokens: Sequence[str]) -> bool:
    """True when ``header`` is ``Bearer <one of tokens>``. Every token is compared, whatever
    matched first, and no token configured means no match."""
    scheme, _, given = header.partition(" ")
    ok = False
    for token in tokens:
        ok |= hmac.compare_digest(given.encode(), token.encode())
    return scheme.lower() == "bearer" and bool(given) and ok
