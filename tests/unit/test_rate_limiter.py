from connectors.hubspot.client import RollingWindowLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_limiter_lets_the_budget_through_then_waits_for_the_window_to_roll() -> None:
    clock = FakeClock()
    limiter = RollingWindowLimiter(3, 10.0, clock=clock, sleep=clock.sleep)
    assert [limiter.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now = 4.0
    assert limiter.acquire() == 6.0  # the first call leaves the window at t=10
    assert clock.now == 10.0


def test_calls_spread_over_time_never_wait() -> None:
    clock = FakeClock()
    limiter = RollingWindowLimiter(5, 10.0, clock=clock, sleep=clock.sleep)
    for _ in range(50):
        assert limiter.acquire() == 0.0
        clock.now += 2.0
