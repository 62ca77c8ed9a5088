"""The live market-data pipeline: ticks in; raw tick files, clock-closed bars, stored bars and Bar events out.

Wire it to the feed with `MarketFeed(on_tick=pipeline.on_tick, on_health=pipeline.on_feed_health)` (or
`pipeline.attach(bus)`), call `start()` inside the event loop and `stop()` at shutdown. Bars are
appended to the store as they close (one fsynced line each) and then published, in close order,
through `publish_bar` (e.g. `EventBus.publish`). The first price of each underlying in a session is
checked against the previous daily close; a gap above the threshold is handed to `on_gap` (a caller's
hook) and published as an `Alert`. Closed 1-minute bars of tracked option contracts are
also recorded into the option archive (`OptionBarRecorder`, `data.record_option_bars`), flushed every
`data.archive_flush_minutes`, at the F&O close, on a new day and at `stop()`, in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta

from optbot.calendar import NseCalendar, Segment
from optbot.config.sections.data import DataSettings
from optbot.core.bus import EventBus
from optbot.core.clock import Clock, TimerHandle
from optbot.core.enums import Exchange, Timeframe
from optbot.core.events import Bar, Event, FeedHealth, Tick
from optbot.core.instrument import Instrument
from optbot.core.timeutil import IST
from optbot.data.archive import OptionArchive
from optbot.data.bars import BarAggregator, BarGap, SegmentSessions
from optbot.data.history import CandleSource, candle_to_bar
from optbot.data.opening_gap import OpeningGap, OpeningGapCheck, opening_gap_alert, previous_close
from optbot.data.recorder import OptionBarRecorder
from optbot.data.store import JsonStore

log = logging.getLogger("optbot.data.pipeline")

Publisher = Callable[[Event], Awaitable[None]]


class MarketDataPipeline:
    def __init__(
        self,
        clock: Clock,
        calendar: NseCalendar,
        store: JsonStore,
        settings: DataSettings,
        publish: Publisher | None = None,
        on_gap: Callable[[OpeningGap], None] | None = None,
        archive: OptionArchive | None = None,
    ) -> None:
        self.clock = clock
        self.calendar = calendar
        self.store = store
        self.settings = settings
        self.publish = publish
        self.on_gap = on_gap
        # Index/underlying bars follow the equity session, option bars the F&O session.
        self.aggregator = BarAggregator(
            clock, SegmentSessions(calendar, Segment.EQUITY), self._on_bar, settings
        )
        self.option_aggregator = BarAggregator(
            clock, SegmentSessions(calendar, Segment.FO), self._on_bar, settings
        )
        self.gap_check = OpeningGapCheck(
            settings.opening_gap_pct, lambda symbol, day: previous_close(store, symbol, day)
        )
        self.gaps_found: list[OpeningGap] = []
        self._option_tokens: set[str] = set()
        self._outbox: asyncio.Queue[Event] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._rotation: TimerHandle | None = None
        self.persist_errors = 0
        self.recovered_bars = 0
        self._option_instruments: dict[str, Instrument] = {}
        self.recorder: OptionBarRecorder | None = None
        if settings.record_option_bars:
            self.recorder = OptionBarRecorder(archive or OptionArchive(store.paths.data_root))
        self._flush_timer: TimerHandle | None = None
        self._close_timer: TimerHandle | None = None
        self._flush_task: asyncio.Task[None] | None = None

    def track(self, token: str, symbol: str, is_option: bool, check_opening_gap: bool = True) -> None:
        """Build bars for a token; underlyings are also checked for an opening gap unless told not to
        (INDIA VIX gaps are volatility, not a reason to re-centre a strike pool)."""
        (self.option_aggregator if is_option else self.aggregator).track(token, symbol, is_option)
        if is_option:
            self._option_tokens.add(token)
            self.gap_check.untrack(token)
        elif check_opening_gap:
            self.gap_check.track(token, symbol)

    def track_instrument(self, instrument: Instrument, check_opening_gap: bool = True) -> None:
        """Options are never interpolated and their incomplete bars are discarded (spec §2.4)."""
        if instrument.is_option:
            self._option_instruments[instrument.token] = instrument
        self.track(
            instrument.token,
            instrument.underlying if not instrument.is_option else instrument.symbol,
            instrument.is_option,
            check_opening_gap,
        )

    def attach(self, bus: EventBus) -> None:
        """Take ticks and feed health from the bus and publish bars and alerts back to it."""
        bus.subscribe("market-data-pipeline", (Tick, FeedHealth), self._from_bus)
        if self.publish is None:
            self.publish = bus.publish

    def _from_bus(self, event: Event) -> None:
        if isinstance(event, Tick):
            self.on_tick(event)
        elif isinstance(event, FeedHealth):
            self.on_feed_health(event)

    async def start(self) -> None:
        self._rotate()
        self.aggregator.start()
        self.option_aggregator.start()
        self._task = asyncio.create_task(self._drain(), name="market-data-outbox")
        if self.recorder is not None:
            self._schedule_flushes()

    def _rotate(self) -> None:
        """Rotate raw tick files now and again at every IST midnight (spec §2.3 today/yesterday)."""
        now = self.clock.now_ist()
        self.store.rotate_raw(now.date())
        midnight = datetime.combine(now.date() + timedelta(days=1), time(0, 0, 1), tzinfo=IST)
        self._rotation = self.clock.call_at(midnight, self._rotate)

    async def stop(self) -> None:
        if self._rotation is not None:
            self._rotation.cancel()
            self._rotation = None
        for timer in (self._flush_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._flush_timer = self._close_timer = None
        self.aggregator.stop()
        self.option_aggregator.stop()
        self.store.flush_ticks()
        await self.flush_recorded()
        await self._outbox.join()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    # -- recording option bars into the archive ---------------------------------------------------

    def _schedule_flushes(self) -> None:
        """Every `archive_flush_minutes`, plus once just after today's F&O close (the EOD flush)."""
        self._flush_timer = self.clock.call_later(
            self.settings.archive_flush_minutes * 60, self._periodic_flush
        )
        now = self.clock.now_utc()
        session = self.calendar.session(now.astimezone(IST).date(), Segment.FO)
        if session is not None and session.close_utc > now and self._close_timer is None:
            eod = session.close_utc + timedelta(seconds=self.settings.bar_close_grace_seconds + 1)
            self._close_timer = self.clock.call_at(eod, self._end_of_day_flush)

    def _end_of_day_flush(self) -> None:
        self._close_timer = None
        self._start_flush()

    def _periodic_flush(self) -> None:
        self._start_flush()
        self._schedule_flushes()

    def _start_flush(self) -> None:
        if self.recorder is None or (self._flush_task is not None and not self._flush_task.done()):
            return
        self._flush_task = asyncio.get_running_loop().create_task(self.flush_recorded(), name="archive-flush")

    async def flush_recorded(self) -> None:
        """Write buffered option bars to the archive in a worker thread (the loop keeps running)."""
        if (
            self._flush_task is not None
            and not self._flush_task.done()
            and self._flush_task is not asyncio.current_task()
        ):
            await asyncio.gather(self._flush_task, return_exceptions=True)
        if self.recorder is not None and self.recorder.pending:
            await asyncio.to_thread(self.recorder.flush)

    def _record(self, bar: Bar) -> None:
        instrument = self._option_instruments.get(bar.token)
        if self.recorder is None or instrument is None:
            return
        self.recorder.record(bar, instrument)
        if self.recorder.earlier_days_pending(bar.start_utc.astimezone(IST).date()):
            self._start_flush()

    # -- inputs --------------------------------------------------------------------------------

    def on_feed_health(self, health: FeedHealth) -> None:
        self.aggregator.on_feed_health(health)
        self.option_aggregator.on_feed_health(health)

    def on_tick(self, tick: Tick) -> None:
        if tick.ltp > 0:
            self.store.append_tick(tick)
        if tick.token in self._option_tokens:
            self.option_aggregator.on_tick(tick)
        else:
            self.aggregator.on_tick(tick)
        if self.gap_check.tracks(tick.token):
            self._check_gap(tick)

    def _check_gap(self, tick: Tick) -> None:
        gap = self.gap_check.on_tick(tick, self.aggregator.session_open_utc)
        if gap is None:
            return
        self.gaps_found.append(gap)
        alert = opening_gap_alert(gap, self.clock.now_utc())
        if self.on_gap is not None:
            self.on_gap(gap)
        self._outbox.put_nowait(alert)

    async def recover_gaps(self, source: CandleSource, exchange_for: Callable[[str], Exchange]) -> int:
        """Spec §2.4 'Data Recovery': fetch official 1m candles for recorded gaps and merge them.

        Only gaps not yet recovered are requested; each is fetched once. Returns bars merged.
        """
        pending: list[BarGap] = [gap for gap in self.aggregator.gaps if gap.action != "recovered"]
        merged = 0
        for gap in pending:
            candles = await source.candles(
                exchange_for(gap.token),
                gap.token,
                "ONE_MINUTE",
                gap.start_utc,
                gap.end_utc - timedelta(minutes=1),
            )
            bars = [
                candle_to_bar(candle, gap.symbol, gap.token, Timeframe.M1)
                for candle in candles
                if gap.start_utc <= candle.start < gap.end_utc
            ]
            if bars:
                result = self.store.merge_bars(gap.symbol, Timeframe.M1, bars)
                merged += result.added + result.replaced
            self.aggregator.gaps[self.aggregator.gaps.index(gap)] = BarGap(
                gap.token, gap.symbol, gap.start_utc, gap.end_utc, "recovered"
            )
        self.recovered_bars += merged
        return merged

    # -- outputs -------------------------------------------------------------------------------

    def _on_bar(self, bar: Bar) -> None:
        try:
            self.store.append_bar(bar)
            self.store.flush_ticks()
        except OSError:
            self.persist_errors += 1
            log.exception("could not persist %s %s bar %s", bar.symbol, bar.timeframe.value, bar.start_utc)
        self._record(bar)
        self._outbox.put_nowait(bar)

    async def _drain(self) -> None:
        while True:
            event = await self._outbox.get()
            try:
                if self.publish is not None:
                    await self.publish(event)
            except Exception:
                log.exception("publishing %s failed", type(event).__name__)
            finally:
                self._outbox.task_done()
