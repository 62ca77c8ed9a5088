"""Bias checks (spec §11.5): look-ahead and warm-up sensitivity of a strategy, one verdict line each.

Both checks replay the strategy over real sample bars through the reference `BarHistoryContext` (via the
replay harness in `optbot.research.harness`: risk engine, synthetic Black-Scholes chain, instant fills)
and compare what it *decided* — every intent it submitted and every signal it emitted, with its time.

- **Look-ahead**: the full run's decisions are recorded; for each decision time t the whole replay is
  repeated with every input series (daily, 15-minute, hourly, VIX) cut at t. A strategy that only uses
  data known at t makes the same decisions up to t; a decision that changes, appears or disappears
  means it read data from after t (a file it preloaded, a series it was handed, a cached future bar).
- **Warm-up**: the history before the first evaluated day is shortened to N sessions for several N;
  the decisions and the recursive indicators (EMA, Wilder RSI/ATR/ADX, as the strategy's features read
  them) at every entry bar are compared with the run on the longest history. The smallest N from which
  every longer history gives the same decisions is the warm-up the strategy needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from optbot.config import Settings
from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.core.timeutil import IST, ist_datetime, to_ist
from optbot.research.harness import (
    NIFTY_15MIN,
    NIFTY_DAILY,
    VIX_15MIN,
    VIX_DAILY,
    ReplayHarness,
    load_15min_bars,
    load_daily_bars,
    resample,
)
from optbot.strategy.base import Strategy
from optbot.strategy.context import StrategyContext
from optbot.strategy.features import adx_value, atr_value, ema_value, rsi_value
from optbot.strategy.tunable import apply_parameters

#: Builds the strategy under test for one replay. It gets the series that replay is given, so a
#: strategy that (wrongly) holds on to a whole data set can be modelled and caught.
StrategyFactory = Callable[[Settings, "BiasSeries"], Strategy]


@dataclass(frozen=True)
class BiasSeries:
    """Every input series of a replay: NIFTY daily / 15-minute / hourly bars, INDIA VIX daily / 15-minute."""

    daily: tuple[Bar, ...]
    intraday: tuple[Bar, ...]  # 15-minute and hourly, in close-time order
    vix_daily: tuple[Bar, ...]
    vix: tuple[Bar, ...]

    def truncated(self, at: datetime) -> BiasSeries:
        """Only the bars that had closed by `at` — what a live bot would have had at that moment."""

        def cut(bars: tuple[Bar, ...]) -> tuple[Bar, ...]:
            return tuple(bar for bar in bars if bar.end_utc <= at)

        return BiasSeries(cut(self.daily), cut(self.intraday), cut(self.vix_daily), cut(self.vix))

    def history_from(self, first_day: date) -> BiasSeries:
        """The same series with nothing before `first_day` (a later start of history)."""
        begin = ist_datetime(first_day, time(0, 0))

        def keep(bars: tuple[Bar, ...]) -> tuple[Bar, ...]:
            return tuple(bar for bar in bars if bar.start_utc >= begin)

        return BiasSeries(keep(self.daily), keep(self.intraday), keep(self.vix_daily), keep(self.vix))


def load_bias_series(sample_root: Path, start: date, end: date, intraday_history_days: int) -> BiasSeries:
    """NIFTY and INDIA VIX sample bars up to `end`: all daily history, intraday from before `start`."""
    first_intraday = start - timedelta(days=intraday_history_days)
    for relative in (NIFTY_DAILY, VIX_DAILY, NIFTY_15MIN, VIX_15MIN):
        if not (sample_root / relative).is_file():
            raise FileNotFoundError(f"{sample_root / relative}: sample market data missing")
    nifty = load_15min_bars(sample_root / NIFTY_15MIN, "NIFTY", first_intraday, end)
    vix = load_15min_bars(sample_root / VIX_15MIN, "INDIA VIX", first_intraday, end)
    intraday = sorted(
        [*nifty.bars, *resample(nifty.bars, Timeframe.H1)],
        key=lambda bar: (bar.end_utc, bar.timeframe.seconds),
    )
    return BiasSeries(
        tuple(load_daily_bars(sample_root / NIFTY_DAILY, "NIFTY", end=end)),
        tuple(intraday),
        tuple(load_daily_bars(sample_root / VIX_DAILY, "INDIA VIX", end=end)),
        tuple(vix.bars),
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
    """What every replay of one check shares: the evaluated days and the contract sizes."""

    settings: Settings
    factory: StrategyFactory
    start: date
    end: date
    lot_size: int = 75
    freeze_quantity: int = 1800


class IndicatorProbe(Strategy):
    """Reads the recursive indicators the strategies use, from the same context, at every entry bar."""

    name = "bias-probe"

    def __init__(self, settings: Settings, record: ReplayRecord) -> None:
        super().__init__(settings)
        self.record = record

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        p = self.settings.strategy
        if bar.timeframe is not p.entry_timeframe:
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


def replay_decisions(spec: ReplaySpec, series: BiasSeries, probe: bool = False) -> ReplayRecord:
    """Replay `series` over [start, end] and return every decision the strategy made (and indicators)."""
    record = ReplayRecord([])
    strategy = spec.factory(spec.settings, series)
    strategies: list[Strategy] = [strategy, IndicatorProbe(spec.settings, record)] if probe else [strategy]
    harness = ReplayHarness(
        spec.settings, strategies, ist_datetime(spec.start, time(9, 0)), spec.lot_size, spec.freeze_quantity
    )
    begin = harness.clock.now_utc()
    last_day = ist_datetime(spec.end + timedelta(days=1), time(0, 0))
    vix_before = [bar for bar in series.vix_daily if bar.end_utc <= begin]
    harness.ctx.current_vix = vix_before[-1].close if vix_before else None
    harness.preload(bar for bar in series.daily if bar.end_utc <= begin)
    harness.preload(bar for bar in series.intraday if bar.end_utc <= begin)
    ahead = [bar for bar in (*series.daily, *series.intraday) if begin < bar.end_utc <= last_day]
    harness.run(ahead, [bar for bar in series.vix if begin < bar.end_utc <= last_day])
    record.decisions = [
        Decision(
            intent.ts_utc,
            "intent",
            f"{intent.strategy} {intent.purpose} {intent.side} {intent.quantity} {intent.symbol}"
            f" limit {intent.limit_price}: {intent.reason}",
        )
        for intent in harness.ctx.intents
    ] + [
        Decision(
            signal.ts_utc,
            "signal",
            f"{signal.strategy} {signal.underlying} {signal.direction} strength {signal.strength:.4f}: "
            f"{signal.reason}",
        )
        for signal in harness.ctx.signals
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


def check_look_ahead(spec: ReplaySpec, series: BiasSeries, max_checks: int | None = None) -> Verdict:
    """Rerun with every series cut at each decision time; every decision up to the cut must be the same."""
    full = replay_decisions(spec, series).decisions
    times = sorted({decision.at for decision in full})
    if max_checks is not None and len(times) > max_checks:
        stride = len(times) / max_checks
        times = sorted({times[int(index * stride)] for index in range(max_checks)} | {times[-1]})
    for moment in times:
        cut = replay_decisions(spec, series.truncated(moment)).decisions
        expected = [decision for decision in full if decision.at <= moment]
        difference = _first_difference(expected, [decision for decision in cut if decision.at <= moment])
        if difference is not None:
            at, what = difference
            return Verdict(
                "look-ahead",
                False,
                f"look-ahead: FAIL at {to_ist(at):%Y-%m-%d %H:%M} IST (series cut at "
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
    spec: ReplaySpec, series: BiasSeries, sessions: Sequence[int], tolerance: float
) -> tuple[Verdict, list[WarmupRow]]:
    """Shorten the history before `start` to each N sessions; compare decisions and indicators."""
    reference = replay_decisions(spec, series, probe=True)
    history_days = sorted(
        {
            bar.start_utc.astimezone(IST).date()
            for bar in series.daily
            if bar.start_utc.astimezone(IST).date() < spec.start
        }
    )
    rows: list[WarmupRow] = []
    for count in sorted(set(sessions)):
        if count >= len(history_days):
            continue
        shortened = series.history_from(history_days[-count])
        record = replay_decisions(spec, shortened, probe=True)
        difference = _first_difference(reference.decisions, record.decisions)
        name, worst = _indicator_difference(reference.indicators, record.indicators)
        rows.append(
            WarmupRow(count, difference is None, None if difference is None else difference[1], name, worst)
        )
    needed = None
    for row in reversed(rows):
        if not row.decisions_agree or row.max_relative_difference > tolerance:
            break
        needed = row.sessions
    full = f"the full history ({len(history_days)} sessions)"
    if needed is not None:
        line = f"warm-up: PASS (decisions and indicators agree from {needed} sessions of history on)"
        return Verdict("warm-up", True, line, tuple(_describe(row) for row in rows)), rows
    agreeing = [row.sessions for row in rows if row.decisions_agree]
    first_bad = next((row for row in reversed(rows) if not row.decisions_agree), None)
    where = (
        first_bad.first_difference if first_bad is not None and first_bad.first_difference else "indicators"
    )
    line = (
        f"warm-up: FAIL (no tested history shorter than {full} reproduces it; "
        f"decisions agree at {agreeing or 'none'} session(s)); first difference: {where}"
    )
    return Verdict("warm-up", False, line, tuple(_describe(row) for row in rows)), rows


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
    """The sample data is 15-minute: entries on it, trend from daily and hourly bars."""
    return apply_parameters(
        settings,
        {
            "strategy.entry_timeframe": Timeframe.M15,
            "strategy.trend_timeframes": [Timeframe.D1, Timeframe.H1],
        },
    )
