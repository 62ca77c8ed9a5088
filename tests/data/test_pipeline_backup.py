from __future__ import annotations

import tarfile
from datetime import date, timedelta

import pytest

from optbot.calendar import get_calendar
from optbot.config.sections.data import DataSettings
from optbot.config.sections.paths import PathsSettings
from optbot.core.bus import EventBus
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, Timeframe
from optbot.core.errors import UserError
from optbot.core.events import Alert, Bar
from optbot.data.backup import create_backup, restore_backup, verify_backup
from optbot.data.opening_gap import OpeningGapDetector, gap_percent
from optbot.data.pipeline import MarketDataPipeline
from optbot.data.reconcile import reconcile_day
from optbot.data.store import JsonStore
from optbot.test_kit.data import FakeCandleSource, ist, make_bar, make_tick

DAY = (2025, 9, 4)


@pytest.fixture
def clock():
    return SimClock(ist(*DAY, 9, 10))


@pytest.fixture
def store(tmp_path, clock):
    return JsonStore(PathsSettings(data_root=tmp_path), DataSettings(fsync_appends=False), clock)


def test_gap_percent_and_detector():
    assert gap_percent(102.5, 100.0) == pytest.approx(2.5)
    detector = OpeningGapDetector(2.0)
    at = ist(*DAY, 9, 15)
    assert detector.check("NIFTY", 101.0, 100.0, at) is None
    assert detector.check("BANKNIFTY", 97.0, 100.0, at).direction == "down"
    assert detector.check("BANKNIFTY", 90.0, 100.0, at) is None  # once per session
    with pytest.raises(ValueError):
        gap_percent(0, 100)


async def test_pipeline_writes_spec_files_and_publishes(store, clock, tmp_path):
    store.merge_bars(
        "NIFTY", Timeframe.D1, [make_bar(ist(2025, 9, 3, 9, 15), 24000.0, timeframe=Timeframe.D1)]
    )
    bus = EventBus(synchronous=True)
    received: list = []
    bus.subscribe("test", (Bar, Alert), received.append)
    gaps = []
    pipeline = MarketDataPipeline(
        clock, get_calendar(), store, DataSettings(fsync_appends=False), on_gap=gaps.append
    )
    pipeline.attach(bus)
    pipeline.track("99926000", "NIFTY", is_option=False)
    await pipeline.start()
    for second in range(0, 120, 5):
        at = ist(*DAY, 9, 15) + timedelta(seconds=second)
        await clock.run_until(at)
        await bus.publish(make_tick("99926000", 24600.0 + second, at))
    await clock.run_until(ist(*DAY, 9, 17, 2))
    await pipeline.stop()
    assert (tmp_path / "raw" / "NIFTY_today.json").exists()
    stored = store.read_bars("NIFTY", Timeframe.M1)
    assert [b.close for b in stored] == [24655.0, 24715.0]
    assert [type(e).__name__ for e in received] == ["Alert", "Bar", "Bar"]
    assert gaps and gaps[0].gap_pct == pytest.approx(2.5)


async def test_reconcile_records_differences(store, clock, tmp_path):
    calendar = get_calendar()
    source = FakeCandleSource(calendar)
    official = await source.candles(
        Exchange.NSE, "99926000", "ONE_MINUTE", ist(*DAY, 9, 15), ist(*DAY, 15, 29)
    )
    live = [make_bar(c.start, c.close) for c in official[:-1]]
    live = [make_bar(b.start_utc, b.close) for b in live]
    store.merge_bars("NIFTY", Timeframe.M1, live)
    report = await reconcile_day(
        store,
        source,
        calendar,
        "NIFTY",
        Exchange.NSE,
        "99926000",
        date(*DAY),
        tmp_path / "reports",
        repair=True,
    )
    assert report.official_bars == 375 and report.live_bars == 374
    assert len(report.missing_live) == 1
    assert report.differences  # make_bar's open/high/low differ from the official candle
    assert (tmp_path / "reports" / "reconcile" / "NIFTY-2025-09-04.json").exists()
    assert len(store.read_bars("NIFTY", Timeframe.M1)) == 375


