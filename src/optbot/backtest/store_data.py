"""What a data root holds for a backtest: index and INDIA VIX bars from the §2.1 JSON store.

Whatever is in the store drives the replay (imported files, `optbot data download`, bars the live bot
recorded), whatever its source file was called. Each instrument and day uses the finest intraday
timeframe stored for that day (1m, then 3m, 5m, 15m). Where the index has no intraday bars that day
but its near-month future (`<NAME>-I`, e.g. BANKNIFTY-I) has over the session, the future's bars stand
in, shifted by the day's basis (declared as "futures 1m" in the coverage table; the path is the
future's; no volume, as an index feed has none). The basis is measured against the put-call-parity
spot where the option archive has that day's call/put bars (the median premium over the day's
minutes), else against the index's official daily close (the future's last close minus it). Where
the future does not cover the day either, the index is derived from the option bars by put-call
parity ("parity 1m", `optbot.backtest.parity_spot`: FINNIFTY in the bundled sample). A day with only
a daily bar is replayed as one bar spanning the session, a declared last resort the coverage table
flags. Higher timeframes the strategies read (5m, 15m, 1h, daily, and any other the strategies ask
for) are rolled up from the day's base bars on the session grid, as the live bar pipeline builds them
from 1-minute bars.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice, pairwise
from operator import attrgetter, gt
from pathlib import Path
from statistics import median

from optbot.analytics.futures_forward import futures_name
from optbot.analytics.synthetic import last_week_return
from optbot.backtest.parity_spot import PARITY_SOURCE_PREFIX, ParityDay, ParitySpot
from optbot.calendar import NseCalendar, Segment, TradingSession
from optbot.config.sections.data import DataSettings
from optbot.config.sections.paths import PathsSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Timeframe
from optbot.core.events import Bar, relabel_bar
from optbot.core.heap import cyclic_gc_paused
from optbot.core.timeutil import IST, ist_date
from optbot.data.store import JsonStore, store_symbol

#: Finest first.
INTRADAY_TIMEFRAMES: tuple[Timeframe, ...] = (Timeframe.M1, Timeframe.M3, Timeframe.M5, Timeframe.M15)
ROLLED_TIMEFRAMES: tuple[Timeframe, ...] = (Timeframe.M5, Timeframe.M15, Timeframe.H1)
DAILY_SOURCE = "daily"
FUTURES_SOURCE_PREFIX = "futures "


def base_timeframe(source: str) -> Timeframe:
    """The timeframe of a day's base bars from its coverage source ("1m", "futures 5m", "parity 1m",
    "daily")."""
    return Timeframe(source.removeprefix(FUTURES_SOURCE_PREFIX).removeprefix(PARITY_SOURCE_PREFIX))


def can_roll(base: Timeframe, timeframe: Timeframe) -> bool:
    """Whether `timeframe` bars can be built from `base` bars (a whole multiple of them)."""
    return timeframe.seconds > base.seconds and timeframe.seconds % base.seconds == 0


@dataclass(frozen=True, slots=True)
class IndexDay:
    """One instrument's bars for one session: the base bars that drive it and where they came from."""

    source: str  # "1m", "3m", "5m", "15m", "futures 1m" (...) or "daily"
    bars: tuple[Bar, ...]

    @property
    def is_daily_fallback(self) -> bool:
        return self.source == DAILY_SOURCE

    @property
    def timeframe(self) -> Timeframe:
        return base_timeframe(self.source)


