"""Bias checks (spec §11.5): look-ahead and warm-up sensitivity of a strategy, one verdict line each.

Both checks replay the strategy through the backtest kernel (`optbot.backtest.kernel.BarBacktest`:
the same engine, risk, order manager and bar venue a backtest and live trading use) over the data
root a backtest reads, and compare what the strategy *decided*: every intent it submitted and every
signal it emitted, with its time. Any strategy runs: a built-in, a legs template or file, a
`module:Class`.

- **Look-ahead**: the full run's decisions are recorded; for each decision time t the replay is
  repeated with the data root cut at t (index and VIX bars that had not closed by t, and option bars
  that had not, are gone). A strategy — and the engine feeding it — that only uses data known at t
  makes the same decisions up to t; a decision that changes, appears or disappears means something
  read data from after t (a file it preloaded, a series it was handed, a cached future bar).
- **Warm-up**: the history before the first evaluated day is shortened to N sessions for several N;
  the decisions and the recursive indicators (EMA, Wilder RSI/ATR/ADX, as the strategies' features read
  them) at every entry bar are compared with the run on the longest history. The smallest N from which
  every longer history gives the same decisions is the warm-up the strategy needs.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from optbot.backtest.kernel import BarBacktest
from optbot.backtest.option_bars import OptionBarSource
from optbot.backtest.parity_spot import ParityDay
from optbot.backtest.runner import IN_MEMORY, open_archive, plan_backtest, store_history
from optbot.backtest.store_data import StoreHistory
from optbot.calendar import NseCalendar
from optbot.config import Settings
from optbot.core.clock import Clock
from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.core.timeutil import ist_date, to_ist
from optbot.data.archive import listed_contracts
from optbot.data.store import store_symbol
from optbot.strategy.base import Strategy
from optbot.strategy.context import StrategyContext
from optbot.strategy.features import adx_value, atr_value, ema_value, rsi_value
from optbot.strategy.tunable import apply_parameters

#: Builds the strategy under test for one replay. It gets the history that replay reads, so a
#: strategy that (wrongly) holds on to a whole data set can be modelled and caught.
StrategyFactory = Callable[[Settings, StoreHistory], Strategy]

#: The length of an option archive bar, by the archive's timeframe name.
_ARCHIVE_BAR = {"1m": timedelta(minutes=1), "5m": timedelta(minutes=5), "1d": timedelta(days=1)}


class CutHistory(StoreHistory):
    """A data root's index/VIX bars as they stood at `until` (bars closed by then), from day `since`.

    Reads the bars its `source` loaded once; each replay of a check gets its own cut."""

    def __init__(self, source: StoreHistory, until: datetime | None = None, since: date | None = None):
        self.data_root = source.data_root
        self.calendar = source.calendar
        self.rolled = source.rolled
        self.store = source.store
        self.source = source
        self.until = until
        self.since = since
        self._series: dict[tuple[str, Timeframe], dict[date, tuple[Bar, ...]]] = {}
        self._days: dict[str, list[date]] = {}
        self._held = source._held  # the same store: the same bar files
        self.labels = source.labels  # its bars are the source's, read under the same labels
        self.parity = source.parity
        self.futures_min_coverage = source.futures_min_coverage

    def _parity_day(self, name: str, day: date) -> ParityDay | None:
        """The option-implied index as it stood at `until` (its minutes closed by then)."""
        found = super()._parity_day(name, day)
        if found is None or (self.since is not None and day < self.since):
            return None
        if self.until is None:
            return found
        bars = tuple(bar for bar in found.bars if bar.end_utc <= self.until)
        return ParityDay(found.timeframe, bars, found.carried) if bars else None

    def files_identity(self, name: str) -> None:
        return None  # a cut view: its sessions are never shared with the whole data root's

    def _by_day(self, name: str, timeframe: Timeframe) -> dict[date, tuple[Bar, ...]]:
        key = (store_symbol(name), timeframe)
        found = self._series.get(key)
        if found is None:
            found = {}
            for day, bars in self.source._by_day(name, timeframe).items():
                if self.since is not None and day < self.since:
                    continue
                if self.until is not None and bars[-1].end_utc > self.until:
                    bars = tuple(bar for bar in bars if bar.end_utc <= self.until)
                if bars:
                    found[day] = bars
            self._series[key] = found
        return found


@dataclass(frozen=True)
class CutArchive:
    """An option archive as it stood at `until`: only the bars that had closed by then."""

    source: OptionBarSource
    until: datetime

    def timeframes(self, underlying: str, day: date) -> list[str]:
        return self.source.timeframes(underlying, day) if day <= ist_date(self.until) else []

    def listing(self, underlying: str, day: date, timeframe: str = "1m") -> pa.Table:
        """The contracts with a bar closed by `until` that day."""
        return listed_contracts(self.day(underlying, day, timeframe))

    def day(self, underlying: str, day: date, timeframe: str = "1m") -> pa.Table:
        table = self.source.day(underlying, day, timeframe)
        latest_start = self.until - _ARCHIVE_BAR.get(timeframe, timedelta(days=1))
        return table.filter(
            pc.less_equal(table.column("ts"), pa.scalar(latest_start, table.schema.field("ts").type))
        )


@dataclass(frozen=True)
class BiasData:
    """What every replay of one check shares: the data root (loaded once), its days and underlyings."""

    history: StoreHistory
    archive: OptionBarSource | None
    calendar: NseCalendar
    underlyings: tuple[str, ...]
    days: tuple[date, ...]  # the evaluated sessions


def load_bias_data(settings: Settings, strategy: str, data_root: Path, start: date, end: date) -> BiasData:
    """The data root a backtest of `strategy` over [start, end] replays (UserError when it cannot)."""
    plan = plan_backtest(settings, start, end, strategy=strategy, data_dir=data_root, out_dir=IN_MEMORY)
    return BiasData(
        store_history(settings, plan.data_root, plan.calendar),
        open_archive(plan.data_root),
        plan.calendar,
        plan.underlyings,
        tuple(day for day, _source in plan.days),
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """One thing the strategy decided, described without run-specific ids."""

    at: datetime  # UTC
    kind: str  # "intent" / "signal"
    text: str

    def describe(self) -> str:
        return f"{to_ist(self.at):%Y-%m-%d %H:%M} IST {self.kind}: {self.text}"


@dataclass
class ReplayRecord:
    decisions: list[Decision]
    indicators: dict[datetime, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class ReplaySpec:
    """The strategy under test and the settings every replay of one check runs it with."""

    settings: Settings
    factory: StrategyFactory
    on_clock: Callable[[Clock], None] | None = None  # e.g. sends each replay's engine log to a file


class IndicatorProbe(Strategy):
    """Reads the recursive indicators the strategies use, from the same context, at every entry bar."""

    name = "bias-probe"

    def __init__(self, settings: Settings, record: ReplayRecord) -> None:
        super().__init__(settings)
        self.record = record

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        p = self.settings.strategy
        if bar.timeframe is not p.entry_timeframe or bar.symbol.upper() != "NIFTY":
            return
        values: dict[str, float | None] = {}
        for timeframe in (p.entry_timeframe, Timeframe.D1):
            label = timeframe.value
            adx = adx_value(ctx, bar.symbol, timeframe, p.adx_period)
            values[f"ADX({p.adx_period}) {label}"] = adx.adx if adx is not None else None
            values[f"RSI({p.rsi_period}) {label}"] = rsi_value(ctx, bar.symbol, timeframe, p.rsi_period)
            values[f"ATR(14) {label}"] = atr_value(ctx, bar.symbol, timeframe, 14)
            for period in (p.trend_fast_ema, p.trend_slow_ema):
                values[f"EMA({period}) {label}"] = ema_value(ctx, bar.symbol, timeframe, period)
        self.record.indicators[bar.end_utc] = {k: v for k, v in values.items() if v is not None}


def replay_decisions(
    spec: ReplaySpec,
    data: BiasData,
    until: datetime | None = None,
    since: date | None = None,
    probe: bool = False,
) -> ReplayRecord:
    """Replay the evaluated days (up to `until`'s day) with the data as it stood at `until` and the
    history from `since`; return every decision the strategy made (and the indicators, with `probe`)."""
    record = ReplayRecord([])
    history = CutHistory(data.history, until, since)
    archive = (
        CutArchive(data.archive, until) if data.archive is not None and until is not None else data.archive
    )
    days = [day for day in data.days if until is None or day <= ist_date(until)]
    if not days:
        return record
    strategy = spec.factory(spec.settings, history)
    strategies = [strategy, IndicatorProbe(spec.settings, record)] if probe else [strategy]
    kernel = BarBacktest(
        spec.settings,
        IN_MEMORY,
        days[0],
        history,
        archive,
        strategies=strategies,
        underlyings=data.underlyings,
        calendar=data.calendar,
    )
    try:
        if spec.on_clock is not None:
            spec.on_clock(kernel.clock)
        asyncio.run(kernel.run(days))
        ctx = kernel.engine.ctx
        intents, signals = list(ctx.intents), list(ctx.signals)
    finally:
        kernel.close()
    record.decisions = [
        Decision(
            intent.ts_utc,
            "intent",
            f"{intent.strategy} {intent.purpose} {intent.side} {intent.quantity} {intent.symbol}"
            f" limit {intent.limit_price}: {intent.reason}",
        )
        for intent in intents
        if intent.strategy == strategy.name
    ] + [
        Decision(
            signal.ts_utc,
            "signal",
            f"{signal.strategy} {signal.underlying} {signal.direction} strength {signal.strength:.4f}: "
            f"{signal.reason}",
        )
        for signal in signals
        if signal.strategy == strategy.name
    ]
    record.decisions.sort(key=lambda decision: (decision.at, decision.kind, decision.text))
    return record


@dataclass(frozen=True, slots=True)
class Verdict:
    check: str
    passed: bool
    line: str  # the one-line verdict
    details: tuple[str, ...] = ()


def _first_difference(
    expected: Sequence[Decision], actual: Sequence[Decision]
) -> tuple[datetime, str] | None:
    """The earliest decision that is in one list and not the other (by time), with what changed."""
    for index in range(max(len(expected), len(actual))):
        left = expected[index] if index < len(expected) else None
        right = actual[index] if index < len(actual) else None
        if left == right:
            continue
        if left is not None and (right is None or left.at <= right.at):
            return left.at, f"full history: {left.describe()}; cut history: " + (
                right.describe() if right is not None and right.at == left.at else "nothing"
            )
        assert right is not None
        return right.at, f"cut history only: {right.describe()}"
    return None


def check_look_ahead(spec: ReplaySpec, data: BiasData, max_checks: int | None = None) -> Verdict:
    """Rerun with the data cut at each decision time; every decision up to the cut must be the same."""
    full = replay_decisions(spec, data).decisions
    if not full:
        return Verdict(
            "look-ahead",
            False,
            "look-ahead: NOT TESTED (the strategy made no decision on these days: nothing to compare; "
            "choose days it trades)",
        )
    times = sorted({decision.at for decision in full})
    if max_checks is not None and len(times) > max_checks:
        stride = len(times) / max_checks
        times = sorted({times[int(index * stride)] for index in range(max_checks)} | {times[-1]})
    for moment in times:
        cut = replay_decisions(spec, data, until=moment).decisions
        expected = [decision for decision in full if decision.at <= moment]
        difference = _first_difference(expected, [decision for decision in cut if decision.at <= moment])
        if difference is not None:
            at, what = difference
            return Verdict(
                "look-ahead",
                False,
                f"look-ahead: FAIL at {to_ist(at):%Y-%m-%d %H:%M} IST (data cut at "
                f"{to_ist(moment):%Y-%m-%d %H:%M}): a decision depends on later data",
                (what,),
            )
    return Verdict(
        "look-ahead",
        True,
        f"look-ahead: PASS ({len(full)} decision(s) at {len(times)} time(s) unchanged with data cut there)",
    )


@dataclass(frozen=True, slots=True)
class WarmupRow:
    sessions: int
    decisions_agree: bool
    first_difference: str | None
    indicator: str | None  # the indicator that moved most
    max_relative_difference: float


def _indicator_difference(
    reference: dict[datetime, dict[str, float]], other: dict[datetime, dict[str, float]]
) -> tuple[str | None, float]:
    worst_name: str | None = None
    worst = 0.0
    for moment, values in reference.items():
        for name, value in values.items():
            moved = other.get(moment, {}).get(name)
            difference = math.inf if moved is None else abs(moved - value) / max(abs(value), 1e-9)
            if difference > worst:
                worst_name, worst = name, difference
    return worst_name, worst


def check_warm_up(
    spec: ReplaySpec, data: BiasData, sessions: Sequence[int], tolerance: float
) -> tuple[Verdict, list[WarmupRow]]:
    """Shorten the history before the first day to each N sessions; compare decisions and indicators."""
    reference = replay_decisions(spec, data, probe=True)
    first = data.days[0]
    underlying = data.underlyings[0]
    history_days = [day for day in data.history.days(underlying) if day < first]
    rows: list[WarmupRow] = []
    for count in sorted(set(sessions)):
        if count >= len(history_days):
            continue
        record = replay_decisions(spec, data, since=history_days[-count], probe=True)
        difference = _first_difference(reference.decisions, record.decisions)
        name, worst = _indicator_difference(reference.indicators, record.indicators)
        rows.append(
            WarmupRow(count, difference is None, None if difference is None else difference[1], name, worst)
        )
    details = tuple(_describe(row) for row in rows)
    decisions_from = _agree_from(rows, lambda row: row.decisions_agree)
    indicators_from = _agree_from(rows, lambda row: row.max_relative_difference <= tolerance)
    indicators = (
        f"the recursive indicators from {indicators_from} on"
        if indicators_from is not None
        else "the recursive indicators (which it may not read) differ at every tested length"
    )
    if decisions_from is not None:
        line = f"warm-up: PASS (decisions agree from {decisions_from} sessions of history on; {indicators})"
        return Verdict("warm-up", True, line, details), rows
    agreeing = [row.sessions for row in rows if row.decisions_agree]
    first_bad = next((row for row in reversed(rows) if not row.decisions_agree), None)
    where = first_bad.first_difference if first_bad is not None and first_bad.first_difference else "n/a"
    line = (
        f"warm-up: FAIL (no tested history shorter than the engine's full warm-up reproduces its decisions; "
        f"they agree at {agreeing or 'none'} session(s)); first difference: {where}"
    )
    return Verdict("warm-up", False, line, details), rows


def _agree_from(rows: Sequence[WarmupRow], agrees: Callable[[WarmupRow], bool]) -> int | None:
    """The shortest tested history from which every longer one agrees with the reference."""
    needed = None
    for row in reversed(rows):
        if not agrees(row):
            break
        needed = row.sessions
    return needed


def _describe(row: WarmupRow) -> str:
    decisions = "decisions agree" if row.decisions_agree else f"decisions differ ({row.first_difference})"
    if row.indicator is None:
        indicator = "indicators identical"
    elif math.isinf(row.max_relative_difference):
        indicator = f"{row.indicator} cannot be computed on this history"
    else:
        indicator = f"largest indicator change {row.max_relative_difference:.4%} ({row.indicator})"
    return f"{row.sessions:>4} sessions of history: {decisions}; {indicator}"


def sample_settings(settings: Settings) -> Settings:
    """Most sample days are 15-minute: Python strategies enter on those bars, trend from daily and
    hourly (the legs engine reads every bar and is not affected)."""
    return apply_parameters(
        settings,
        {
            "strategy.entry_timeframe": Timeframe.M15,
            "strategy.trend_timeframes": [Timeframe.D1, Timeframe.H1],
        },
    )
