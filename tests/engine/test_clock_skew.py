"""Spec §13.8: the host clock's skew against the exchange, estimated from socket ticks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from optbot.core.enums import Exchange
from optbot.core.events import Tick
from optbot.engine.health import ClockSkewMonitor, check_clock_against_server

EXCHANGE = datetime(2026, 8, 7, 5, 0, tzinfo=UTC)


def _tick(exchange_time: datetime, transit_seconds: float, host_offset: float, source: str = "ws") -> Tick:
    host = exchange_time + timedelta(seconds=transit_seconds + host_offset)
    return Tick(host, "99926000", Exchange.NSE, "NIFTY", 24550.0, ts_exchange=exchange_time, source=source)


def _feed(monitor: ClockSkewMonitor, host_offset: float, count: int = 30) -> None:
    for index in range(count):
        transit = 0.02 + (index % 7) * 0.15  # jittery transit, never negative
        monitor.observe(_tick(EXCHANGE + timedelta(seconds=index), transit, host_offset))


def test_a_synchronised_host_reads_as_the_shortest_transit() -> None:
    monitor = ClockSkewMonitor(min_samples=20)
    _feed(monitor, host_offset=0.0)
    assert monitor.take() == 0.02


def test_a_slow_host_reads_negative_and_a_fast_one_positive() -> None:
    monitor = ClockSkewMonitor(min_samples=20)
    _feed(monitor, host_offset=-5.0)
    skew = monitor.take()
    assert skew is not None and abs(skew - -4.98) < 1e-9
    _feed(monitor, host_offset=3.0)
    skew = monitor.take()
    assert skew is not None and abs(skew - 3.02) < 1e-9


def test_stale_or_fallback_quotes_do_not_pass_for_a_fast_clock() -> None:
    monitor = ClockSkewMonitor(min_samples=20)
    _feed(monitor, host_offset=0.0)
    now, traded = EXCHANGE + timedelta(seconds=30), EXCHANGE - timedelta(minutes=5)
    for _ in range(50):  # quotes whose exchange time is their last trade, minutes before they came
        for source in ("rest_fallback", "ws"):
            monitor.observe(Tick(now, "1", Exchange.NFO, "OPT", 5.0, ts_exchange=traded, source=source))
    assert monitor.take() == 0.02


def test_too_few_ticks_give_no_estimate_and_each_take_starts_a_new_window() -> None:
    monitor = ClockSkewMonitor(min_samples=20)
    _feed(monitor, host_offset=-5.0, count=19)
    assert monitor.take() is None
    _feed(monitor, host_offset=0.0, count=20)
    assert monitor.take() == 0.02
    assert monitor.take() is None


SERVER_DATE = "Mon, 07 Dec 2026 03:40:12 GMT"  # truncated to the second: the server read 03:40:12.x


def test_a_host_within_the_limit_of_the_servers_date_passes() -> None:
    result = check_clock_against_server(
        datetime(2026, 12, 7, 3, 40, 12, 700_000, tzinfo=UTC), SERVER_DATE, 2.0
    )
    assert result.ok and "+0.2 s vs the broker server's clock" in result.detail


def test_a_host_off_by_more_than_the_limit_fails_without_stopping_the_start() -> None:
    fast = check_clock_against_server(datetime(2026, 12, 7, 3, 40, 17, 500_000, tzinfo=UTC), SERVER_DATE, 2.0)
    slow = check_clock_against_server(datetime(2026, 12, 7, 3, 40, 8, tzinfo=UTC), SERVER_DATE, 2.0)
    assert not fast.ok and "+5.0 s" in fast.detail and not fast.critical
    assert not slow.ok and "-4.5 s" in slow.detail


def test_no_or_an_unreadable_date_header_is_not_a_failure() -> None:
    now = datetime(2026, 12, 7, 3, 40, tzinfo=UTC)
    assert check_clock_against_server(now, None, 2.0).ok
    assert check_clock_against_server(now, "yesterday-ish", 2.0).ok
