import random
from datetime import UTC, datetime, timedelta

import pytest

from app.queue import RetryPolicy


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (8, 256.0), (9, 300.0), (50, 300.0), (200, 300.0)],
)
def test_given_attempt_n_when_no_jitter_then_delay_doubles_up_to_the_cap(
    attempt: int, expected: float
) -> None:
    policy = RetryPolicy(base_seconds=2, max_seconds=300, max_attempts=10, jitter=False)
    assert policy.delay(attempt) == expected


@pytest.mark.parametrize("attempt", [1, 3, 6, 12])
def test_given_jitter_then_delay_stays_between_half_and_full(attempt: int) -> None:
    policy = RetryPolicy(base_seconds=1, max_seconds=60)
    full = RetryPolicy(base_seconds=1, max_seconds=60, jitter=False).delay(attempt)
    rng = random.Random(attempt)
    delays = [policy.delay(attempt, rng) for _ in range(200)]
    assert all(full / 2 <= d <= full for d in delays)
    assert len(set(delays)) > 100  # really spread, not one value


def test_given_a_vendor_retry_after_longer_than_the_backoff_then_it_wins() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    policy = RetryPolicy(base_seconds=1, jitter=False)
    assert policy.next_try(1, now, floor_seconds=30) == now + timedelta(seconds=30)
    assert policy.next_try(3, now, floor_seconds=0) == now + timedelta(seconds=4)


def test_given_a_retry_after_of_years_then_it_is_capped_at_a_day() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    policy = RetryPolicy(base_seconds=1, jitter=False)
    assert policy.next_try(1, now, floor_seconds=1e12) == now + timedelta(days=1)
    assert policy.next_try(1, now, floor_seconds=float("inf")) == now + timedelta(days=1)


@pytest.mark.parametrize(("attempts", "dead"), [(1, False), (4, False), (5, True), (9, True)])
def test_given_max_attempts_then_exhausted_only_from_that_attempt(
    attempts: int, dead: bool
) -> None:
    assert RetryPolicy(max_attempts=5).exhausted(attempts) is dead


def test_attempts_are_counted_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        RetryPolicy().delay(0)