def roll_up(
    bars: Sequence[Bar],
    timeframe: Timeframe,
    open_utc: datetime,
    close_utc: datetime,
    label: Label | None = None,
    offsets: Sequence[int] | None = None,
) -> list[Bar]:
    """`bars` (one session, one finer timeframe, in order) rolled up to `timeframe` on the session grid
    (buckets from the open; the last one ends at the close). A bucket with a missing part is marked
    incomplete (the strategies' context refuses it, as it refuses the live pipeline's). `label`
    (token, symbol) names the rolled bars (default: their first part's); `offsets` are the bars'
    starts in microseconds from the open (`bar_offsets`), computed once for every timeframe.

    One pass: bars in start order fill their buckets one after another, each bucket's high, low,
    volume and completeness kept as it goes (what max/min/sum/all over its parts give)."""
    if not bars or not can_roll(bars[0].timeframe, timeframe):
        return []
    span_us = timeframe.seconds * 1_000_000
    starts = offsets if offsets is not None else bar_offsets(bars, open_utc)
    # int(offset / span): what int((start - open) / span) gives for timedeltas (truncated, not floored)
    indices = [int(offset / span_us) for offset in starts]
    if any(map(gt, indices, islice(indices, 1, None))):  # not in start order (a later one is lower)
        return _roll_up_unordered(bars, indices, timeframe, open_utc, close_utc, label)
    builder = _Buckets(bars[0].end_utc - bars[0].start_utc, timeframe, open_utc, close_utc, label)
    rolled = builder.rolled
    current = indices[0]
    first = last = bars[0]
    high, low, volume, count, complete = first.high, first.low, 0, 0, True
    for bar, index in zip(bars, indices, strict=True):
        if index != current:
            builder.emit(current, first, last, high, low, volume, count, complete)
            current, first = index, bar
            high, low, volume, count, complete = bar.high, bar.low, 0, 0, True
        else:
            if bar.high > high:
                high = bar.high
            if bar.low < low:
                low = bar.low
        last = bar
        volume += bar.volume
        count += 1
        if not bar.complete:
            complete = False
    builder.emit(current, first, last, high, low, volume, count, complete)
    return rolled


