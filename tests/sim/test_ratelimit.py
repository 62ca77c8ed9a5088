from __future__ import annotations

from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.config.sections.sim import EndpointRateLimit, default_rate_limits
from optbot.core.clock import SimClock
from optbot.core.timeutil import IST
from optbot.sim.ratelimit import RateLimiter

START = datetime(2026, 11, 18, 10, 0, tzinfo=IST)


def test_reference_table_defaults() -> None:
    limits = default_rate_limits()
    assert limits["orders"] == EndpointRateLimit(per_second=9, per_minute=500, per_hour=1000)
    assert limits["candles"] == EndpointRateLimit(per_second=3, per_minute=180, per_hour=5000)
    assert limits["login"].per_second == 1 and limits["order_book"].per_second == 1


def test_per_second_then_per_minute_caps_on_the_sim_clock() -> None:
    clock = SimClock(START)
    limiter = RateLimiter(clock, default_rate_limits())
    assert [limiter.allow("A", "candles") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("B", "candles")  # per client code
    allowed = 3
    for _ in range(59):
        clock.advance(1.0)
        allowed += sum(limiter.allow("A", "candles") for _ in range(3))
    assert allowed == 180
    clock.advance(0.5)
    assert not limiter.allow("A", "candles")  # t=59.5 s: the last minute holds 180 accepted calls
    clock.advance(0.5)
    assert limiter.allow("A", "candles")  # t=60 s: the first three are a minute old
    assert limiter.rejected == 2


def test_disabled_and_unknown_buckets_are_unlimited() -> None:
    clock = SimClock(START)
    limiter = RateLimiter(clock, default_rate_limits(), enabled=False)
    assert all(limiter.allow("A", "login") for _ in range(50))
    limiter = RateLimiter(clock, default_rate_limits())
    assert all(limiter.allow("A", "estimate_charges") for _ in range(50))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=120))
def test_no_one_second_window_accepts_more_than_nine_orders(gaps_ms: list[int]) -> None:
    clock = SimClock(START)
    limiter = RateLimiter(clock, default_rate_limits())
    accepted: list[float] = []
    for gap in gaps_ms:
        clock.advance(gap / 1000)
        if limiter.allow("A", "orders"):
            accepted.append(clock.monotonic())
    for index, stamp in enumerate(accepted):
        assert sum(1 for other in accepted[index:] if other - stamp < 1.0) <= 9


def test_settings_refuse_unknown_buckets_and_intervals() -> None:
    import pytest
    from pydantic import ValidationError

    from optbot.config.sections.sim import SimSettings

    with pytest.raises(ValidationError, match="unknown rate-limit bucket"):
        SimSettings(rate_limits={"ordres": EndpointRateLimit(per_second=1)})
    with pytest.raises(ValidationError, match="unknown candle interval"):
        SimSettings(candle_max_days={"TWO_MINUTE": 10})
    assert (
        SimSettings(rate_limits={"orders": EndpointRateLimit(per_second=5)}).rate_limits["orders"].per_second
        == 5
    )
