from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from optbot.calendar import get_calendar
from optbot.config.sections.data import DataSettings
from optbot.config.sections.paths import PathsSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, InstrumentKind, OptionType, Timeframe
from optbot.core.instrument import Instrument
from optbot.data.archive import OptionArchive
from optbot.data.pipeline import MarketDataPipeline
from optbot.data.recorder import OptionBarRecorder
from optbot.data.store import JsonStore
from optbot.test_kit.data import ist, make_bar, make_tick

DAY = (2025, 9, 4)
OPTION = Instrument(
    token="40001",
    exchange=Exchange.NFO,
    symbol="NIFTY09SEP2524500CE",
    underlying="NIFTY",
    kind=InstrumentKind.OPTIDX,
    lot_size=75,
    tick_size=0.05,
    expiry=date(2025, 9, 9),
    strike=24500.0,
    option_type=OptionType.CE,
)


def option_bar(minute: int, close: float = 120.0, **changes):
    bar = make_bar(
        ist(*DAY, 9, 15) + timedelta(minutes=minute), close, token=OPTION.token, symbol=OPTION.symbol
    )
    return replace(bar, **changes)


def test_recorder_buffers_and_flushes_recorded_rows(tmp_path):
    archive = OptionArchive(tmp_path)
    recorder = OptionBarRecorder(archive)
    assert recorder.record(option_bar(0, volume=750, open_interest=15000), OPTION)
    assert not recorder.record(option_bar(1, complete=False), OPTION)
    assert not recorder.record(option_bar(2, timeframe=Timeframe.M5), OPTION)
    assert not recorder.record(option_bar(3, interpolated=True), OPTION)
    assert recorder.pending == 1 and archive.underlyings() == []
    summary = recorder.flush()
    assert summary is not None and summary.added == 1 and recorder.pending == 0
    (row,) = archive.day("NIFTY", date(*DAY)).to_pylist()
    assert (row["symbol"], row["source"], row["volume"], row["oi"]) == (
        "NIFTY09SEP2524500CE",
        "recorded",
        750,
        15000,
    )
    assert row["ts"] == ist(*DAY, 9, 15) and row["strike"] == 24500.0 and row["option_type"] == "CE"
    assert recorder.flush() is None


def test_a_failed_flush_keeps_the_rows(tmp_path, monkeypatch):
    archive = OptionArchive(tmp_path)
    recorder = OptionBarRecorder(archive)
    recorder.record(option_bar(0), OPTION)

    def full_disk(*_args, **_kwargs):
        raise OSError("no space left")

    monkeypatch.setattr(archive, "write", full_disk)
    assert recorder.flush() is None and recorder.pending == 1 and recorder.write_errors == 1
    monkeypatch.undo()
    assert recorder.flush().added == 1 and recorder.pending == 0


@pytest.fixture
def clock():
    return SimClock(ist(*DAY, 9, 14))


async def _feed_minutes(pipeline, clock, first_minute, minutes):
    for minute in range(first_minute, first_minute + minutes):
        for second in range(5, 60, 10):
            at = ist(*DAY, 9, 15) + timedelta(minutes=minute, seconds=second)
            await clock.run_until(at)
            pipeline.on_tick(
                make_tick(OPTION.token, 100.0 + minute, at, symbol=OPTION.symbol, exchange=Exchange.NFO,
                          volume=1000 + 75 * (minute * 6 + second // 10), open_interest=20000)
            )  # fmt: skip


async def test_live_pipeline_records_option_bars_every_n_minutes_and_at_stop(tmp_path, clock):
    settings = DataSettings(fsync_appends=False, archive_flush_minutes=5)
    store = JsonStore(PathsSettings(data_root=tmp_path), settings, clock)
    pipeline = MarketDataPipeline(clock, get_calendar(), store, settings)
    pipeline.track_instrument(OPTION)
    archive = OptionArchive(tmp_path)
    await pipeline.start()
    await _feed_minutes(pipeline, clock, 0, 3)
    await clock.run_until(ist(*DAY, 9, 18, 5))
    assert pipeline.recorder.pending == 3 and archive.days("NIFTY", "1m") == []  # batched, not per bar
    await clock.run_until(ist(*DAY, 9, 19, 1))  # 5 minutes after start: the periodic flush
    await pipeline._flush_task
    stored = archive.day("NIFTY", date(*DAY))
    assert stored.num_rows == 3 and set(stored.column("source").to_pylist()) == {"recorded"}
    assert stored.column("close").to_pylist() == [100.0, 101.0, 102.0]
    assert stored.column("volume").to_pylist() == [375, 450, 450]
    await _feed_minutes(pipeline, clock, 4, 2)
    await clock.run_until(ist(*DAY, 9, 21, 5))
    await pipeline.stop()  # shutdown flushes what is left
    assert archive.day("NIFTY", date(*DAY)).num_rows == 5 and pipeline.recorder.pending == 0


async def test_recording_can_be_switched_off(tmp_path, clock):
    settings = DataSettings(fsync_appends=False, record_option_bars=False)
    store = JsonStore(PathsSettings(data_root=tmp_path), settings, clock)
    pipeline = MarketDataPipeline(clock, get_calendar(), store, settings)
    pipeline.track_instrument(OPTION)
    await pipeline.start()
    await _feed_minutes(pipeline, clock, 0, 2)
    await clock.run_until(ist(*DAY, 9, 17, 5))
    await pipeline.stop()
    assert pipeline.recorder is None and OptionArchive(tmp_path).underlyings() == []
    assert len(store.read_bars(OPTION.symbol, Timeframe.M1)) == 2  # the JSON store still has them


async def test_end_of_day_flush_after_the_close(tmp_path):
    clock = SimClock(ist(*DAY, 15, 27))
    settings = DataSettings(fsync_appends=False, archive_flush_minutes=300)
    store = JsonStore(PathsSettings(data_root=tmp_path), settings, clock)
    pipeline = MarketDataPipeline(clock, get_calendar(), store, settings)
    pipeline.track_instrument(OPTION)
    await pipeline.start()
    for minute in (28, 29):
        for second in range(5, 60, 10):
            at = ist(*DAY, 15, minute, second)
            await clock.run_until(at)
            pipeline.on_tick(make_tick(OPTION.token, 50.0, at, symbol=OPTION.symbol, exchange=Exchange.NFO))
    await clock.run_until(ist(*DAY, 15, 30, 5))
    assert pipeline._flush_task is not None
    await pipeline._flush_task
    assert OptionArchive(tmp_path).day("NIFTY", date(*DAY)).num_rows == 2
    await pipeline.stop()