def test_backup_verify_restore(store, clock, tmp_path):
    paths = store.paths
    store.merge_bars("NIFTY", Timeframe.M1, [make_bar(ist(*DAY, 9, 15), 1.0)])
    info = create_backup(paths, clock, keep=3)
    assert info.files >= 2 and verify_backup(info.path) == []
    store.merge_bars("NIFTY", Timeframe.M1, [make_bar(ist(*DAY, 9, 16), 2.0)])
    kept = restore_backup(info.path, paths, clock)
    assert len(store.read_bars("NIFTY", Timeframe.M1)) == 1
    assert kept and kept[0].name.startswith("timeframes.pre-restore-")
    # a tampered archive is refused before anything is touched
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(info.path) as source, tarfile.open(tampered, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member)
            payload = data.read() if data else b""
            if member.name.endswith("1m.json"):
                payload = payload.replace(b"1.0", b"9.0")
            import io

            member.size = len(payload)
            target.addfile(member, io.BytesIO(payload))
    assert any("checksum" in p for p in verify_backup(tampered))
    with pytest.raises(UserError, match="verification"):
        restore_backup(tampered, paths, clock)


async def test_gap_recovery_merges_official_candles(store, clock):
    pipeline = MarketDataPipeline(clock, get_calendar(), store, DataSettings(fsync_appends=False))
    pipeline.track("99926000", "NIFTY", is_option=False)
    await pipeline.start()
    for minute in (15, 29):  # a 13-minute hole: recorded, not interpolated
        at = ist(*DAY, 9, minute, 5)
        await clock.run_until(at)
        pipeline.on_tick(make_tick("99926000", 24600.0, at))
    await clock.run_until(ist(*DAY, 9, 30, 2))
    await pipeline.stop()
    assert [g.action for g in pipeline.aggregator.gaps] == ["discarded"]
    merged = await pipeline.recover_gaps(FakeCandleSource(get_calendar()), lambda token: Exchange.NSE)
    assert merged == 13
    assert len(store.read_bars("NIFTY", Timeframe.M1)) == 15
    assert await pipeline.recover_gaps(FakeCandleSource(get_calendar()), lambda token: Exchange.NSE) == 0


async def test_raw_rotation_at_midnight(store, clock):
    store.append_tick(make_tick("99926000", 1.0, ist(2025, 9, 3, 15, 0)))
    store.flush_ticks()
    pipeline = MarketDataPipeline(clock, get_calendar(), store, DataSettings(fsync_appends=False))
    await pipeline.start()
    assert store.raw_path("NIFTY", "yesterday").exists()  # rotated at start (Sept 3 -> yesterday)
    pipeline.on_tick(make_tick("99926000", 2.0, ist(*DAY, 9, 15, 1)))
    store.flush_ticks()
    await clock.run_until(ist(2025, 9, 5, 0, 0, 5))
    await pipeline.stop()
    assert [t.ltp for t in store.read_ticks("NIFTY", "yesterday")] == [2.0]


async def test_index_bars_follow_equity_session_options_fo_session(tmp_path):
    clock = SimClock(ist(2026, 8, 7, 9, 0))
    store = JsonStore(PathsSettings(data_root=tmp_path), DataSettings(fsync_appends=False), clock)
    pipeline = MarketDataPipeline(clock, get_calendar(), store, DataSettings(fsync_appends=False))
    pipeline.track("99926000", "NIFTY", is_option=False)
    pipeline.track("40001", "NIFTY11AUG2624550CE", is_option=True)
    await pipeline.start()
    assert pipeline.aggregator.session_close_utc == ist(2026, 8, 7, 15, 30)
    assert pipeline.option_aggregator.session_close_utc == ist(2026, 8, 7, 15, 40)
    pipeline.on_tick(make_tick("40001", 50.0, ist(2026, 8, 7, 15, 35), exchange=Exchange.NFO))
    pipeline.on_tick(make_tick("99926000", 24500.0, ist(2026, 8, 7, 15, 35)))
    assert pipeline.option_aggregator.stats.ticks == 1 and not pipeline.option_aggregator.stats.dropped
    assert pipeline.aggregator.stats.dropped["outside_session"] == 1
    await pipeline.stop()
