from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from optbot.broker.errors import RateLimited
from optbot.calendar import get_calendar
from optbot.config.sections.data import DataSettings
from optbot.config.sections.paths import PathsSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, Timeframe
from optbot.core.timeutil import IST
from optbot.data.history import DownloadJob, HistoryDownloader
from optbot.data.quality import DataQualityChecker
from optbot.data.store import JsonStore
from optbot.test_kit.data import FakeCandleSource, ist, make_bar


@pytest.fixture
def clock():
    return SimClock(datetime(2025, 9, 10, 12, 0, tzinfo=UTC))


@pytest.fixture
def store(tmp_path, clock):
    return JsonStore(PathsSettings(data_root=tmp_path), DataSettings(fsync_appends=False), clock)


def test_gap_report_and_quality(store):
    calendar = get_calendar()
    bars = []
    for day in (date(2025, 9, 4), date(2025, 9, 5)):
        start = datetime.combine(day, datetime.min.time(), tzinfo=IST).replace(hour=9, minute=15)
        for minute in range(375):
            if day == date(2025, 9, 5) and 100 <= minute < 103:
                continue
            bars.append(make_bar(start + timedelta(minutes=minute), 24000.0 + minute))
    bars[10] = make_bar(bars[10].start_utc, 40000.0)  # an outlier
    store.merge_bars("NIFTY", Timeframe.M1, bars)
    checker = DataQualityChecker(store, calendar, outlier_pct=5.0)
    report = checker.check("NIFTY", Timeframe.M1, date(2025, 9, 4), date(2025, 9, 8))
    assert report.expected == 375 * 3
    reasons = [(g.reason, g.missing_bars) for g in report.gaps]
    assert ("missing bars within the session", 3) in reasons
    assert ("no data for the trading day", 375) in reasons  # Monday the 8th
    assert report.counts["outlier"] == 2  # jump up and back down
    assert report.as_dict()["missing"] == 378


async def test_download_windows_resume_and_idempotent(store, clock):
    calendar = get_calendar()
    source = FakeCandleSource(calendar)
    downloader = HistoryDownloader(source, store, clock, DataSettings(fsync_appends=False))
    job = DownloadJob(
        "NIFTY", Exchange.NSE, "99926000", Timeframe.M1, ist(2025, 7, 1, 0, 0), ist(2025, 9, 10, 0, 0)
    )
    assert len(job.windows()) == 3  # 71 days at 30 days per request
    result = await downloader.download(job)
    assert result.windows == 3 and not result.failures
    stored = store.read_bars("NIFTY", Timeframe.M1)
    assert len(stored) == result.added > 10000
    again = await HistoryDownloader(source, store, clock, DataSettings()).download(job)
    assert again.skipped_windows == 3 and again.added == 0  # resumed from the checkpoint


async def test_download_retries_rate_limit(store, clock):
    source = FakeCandleSource(get_calendar(), fail_first=2, error=RateLimited("slow down"))
    downloader = HistoryDownloader(source, store, clock, DataSettings(fsync_appends=False))
    job = DownloadJob(
        "NIFTY", Exchange.NSE, "99926000", Timeframe.D1, ist(2025, 1, 1, 0, 0), ist(2025, 9, 10, 0, 0)
    )
    task = downloader.download(job)
    import asyncio

    running = asyncio.ensure_future(task)
    while not running.done():
        await clock.run_until(clock.now_utc() + timedelta(seconds=5))
    result = running.result()
    assert len(source.calls) == 3 and not result.failures and result.added > 100


async def test_rate_limiter_per_second_and_per_minute():
    from optbot.data.history import RateLimiter

    clock = SimClock(datetime(2025, 9, 10, 12, 0, tzinfo=UTC))
    import asyncio

    async def times(limiter, count):
        stamps = []
        for _ in range(count):
            await limiter.acquire()
            stamps.append(clock.monotonic())
        return stamps

    task = asyncio.ensure_future(times(RateLimiter(clock, 3, 180), 7))
    while not task.done():
        await clock.run_until(clock.now_utc() + timedelta(seconds=0.25))
    assert task.result() == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0]
    task = asyncio.ensure_future(times(RateLimiter(clock, 0.5, 180), 3))
    start = clock.monotonic()
    while not task.done():
        await clock.run_until(clock.now_utc() + timedelta(seconds=0.25))
    assert [round(t - start, 2) for t in task.result()] == [0.0, 2.0, 4.0]
    task = asyncio.ensure_future(times(RateLimiter(clock, 3, 5), 6))
    start = clock.monotonic()
    while not task.done():
        await clock.run_until(clock.now_utc() + timedelta(seconds=1))
    assert round(task.result()[-1] - start) == 60  # the 6th waits for the minute window


def _daily(store, closes_by_day):
    bars = [make_bar(ist(day.year, day.month, day.day, 9, 15), close, timeframe=Timeframe.D1)
            for day, close in closes_by_day]  # fmt: skip
    store.merge_bars("SERIES", Timeframe.D1, bars, imported=True)


def _trading_days(first, count):
    return get_calendar().trading_days(first, first + timedelta(days=count * 2))[:count]


def test_a_volatile_series_is_judged_by_its_own_moves(store):
    days = _trading_days(date(2024, 1, 1), 120)
    closes, level = [], 15.0
    for index in range(len(days)):
        level *= math.exp(0.07 * math.sin(index * 2.3) + 0.03 * math.cos(index * 5.1))  # VIX-like: up to 10 %
        if index in (40, 80):
            level *= 1.3  # and a sustained 30 % re-pricing now and then
        closes.append(level)
    _daily(store, zip(days, closes, strict=True))
    report = DataQualityChecker(store, get_calendar(), outlier_pct=10.0).check("SERIES", Timeframe.D1)
    assert report.counts["outlier"] == 0 and report.outlier_threshold_pct > 30


def test_a_gap_across_missing_sessions_is_not_an_outlier(store):
    days = _trading_days(date(2024, 1, 1), 80)
    closes = [100.0 + (index % 3) * 0.2 for index in range(40)] + [
        130.0 + (index % 3) * 0.2 for index in range(40)
    ]
    kept = [
        (day, close)
        for index, (day, close) in enumerate(zip(days, closes, strict=True))
        if not 35 <= index < 45
    ]
    _daily(store, kept)  # ten sessions missing, the level moved 30 % in between
    report = DataQualityChecker(store, get_calendar(), outlier_pct=10.0).check("SERIES", Timeframe.D1)
    assert report.counts["outlier"] == 0
    assert any(gap.reason == "missing trading days" and gap.missing_bars == 10 for gap in report.gaps)


def test_a_spike_is_named_with_its_time(store):
    days = _trading_days(date(2024, 1, 1), 60)
    closes = [100.0 + (index % 3) * 0.3 for index in range(60)]
    closes[30] = 160.0
    _daily(store, zip(days, closes, strict=True))
    report = DataQualityChecker(store, get_calendar(), outlier_pct=10.0).check("SERIES", Timeframe.D1)
    assert [issue.start_utc.astimezone(IST).date() for issue in report.failures] == [days[30], days[31]]