class _Buckets:
    """Builds the rolled bars of `roll_up` from each bucket's aggregates."""

    def __init__(
        self,
        unit: timedelta,
        timeframe: Timeframe,
        open_utc: datetime,
        close_utc: datetime,
        label: Label | None,
    ) -> None:
        self.unit, self.timeframe, self.label = unit, timeframe, label
        self.open_utc, self.close_utc = open_utc, close_utc
        self.span = timedelta(seconds=timeframe.seconds)
        #: parts of a whole bucket (only the last one, cut at the close, can have fewer)
        self.whole = -(-self.span // unit)
        self.rolled: list[Bar] = []

    def emit(
        self,
        index: int,
        first: Bar,
        last: Bar,
        high: float,
        low: float,
        volume: int,
        count: int,
        complete: bool,
    ) -> None:
        start = self.open_utc + index * self.span
        end = start + self.span
        expected = self.whole
        if end > self.close_utc:
            end = self.close_utc
            expected = -(-(end - start) // self.unit)
        token, symbol = self.label if self.label is not None else (first.token, first.symbol)
        self.rolled.append(
            Bar(
                end,
                token,
                symbol,
                self.timeframe,
                start,
                end,
                first.open,
                high,
                low,
                last.close,
                volume,
                last.open_interest,
                0,
                False,
                count == expected and complete,
            )
        )


def _roll_up_unordered(
    bars: Sequence[Bar],
    indices: Sequence[int],
    timeframe: Timeframe,
    open_utc: datetime,
    close_utc: datetime,
    label: Label | None,
) -> list[Bar]:
    """`roll_up` of bars that are not in start order: each bucket's parts in the order given."""
    buckets: dict[int, list[Bar]] = {}
    for bar, index in zip(bars, indices, strict=True):
        buckets.setdefault(index, []).append(bar)
    builder = _Buckets(bars[0].end_utc - bars[0].start_utc, timeframe, open_utc, close_utc, label)
    for index in sorted(buckets):
        parts = buckets[index]
        builder.emit(
            index,
            parts[0],
            parts[-1],
            max(part.high for part in parts),
            min(part.low for part in parts),
            sum(part.volume for part in parts),
            len(parts),
            all(part.complete for part in parts),
        )
    return builder.rolled


_MICROSECOND = timedelta(microseconds=1)


def bar_offsets(bars: Sequence[Bar], open_utc: datetime) -> list[int]:
    """Each bar's start in whole microseconds from `open_utc` (a session's roll-ups share them)."""
    return [(bar.start_utc - open_utc) // _MICROSECOND for bar in bars]


#: Parsed series by bar file and the label its bars were read under, with the file's (mtime, size)
#: when parsed: a changed file is read again.
_PARSED: dict[tuple[Path, Label | None], tuple[tuple[int, int], dict[date, tuple[Bar, ...]]]] = {}


#: Sessions' bars (base, rolled up, daily) by data root, instrument, day and the timeframes rolled up,
#: with the files' identity.
FilesIdentity = tuple[tuple[int, int], ...]
SessionBars = tuple[IndexDay, tuple[Bar, ...]]
#: (token, symbol) a session's bars are labelled with (the instrument master's index row), or None
#: for the bars as stored.
Label = tuple[str, str]
SessionKey = tuple[Path, str, date, tuple[Timeframe, ...]]  # data root, instrument, day, rolled timeframes
_SESSIONS: dict[
    tuple[Path, str, date, tuple[Timeframe, ...], Label | None], tuple[FilesIdentity, SessionBars | None]
] = {}


class StoreHistory:
    """Index/VIX bars of one data root, loaded once per instrument and timeframe, grouped by IST day."""

    def __init__(
        self,
        data_root: Path,
        calendar: NseCalendar,
        data: DataSettings | None = None,
        rolled: Sequence[Timeframe] = ROLLED_TIMEFRAMES,
        parity: ParitySpot | None = None,
        futures_min_coverage: float = 0.95,
        labels: Mapping[str, Label] | None = None,
    ) -> None:
        self.data_root = data_root
        #: (token, symbol) each instrument's own bars are read under, by name (the replay's instrument
        #: master rows): its bars are built once, already as the replay names them, instead of as stored
        #: and then again relabelled (a year of minute bars). Without one, the stored token and symbol.
        self.labels = {store_symbol(name): label for name, label in (labels or {}).items()}
        #: Index bars implied by the option archive (put-call parity), where the index has none.
        self.parity = parity
        #: A near-month future stands in for the index only over this share of the session's bars.
        self.futures_min_coverage = futures_min_coverage
        self.calendar = calendar
        #: Timeframes built from each day's base bars (the standard ones plus what strategies ask for).
        self.rolled = tuple(sorted(set(rolled), key=lambda timeframe: timeframe.seconds))
        # The clock only stamps a quarantined corrupt file's name; reading never needs the wall clock.
        self.store = JsonStore(
            PathsSettings(data_root=data_root),
            data or DataSettings(),
            SimClock(datetime(2000, 1, 1, tzinfo=UTC)),
        )
        self._series: dict[tuple[str, Timeframe], dict[date, tuple[Bar, ...]]] = {}
        self._days: dict[str, list[date]] = {}
        self._identities: dict[str, FilesIdentity] = {}
        self._held: dict[str, bool] = {}

    def has(self, name: str) -> bool:
        """Whether the data root can replay `name`: stored bars, or option bars to derive it from."""
        if self._stored(name):
            return True
        return self.parity is not None and bool(self.parity.days(name))

    def _stored(self, name: str) -> bool:
        """Whether the store holds any bar file of `name`: looked at once per history, as its series
        are read once (a day without the index's intraday bars asks about its future every time)."""
        found = self._held.get(name)
        if found is None:
            found = self._held[name] = bool(self.store.timeframes(store_symbol(name)))
        return found

    def _by_day(self, name: str, timeframe: Timeframe) -> dict[date, tuple[Bar, ...]]:
        key = (store_symbol(name), timeframe)
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = self._load_by_day(key[0], timeframe)
        return found

    def _load_by_day(self, symbol: str, timeframe: Timeframe) -> dict[date, tuple[Bar, ...]]:
        """One stored series grouped by IST day, parsed once per process while the file is unchanged
        (an optimisation runs hundreds of backtests over the same data root: parsing the JSON store
        was over half of each one). Bars are frozen, so every reader can share them."""
        path = self.store.bar_path(symbol, timeframe)
        try:
            status = path.stat()
        except FileNotFoundError:
            return {}
        identity = (status.st_mtime_ns, status.st_size)
        label = self.labels.get(symbol)
        key = (path.resolve(), label)
        cached = _PARSED.get(key)
        if cached is not None and cached[0] == identity:
            return cached[1]
        with cyclic_gc_paused():  # a year of bars: no cycle, and nothing for the collector to walk
            found = self._group_by_day(self.store.load(symbol, timeframe, label)[0])
        _PARSED[key] = (identity, found)
        return found

    @staticmethod
    def _group_by_day(bars: list[Bar]) -> dict[date, tuple[Bar, ...]]:
        """Bars in start order grouped by IST day, each flagged complete (see below). A day's bars
        are one run of the list: its end is found by bisecting the starts, and the run is sliced
        (a year of minute bars is ~250 runs, not ~94,000 steps)."""
        # An import flags every bar of a day that misses some as incomplete; each stored bar is
        # still a whole bar (a missing one shows as an incomplete roll-up).
        if not all(bar.complete for bar in bars):
            bars = [bar if bar.complete else replace(bar, complete=True) for bar in bars]
        starts = [bar.start_utc for bar in bars]
        if any(later < earlier for earlier, later in pairwise(starts)):
            return StoreHistory._group_unordered(bars)
        grouped: dict[date, tuple[Bar, ...]] = {}
        first, count = 0, len(bars)
        while first < count:
            day = ist_date(starts[first])
            # in UTC, as the store's times are: aware datetimes with one tzinfo compare without offsets
            day_end = datetime.combine(day + timedelta(days=1), time(), tzinfo=IST).astimezone(UTC)
            end = bisect_left(starts, day_end, first)
            grouped[day] = tuple(bars[first:end])
            first = end
        return grouped

    @staticmethod
    def _group_unordered(bars: list[Bar]) -> dict[date, tuple[Bar, ...]]:
        """`_group_by_day` of bars not in start order: each day's bars in the order given."""
        grouped: dict[date, list[Bar]] = {}
        for bar in bars:
            grouped.setdefault(ist_date(bar.start_utc), []).append(bar)
        return {day: tuple(items) for day, items in grouped.items()}

    def days(self, name: str) -> list[date]:
        """Every day the store holds any bar for `name` (intraday or daily), in order."""
        found = self._days.get(name)
        if found is None:
            held: set[date] = set()
            for timeframe in (*INTRADAY_TIMEFRAMES, Timeframe.D1):
                held.update(self._by_day(name, timeframe))
            if self.has(futures_name(name)):
                for timeframe in INTRADAY_TIMEFRAMES:
                    held.update(self._by_day(futures_name(name), timeframe))
            if self.parity is not None:
                held.update(self.parity.days(name))
            found = self._days[name] = sorted(held)
        return found

    def day(self, name: str, day: date) -> IndexDay | None:
        """The finest stored bars of `day`; else the near-month future's shifted to the index; else
        the index implied by the option bars (put-call parity); else its daily bar spread over the
        session; else None (see the module docstring)."""
        for timeframe in INTRADAY_TIMEFRAMES:
            bars = self._by_day(name, timeframe).get(day)
            if bars:
                return IndexDay(timeframe.value, bars)
        session = self.calendar.session(day, Segment.EQUITY) if self.calendar.covers(day) else None
        if session is None:
            return None
        daily = self._by_day(name, Timeframe.D1).get(day)
        parity = self._parity_day(name, day)
        futures = self._futures_day(name, day, daily[-1] if daily else None, parity, session)
        if futures is not None:
            return futures
        if parity is not None:
            return IndexDay(f"{PARITY_SOURCE_PREFIX}{parity.timeframe.value}", parity.bars)
        if not daily:
            return None
        spread = replace(
            daily[-1], start_utc=session.open_utc, end_utc=session.close_utc, ts_utc=session.close_utc
        )
        return IndexDay(DAILY_SOURCE, (spread,))

    def _parity_day(self, name: str, day: date) -> ParityDay | None:
        """The index implied by the day's option bars (None without an archive or pairs)."""
        return self.parity.day(name, day) if self.parity is not None else None

    def _futures_day(
        self,
        name: str,
        day: date,
        daily: Bar | None,
        parity: ParityDay | None,
        session: TradingSession,
    ) -> IndexDay | None:
        """The future's finest bars of the day shifted by the basis: the median of (future - parity
        spot) over the minutes both have where the option bars give the spot, else (the future's last
        close - the index's official close). None when the future has no bars that day, covers less
        than `futures_min_coverage` of the session, stops before the close (the basis would be stale)
        or neither basis exists."""
        future = futures_name(name)
        if not self.has(future):
            return None
        for timeframe in INTRADAY_TIMEFRAMES:
            bars = self._by_day(future, timeframe).get(day)
            if not bars:
                continue
            expected = (session.close_utc - session.open_utc) / timedelta(seconds=timeframe.seconds)
            if bars[-1].end_utc != session.close_utc or len(bars) < self.futures_min_coverage * expected:
                return None
            basis = self._basis(bars, daily, parity)
            if basis is None:
                return None
            shifted = tuple(
                replace(
                    bar,
                    symbol=name,
                    open=round(bar.open - basis, 2),
                    high=round(bar.high - basis, 2),
                    low=round(bar.low - basis, 2),
                    close=round(bar.close - basis, 2),
                    volume=0,  # an index has no volume: the future's would feed volume checks live never sees
                    open_interest=None,
                )
                for bar in bars
            )
            return IndexDay(f"{FUTURES_SOURCE_PREFIX}{timeframe.value}", shifted)
        return None

    @staticmethod
    def _basis(bars: Sequence[Bar], daily: Bar | None, parity: ParityDay | None) -> float | None:
        """The future's premium over the index that day (see `_futures_day`)."""
        if parity is not None:
            spot = {bar.end_utc: bar.close for bar in parity.bars}
            premiums = [bar.close - spot[bar.end_utc] for bar in bars if bar.end_utc in spot]
            if premiums:
                return round(median(premiums), 2)
        return bars[-1].close - daily.close if daily is not None else None

    def future_bars(self, name: str, day: date) -> tuple[Bar, ...]:
        """The near-month future's (`NAME-I`) finest stored intraday bars of `day`, as traded (no
        basis shift); empty when the store has none that day."""
        future = futures_name(name)
        if not self._stored(future):
            return ()
        for timeframe in INTRADAY_TIMEFRAMES:
            bars = self._by_day(future, timeframe).get(day)
            if bars:
                return bars
        return ()

    def daily_bar(self, name: str, day: date) -> Bar | None:
        """The stored daily bar (official OHLC) of `day`, if any."""
        found = self._by_day(name, Timeframe.D1).get(day)
        return found[-1] if found else None

    def session_daily_bar(self, name: str, day: date) -> Bar | None:
        """The day's daily bar as `session_bars` gives it (the stored one on the session grid, else one
        built from the intraday bars), without building the intraday bars when a daily bar is stored:
        a warm-up reads years of days for their daily bars only."""
        session = self.calendar.session(day, Segment.EQUITY) if self.calendar.covers(day) else None
        if session is None:
            return None
        daily = self.daily_bar(name, day)
        if daily is not None:
            return replace(
                daily, start_utc=session.open_utc, end_utc=session.close_utc, ts_utc=session.close_utc
            )
        found = self.session_bars(name, day)
        if found is None:
            return None
        return next((bar for bar in reversed(found[1]) if bar.timeframe is Timeframe.D1), None)

    def previous_close(self, name: str, day: date) -> float | None:
        """The close of the last stored session before `day` (daily bar, else the last intraday bar)."""
        held = self.days(name)
        for earlier in reversed(held[: bisect_left(held, day)]):
            bar = self.daily_bar(name, earlier)
            if bar is not None:
                return bar.close
            found = self.day(name, earlier)
            if found is not None:
                return found.bars[-1].close
        return None

    @property
    def identity(self) -> str:
        """What the recent returns come from (a shared valuation table is per data root)."""
        return f"store {self.data_root.resolve()}"

    def recent_return(self, name: str, day: date) -> float | None:
        """ln(last close before `day` / the close `RECENT_RETURN_SESSIONS` stored sessions before it):
        the underlying's last week as known at the day's open, what the synthetic model's ATM vol
        responds to (`optbot.analytics.synthetic.RecentReturns`). Closes are the index's own (its daily
        bar, else its last stored intraday bar; never a future or parity stand-in, which would cost a
        rebuilt day each); None without enough of them."""
        held = self.days(name)
        return last_week_return(
            self._session_close(name, earlier) for earlier in reversed(held[: bisect_left(held, day)])
        )

    def _session_close(self, name: str, day: date) -> float | None:
        bar = self.daily_bar(name, day) or self._last_intraday_bar(name, day)
        return bar.close if bar is not None else None

    def _last_intraday_bar(self, name: str, day: date) -> Bar | None:
        """The index's own last stored intraday bar of `day` (finest timeframe first)."""
        for timeframe in INTRADAY_TIMEFRAMES:
            bars = self._by_day(name, timeframe).get(day)
            if bars:
                return bars[-1]
        return None

    def files_identity(self, name: str) -> FilesIdentity | None:
        """(mtime, size) of every bar file of `name`: what a cached session was built from. None
        means "do not cache" (a view that hides some of the files' bars, e.g. a bias check's cut).
        Read once per history: its series are parsed once too, so its sessions follow the files
        as they were when it first read them."""
        found = self._identities.get(name)
        if found is None:
            found = self._identities[name] = self._read_files_identity(name)
        return found

    def _read_files_identity(self, name: str) -> FilesIdentity:
        identity: list[tuple[int, int]] = []
        for timeframe in (*INTRADAY_TIMEFRAMES, Timeframe.D1):
            try:
                status = self.store.bar_path(store_symbol(name), timeframe).stat()
            except FileNotFoundError:
                identity.append((0, 0))
                continue
            identity.append((status.st_mtime_ns, status.st_size))
        return tuple(identity)

    def session_bars(
        self, name: str, day: date, label: Label | None = None
    ) -> tuple[IndexDay, list[Bar]] | None:
        """The day's base bars and every bar the strategies get from them (base, rolled-up
        intraday timeframes, and the daily bar), in close-time order (the shorter
        timeframe first at a shared close); with `label` (token, symbol), every bar as that
        instrument's (what `relabel_bar` gives each stored bar), else as the history reads them
        (under its `labels`). Built once per process while the files are unchanged (every trial of
        a search replays the same sessions)."""
        if label is None:
            label = self.labels.get(store_symbol(name))
        identity = self.files_identity(name)
        if identity is not None:  # the future's files and the day's option bars may make the day too
            identity += self.files_identity(futures_name(name)) or ()
            identity += self.parity.identity(name, day) if self.parity is not None else ()
        key = (self.data_root.resolve(), store_symbol(name), day, self.rolled)
        built = self._cached_session(key, label, identity)
        if built is None:
            if label is not None and (stored := self._cached_session(key, None, identity)) is not None:
                built = _labelled(stored, label)  # the stored session was built before (a search's warm-up)
            else:
                built = self._build_session_bars(name, day, label)
            if identity is not None:
                _SESSIONS[(*key, label)] = (identity, built)
        return None if built is None else (built[0], list(built[1]))

    @staticmethod
    def _cached_session(
        key: SessionKey, label: Label | None, identity: FilesIdentity | None
    ) -> SessionBars | None:
        cached = _SESSIONS.get((*key, label)) if identity is not None else None
        return cached[1] if cached is not None and cached[0] == identity else None

    def _build_session_bars(self, name: str, day: date, label: Label | None = None) -> SessionBars | None:
        found = self.day(name, day)
        session = self.calendar.session(day, Segment.EQUITY) if self.calendar.covers(day) else None
        if found is None or session is None:
            return None
        if label is None or found.is_daily_fallback or self._carries(name, found, label):
            bars: list[Bar] = [] if found.is_daily_fallback else list(found.bars)
        else:
            token, symbol = label
            bars = [relabel_bar(bar, token, symbol) for bar in found.bars]
        if not found.is_daily_fallback:
            offsets = bar_offsets(found.bars, session.open_utc)
            for timeframe in self.rolled:
                bars.extend(
                    roll_up(found.bars, timeframe, session.open_utc, session.close_utc, label, offsets)
                )
        daily = self.daily_bar(name, day)
        if daily is None:
            last = found.bars
            token, symbol = label if label is not None else (last[0].token, last[0].symbol)
            daily = Bar(
                ts_utc=session.close_utc,
                token=token,
                symbol=symbol,
                timeframe=Timeframe.D1,
                start_utc=session.open_utc,
                end_utc=session.close_utc,
                open=last[0].open,
                high=max(bar.high for bar in last),
                low=min(bar.low for bar in last),
                close=last[-1].close,
                volume=sum(bar.volume for bar in last),
            )
        else:
            daily = replace(
                daily, start_utc=session.open_utc, end_utc=session.close_utc, ts_utc=session.close_utc
            )
            if label is not None and (daily.token, daily.symbol) != label:
                daily = relabel_bar(daily, *label)
        bars.append(daily)
        # base, then each rolled timeframe (shortest first), then the daily bar: sorting by close alone
        # (stable) puts the shorter timeframe first at a shared close
        bars.sort(key=_close_time)
        return found, tuple(bars)

    def _carries(self, name: str, found: IndexDay, label: Label) -> bool:
        """Whether the day's base bars already carry `label`: the instrument's own stored bars (not a
        future's or the parity spot's), read under that label."""
        return found.source in _OWN_SOURCES and self.labels.get(store_symbol(name)) == label


_close_time = attrgetter("end_utc")
#: Coverage sources that are an instrument's own stored intraday bars.
_OWN_SOURCES = frozenset(timeframe.value for timeframe in INTRADAY_TIMEFRAMES)


def _labelled(session: SessionBars | None, label: Label) -> SessionBars | None:
    """A stored session's bars as the instrument `label` names (token, symbol)."""
    if session is None:
        return None
    token, symbol = label
    return session[0], tuple(relabel_bar(bar, token, symbol) for bar in session[1])


__all__ = [
    "DAILY_SOURCE",
    "FUTURES_SOURCE_PREFIX",
    "INTRADAY_TIMEFRAMES",
    "ROLLED_TIMEFRAMES",
    "IndexDay",
    "Label",
    "StoreHistory",
    "bar_offsets",
    "base_timeframe",
    "can_roll",
    "futures_name",
    "roll_up",
]
