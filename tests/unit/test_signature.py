from __future__ import annotations

from datetime import datetime, tzinfo

import pytest

from app.webhooks.hubspot import verify_v3
from connectors.sandbox.webhooks import sign_v3


def test_v3_signature_matches_hubspots_known_answer() -> None:
    # Known answer from the official SDK's own tests.
    assert (
        sign_v3(
            "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy",
            "POST",
            "https://www.example.com/webhook_uri",
            "{'example_field':'example_value'}",
            1693657560000,
        )
        == "K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y="
    )


def test_the_endpoint_check_accepts_the_known_answer_and_refuses_any_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hubspot.utils.signature as sdk

    known_ms = 1693657560000

    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> FrozenDatetime:
            return cls.fromtimestamp(known_ms / 1000 + 1, tz)

    monkeypatch.setattr(sdk, "datetime", FrozenDatetime)  # the SDK's clock at that moment
    args = {
        "secret": "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy",
        "method": "POST",
        "uri": "https://www.example.com/webhook_uri",
        "body": b"{'example_field':'example_value'}",
        "signature": "K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y=",
        "timestamp": str(known_ms),
        "window_seconds": 300,
        "now_ms": known_ms + 1000,
    }
    assert verify_v3(**args) is None  # type: ignore[arg-type]
    for key, value in [
        ("uri", "https://www.example.com/other"),
        ("method", "PUT"),
        ("body", b"{}"),
        ("secret", "x"),
        ("timestamp", str(known_ms + 1)),
    ]:
        assert verify_v3(**{**args, key: value}) == "signature does not match", key  # type: ignore[arg-type]
    assert verify_v3(**{**args, "now_ms": known_ms + 301_000}) is not None  # type: ignore[arg-type]
    assert verify_v3(**{**args, "now_ms": known_ms - 301_000}) is not None  # type: ignore[arg-type]
