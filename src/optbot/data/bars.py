"""Ticks → 1-minute bars on the exchange clock, and 5m/15m/1h/daily bars built from them (spec §2.3-2.4).

Rules, stated once:

* **Buckets** are exchange-time minutes inside the calendar's session (09:15 → 15:30, or 15:40 for F&O
  from 2026-08-03). A tick is placed by its exchange timestamp when it has one, else by `ts_utc`.
  Ticks outside the session, with a non-positive price, or for an untracked token are counted and dropped.
* **Closing** happens on the Clock: a timer fires `grace` seconds after each minute boundary and closes
  every bar whose minute has ended, whether or not another tick has arrived. The next tick never
  closes a bar.
* **Late ticks** (stamped in a minute that has already been closed) are counted and not applied: a
  published bar is immutable. They still reach the raw tick log, and the end-of-day reconciliation
  against official candles records any difference they would have made.
* **Stalled feed**: a minute in which no tick of any token arrived for `feed_stall_seconds`, or during
  which a `FeedHealth` reported the feed down/stale, is *stalled*. Option bars of stalled minutes are
  discarded (spec §2.4: options are never patched); underlying bars are published with
  `complete=False`. A token with no ticks in a minute gets no bar at all - never a copied close.
* **Gaps** in an underlying shorter than `interpolate_max_gap_minutes` are filled with linearly
  interpolated bars flagged `interpolated=True` when trading resumes; longer gaps are recorded in
  `gaps` for recovery from the broker. Options are never interpolated.
* **Joining mid-session** (a start or restart after the open): the minute and the higher-timeframe
  buckets that began before the aggregator was listening are not built, because their first ticks
  were never seen (they used to be published incomplete and refused by the engine every hour with a
  warning); the broker's history covers them. Counted as `joined_late_<timeframe>`.
* **Higher timeframes** are aligned to the session open and close when their last minute closes.
  An option bar with any missing minute is discarded; an underlying bar missing minutes is published
  with `complete=False`, or discarded when one hole is longer than `discard_gap_minutes`.
  The daily bar is built from the session's 1h bars at the close.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from optbot.calendar import NseCalendar, Segment
from optbot.config.sections.data import DataSettings
from optbot.core.clock import Clock, TimerHandle
from optbot.core.enums import Timeframe
from optbot.core.errors import UserError
from optbot.core.events import Bar, FeedHealth, Tick
from optbot.core.timeutil import IST

log = logging.getLogger("optbot.data.bars")

HIGHER_TIMEFRAMES = (Timeframe.M5, Timeframe.M15, Timeframe.H1)
#: How many days ahead to look for the next session (long holiday runs).
SESSION_LOOKAHEAD_DAYS = 15


class SessionLike(Protocol):
    @property
    def open_utc(self) -> datetime: ...

    @property
    def close_utc(self) -> datetime: ...


class SessionCalendar(Protocol):
    """What the aggregator needs of `optbot.calendar.NseCalendar`."""

    def session(self, day: date) -> SessionLike | None: ...


class SegmentSessions:
    """Adapts `NseCalendar` to one segment: index ticks follow the equity session (15:30) while
    F&O contracts follow the F&O one (15:40 from 2026-08-03)."""

    def __init__(self, calendar: NseCalendar, segment: Segment) -> None:
        self.calendar = calendar
        self.segment = segment

    def session(self, day: date) -> SessionLike | None:
        return self.calendar.session(day, self.segment)


@dataclass(frozen=True, slots=True)
class BarGap:
    """A run of minutes with no bar for a token; `action` says what the rules did about it."""

    token: str
    symbol: str
    start_utc: datetime
    end_utc: datetime
    action: str  # interpolated | recover | discarded

    @property
    def minutes(self) -> int:
        return int((self.end_utc - self.start_utc).total_seconds() // 60)


@dataclass
class AggregatorStats:
    ticks: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    bars_published: Counter[str] = field(default_factory=Counter)
    bars_discarded: Counter[str] = field(default_factory=Counter)
    interpolated_bars: int = 0
    late_ticks: int = 0
    stalled_minutes: int = 0


class _Accumulator:
    __slots__ = ("close", "count", "high", "low", "open", "open_interest", "start", "volume", "volume_base")

    def __init__(self, start: int, price: float, volume_base: int | None) -> None:
        self.start = start
        self.open = self.high = self.low = self.close = price
        self.count = 1
        self.volume = 0
        self.volume_base = volume_base
        self.open_interest: int | None = None


@dataclass
class _TokenState:
    token: str
    symbol: str
    is_option: bool
    current: _Accumulator | None = None
    waiting: dict[int, _Accumulator] = field(default_factory=dict)
    last_cumulative_volume: int | None = None
    last_bar: Bar | None = None
    minute_bars: list[Bar] = field(default_factory=list)  # this session's 1m bars, for higher timeframes
    hour_bars: list[Bar] = field(default_factory=list)  # this session's 1h bars, for the daily bar


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


class BarAggregator:
    def __init__(
        self,
        clock: Clock,
        calendar: SessionCalendar,
        on_bar: Callable[[Bar], None],
        settings: DataSettings | None = None,
    ) -> None:
        self.clock = clock
        self.calendar = calendar
        self.on_bar = on_bar
        self.settings = settings or DataSettings()
        self.stats = AggregatorStats()
        self.gaps: list[BarGap] = []
        self._states: dict[str, _TokenState] = {}
        self._open_epoch = 0
        self._close_epoch = 0
        self._session_day: date | None = None
        self._closed_until = 0  # every minute ending at or before this epoch is closed
        self._observed_from = 0  # buckets starting before this epoch began before we listened
        self._timer: TimerHandle | None = None
        self._last_tick_clock: float | None = None  # Clock.monotonic() when the last tick arrived
        self._stalled_minutes: set[int] = set()
        self._grace = self.settings.bar_close_grace_seconds

    # -- registration and lifecycle ------------------------------------------------------------

    def track(self, token: str, symbol: str, is_option: bool) -> None:
        if token not in self._states:
            self._states[token] = _TokenState(token, symbol, is_option)

    def untrack(self, token: str) -> None:
        """Stop building bars for a token (after its open minute has closed)."""
        self._states.pop(token, None)

    @property
    def session_open_utc(self) -> datetime | None:
        return _utc(self._open_epoch) if self._session_day else None

    @property
    def session_close_utc(self) -> datetime | None:
        return _utc(self._close_epoch) if self._session_day else None

    def start(self) -> None:
        """Load the current (or next) session and arm the minute timer."""
        self._load_session(self.clock.now_utc())
        self._arm()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _load_session(self, moment: datetime) -> None:
        day = moment.astimezone(IST).date()
        for offset in range(SESSION_LOOKAHEAD_DAYS):
            candidate = day + timedelta(days=offset)
            try:
                session = self.calendar.session(candidate)
            except UserError as exc:  # beyond the calendar's known range: no session to build bars for
                log.error("bar aggregator cannot load a session: %s", exc)
                break
            if session is None or session.close_utc <= moment:
                continue
            if candidate != self._session_day:
                self._session_day = candidate
                self._open_epoch = int(session.open_utc.timestamp())
                self._close_epoch = int(session.close_utc.timestamp())
                self._closed_until = self._open_epoch
                self._observed_from = max(self._open_epoch, -(-int(moment.timestamp()) // 60) * 60)
                if self._observed_from > self._open_epoch:
                    log.info(
                        "bar aggregator joined the session at %s: bars that began earlier are not built "
                        "(history covers them)",
                        _utc(self._observed_from).astimezone(IST).strftime("%H:%M"),
                    )
                self._stalled_minutes.clear()
                for state in self._states.values():
                    state.minute_bars.clear()
                    state.hour_bars.clear()
                    state.last_bar = None
                    state.last_cumulative_volume = None
                log.info("bar aggregator session %s %s..%s", candidate, session.open_utc, session.close_utc)
            return
        self._session_day = None
        log.warning("no trading session within %d days of %s", SESSION_LOOKAHEAD_DAYS, day)

    def _arm(self) -> None:
        if self._session_day is None:
            return
        now_epoch = self.clock.now_utc().timestamp()
        boundary = max(self._closed_until + 60, int(now_epoch // 60) * 60)
        boundary = min(max(boundary, self._open_epoch + 60), self._close_epoch)
        self._timer = self.clock.call_at(_utc(boundary) + timedelta(seconds=self._grace), self._on_timer)

    def _on_timer(self) -> None:
        boundary = int((self.clock.now_utc() - timedelta(seconds=self._grace)).timestamp() // 60) * 60
        boundary = min(boundary, self._close_epoch)
        self.close_through(boundary)
        if boundary >= self._close_epoch:
            self._close_session()
            self._load_session(self.clock.now_utc() + timedelta(seconds=1))
        self._arm()

    # -- ticks ---------------------------------------------------------------------------------

    def on_feed_health(self, health: FeedHealth) -> None:
        if not health.connected or health.stale_seconds >= self.settings.feed_stall_seconds:
            minute = int(health.ts_utc.timestamp() // 60) * 60
            self._stalled_minutes.add(minute)

    def on_tick(self, tick: Tick) -> None:
        self.stats.ticks += 1
        price = tick.ltp
        if not price > 0:
            self._drop("non_positive_price", tick)
            return
        moment = tick.ts_exchange or tick.ts_utc
        epoch = moment.timestamp()
        if not self._open_epoch <= epoch < self._close_epoch:
            self._drop("outside_session", tick)
            return
        state = self._states.get(tick.token)
        if state is None:
            self._drop("untracked_token", tick)
            return
        self._last_tick_clock = self.clock.monotonic()
        bucket = int(epoch) - int(epoch) % 60
        accumulator = state.current
        if accumulator is None or accumulator.start != bucket:
            if bucket < self._closed_until:
                self.stats.late_ticks += 1
                self._drop("late_tick", tick)
                return
            accumulator = self._switch(state, bucket, price)
            if accumulator is None:
                return
        else:
            accumulator.count += 1
            if price > accumulator.high:
                accumulator.high = price
            elif price < accumulator.low:
                accumulator.low = price
            accumulator.close = price
        volume = tick.volume
        if volume is not None:
            base = accumulator.volume_base
            if base is None or volume < base:  # first cumulative value or a day-reset
                accumulator.volume_base = base = volume - (tick.last_quantity or 0)
            accumulator.volume = volume - base
            state.last_cumulative_volume = volume
        elif tick.last_quantity:
            accumulator.volume += tick.last_quantity
        if tick.open_interest is not None:
            accumulator.open_interest = tick.open_interest

    def _drop(self, reason: str, tick: Tick) -> None:
        """Count a refused tick; log the first of each reason and then every 1000th."""
        self.stats.dropped[reason] += 1
        count = self.stats.dropped[reason]
        if count == 1 or count % 1000 == 0:
            log.warning(
                "tick dropped: reason=%s count=%d token=%s ltp=%s ts=%s",
                reason,
                count,
                tick.token,
                tick.ltp,
                (tick.ts_exchange or tick.ts_utc).isoformat(),
            )

    def _switch(self, state: _TokenState, bucket: int, price: float) -> _Accumulator | None:
        """A tick for another minute than the current one: start or update that minute's bar."""
        existing = state.waiting.get(bucket)
        if existing is not None:  # an out-of-order tick for a minute not yet closed
            existing.count += 1
            existing.high = max(existing.high, price)
            existing.low = min(existing.low, price)
            existing.close = price
            return None
        current = state.current
        if current is not None:
            if bucket < current.start:
                created = _Accumulator(bucket, price, None)
                state.waiting[bucket] = created
                return None
            state.waiting[current.start] = current
        created = _Accumulator(bucket, price, state.last_cumulative_volume)
        state.current = created
        return created

    # -- closing -------------------------------------------------------------------------------

    def _minute_stalled(self, minute_end: int) -> bool:
        """Stalled when the feed said so, or when no tick *arrived* (on our clock, not by the exchange's
        stamps, which may lag) for `feed_stall_seconds` before the minute ended."""
        if (minute_end - 60) in self._stalled_minutes:
            return True
        last = self._last_tick_clock
        if last is None:
            return False
        since_minute_end = self.clock.now_utc().timestamp() - minute_end
        minute_end_clock = self.clock.monotonic() - since_minute_end
        return minute_end_clock - last > self.settings.feed_stall_seconds

    def close_through(self, boundary: int) -> None:
        """Close every minute that ends at or before `boundary` (epoch seconds)."""
        while self._closed_until < boundary:
            minute_end = self._closed_until + 60
            stalled = self._minute_stalled(minute_end)
            if stalled:
                self.stats.stalled_minutes += 1
            for state in list(self._states.values()):
                accumulator = None
                if state.current is not None and state.current.start == minute_end - 60:
                    accumulator = state.current
                    state.current = None
                elif minute_end - 60 in state.waiting:
                    accumulator = state.waiting.pop(minute_end - 60)
                if accumulator is not None:
                    self._close_minute(state, accumulator, stalled)
            self._closed_until = minute_end
            self._close_higher(minute_end)

    def _close_minute(self, state: _TokenState, accumulator: _Accumulator, stalled: bool) -> None:
        if accumulator.start < self._observed_from:  # a minute we joined part-way through
            self.stats.bars_discarded[f"joined_late_{Timeframe.M1.value}"] += 1
            return
        if stalled and state.is_option:
            self.stats.bars_discarded["option_stalled_1m"] += 1
            return
        start = _utc(accumulator.start)
        bar = Bar(
            ts_utc=self.clock.now_utc(),
            token=state.token,
            symbol=state.symbol,
            timeframe=Timeframe.M1,
            start_utc=start,
            end_utc=start + timedelta(minutes=1),
            open=accumulator.open,
            high=accumulator.high,
            low=accumulator.low,
            close=accumulator.close,
            volume=accumulator.volume,
            open_interest=accumulator.open_interest,
            tick_count=accumulator.count,
            complete=not stalled,
        )
        if not state.is_option:
            self._fill_gap(state, bar)
        self._emit(state, bar)

    def _fill_gap(self, state: _TokenState, bar: Bar) -> None:
        previous = state.last_bar
        if previous is None or previous.end_utc >= bar.start_utc:
            return
        missing = int((bar.start_utc - previous.end_utc).total_seconds() // 60)
        if missing < self.settings.interpolate_max_gap_minutes:
            step = (bar.open - previous.close) / (missing + 1)
            for index in range(1, missing + 1):
                price = previous.close + step * index
                start = previous.end_utc + timedelta(minutes=index - 1)
                filler = Bar(
                    ts_utc=bar.ts_utc,
                    token=state.token,
                    symbol=state.symbol,
                    timeframe=Timeframe.M1,
                    start_utc=start,
                    end_utc=start + timedelta(minutes=1),
                    open=price,
                    high=price,
                    low=price,
                    close=price,
                    interpolated=True,
                )
                self.stats.interpolated_bars += 1
                self._emit(state, filler)
            action = "interpolated"
        else:
            action = "discarded" if missing > self.settings.discard_gap_minutes else "recover"
        self.gaps.append(BarGap(state.token, state.symbol, previous.end_utc, bar.start_utc, action))

    def _emit(self, state: _TokenState, bar: Bar) -> None:
        if bar.timeframe is Timeframe.M1:
            state.last_bar = bar
            state.minute_bars.append(bar)
        self.stats.bars_published[bar.timeframe.value] += 1
        self.on_bar(bar)

    def _bucket_end(self, start_epoch: int, seconds: int) -> int:
        index = (start_epoch - self._open_epoch) // seconds
        return min(self._open_epoch + (index + 1) * seconds, self._close_epoch)

    def _close_higher(self, minute_end: int) -> None:
        for timeframe in HIGHER_TIMEFRAMES:
            seconds = timeframe.seconds
            if (minute_end - self._open_epoch) % seconds != 0 and minute_end != self._close_epoch:
                continue
            bucket_start = self._open_epoch + ((minute_end - 1 - self._open_epoch) // seconds) * seconds
            if bucket_start < self._observed_from:
                self.stats.bars_discarded[f"joined_late_{timeframe.value}"] += len(self._states)
                continue
            for state in self._states.values():
                self._build(state, timeframe, bucket_start, minute_end, state.minute_bars)

    def _build(
        self, state: _TokenState, timeframe: Timeframe, start_epoch: int, end_epoch: int, source: list[Bar]
    ) -> Bar | None:
        start, end = _utc(start_epoch), _utc(end_epoch)
        parts = [bar for bar in source if start <= bar.start_utc < end]
        if not parts:
            return None
        parts.sort(key=lambda bar: bar.start_utc)
        unit = source[0].end_utc - source[0].start_utc
        expected = int((end - start) / unit)
        longest_hole = self._longest_hole(parts, start, end, unit)
        missing = expected - len(parts)
        if state.is_option and (missing > 0 or not all(bar.complete for bar in parts)):
            self.stats.bars_discarded[f"option_incomplete_{timeframe.value}"] += 1
            return None
        if longest_hole > timedelta(minutes=self.settings.discard_gap_minutes):
            self.stats.bars_discarded[f"gap_{timeframe.value}"] += 1
            return None
        bar = Bar(
            ts_utc=self.clock.now_utc(),
            token=state.token,
            symbol=state.symbol,
            timeframe=timeframe,
            start_utc=start,
            end_utc=end,
            open=parts[0].open,
            high=max(bar.high for bar in parts),
            low=min(bar.low for bar in parts),
            close=parts[-1].close,
            volume=sum(bar.volume for bar in parts),
            open_interest=parts[-1].open_interest,
            tick_count=sum(bar.tick_count for bar in parts),
            interpolated=any(bar.interpolated for bar in parts),
            complete=missing == 0 and all(bar.complete for bar in parts),
        )
        if timeframe is Timeframe.H1:
            state.hour_bars.append(bar)
        self._emit(state, bar)
        return bar

    @staticmethod
    def _longest_hole(parts: list[Bar], start: datetime, end: datetime, unit: timedelta) -> timedelta:
        longest = parts[0].start_utc - start
        for before, after in itertools.pairwise(parts):
            longest = max(longest, after.start_utc - before.end_utc)
        return max(longest, end - parts[-1].end_utc)

    def _close_session(self) -> None:
        """Daily bars from the session's 1h bars, then forget the session's intraday state."""
        whole_session = self._observed_from <= self._open_epoch
        for state in self._states.values():
            if state.hour_bars and whole_session:
                self._daily(state, state.hour_bars)
            elif state.hour_bars:
                self.stats.bars_discarded[f"joined_late_{Timeframe.D1.value}"] += 1
            state.hour_bars = []
            state.minute_bars = []

    def _daily(self, state: _TokenState, hours: list[Bar]) -> None:
        open_utc, close_utc = _utc(self._open_epoch), _utc(self._close_epoch)
        expected = -(-(self._close_epoch - self._open_epoch) // Timeframe.H1.seconds)
        if state.is_option and len(hours) < expected:
            self.stats.bars_discarded["option_incomplete_daily"] += 1
            return
        bar = Bar(
            ts_utc=self.clock.now_utc(),
            token=state.token,
            symbol=state.symbol,
            timeframe=Timeframe.D1,
            start_utc=open_utc,
            end_utc=close_utc,
            open=hours[0].open,
            high=max(bar.high for bar in hours),
            low=min(bar.low for bar in hours),
            close=hours[-1].close,
            volume=sum(bar.volume for bar in hours),
            open_interest=hours[-1].open_interest,
            tick_count=sum(bar.tick_count for bar in hours),
            interpolated=any(bar.interpolated for bar in hours),
            complete=len(hours) == expected and all(bar.complete for bar in hours),
        )
        self._emit(state, bar)
