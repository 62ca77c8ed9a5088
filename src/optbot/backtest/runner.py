"""`run_backtest`: the real engine over replayed sessions, turned into the §11.5 report.

The backtest is the engine's backtest mode (`optbot.engine.replay.InProcessReplay`): a `SimClock`,
the simulator's `ReplayMarket` (recorded index bars expanded into seeded ticks; options priced by the
simulator's Black-76 model and flagged synthetic), the live bar aggregator and the `PaperBroker` with
the paper/backtest fill model and the dated rate card. Strategy, risk, order manager and portfolio are
the same objects live trading uses.

What goes into the report is derived only from the engine's store and the replay's clock: fills
(with charges), FIFO round trips (`optbot.portfolio.trades.closed_trades`) and the equity at each
end of day (initial capital + net realised + unrealised). Intent ids, trace ids and order tags are
random per run, so none of them reach the report: the same inputs give a byte-identical JSON file.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from pydantic import ValidationError

from optbot.backtest.report import BacktestResult, TradeRecord, write_backtest_report
from optbot.calendar import NseCalendar, Segment, get_calendar
from optbot.config import Settings
from optbot.config.sections.replay import ReplaySettings
from optbot.core.clock import Clock
from optbot.core.enums import Exchange, Side
from optbot.core.errors import UserError
from optbot.core.timeutil import ist_datetime, to_utc
from optbot.engine.replay import PREMARKET_START, InProcessReplay, ReplayRun
from optbot.ops.reports import ReportFiles
from optbot.persistence.records import FillRecord
from optbot.persistence.store import Store
from optbot.portfolio.trades import closed_trades
from optbot.sim.contracts import SimQuote
from optbot.sim.market.history import IndexHistory
from optbot.sim.market.replay import VIX_NAME, load_sample_histories
from optbot.strategy.base import Strategy
from optbot.strategy.registry import load_strategies, resolve

log = logging.getLogger("optbot.backtest.runner")

_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]+")
IN_MEMORY = Path(":memory:")
_FLAGS = {"tick_seconds": "--speed-ticks / backtest.tick_seconds", "data_dir": "--data / replay.data_dir"}


@dataclass(frozen=True, slots=True)
class DaySummary:
    """One replayed session: what drove it and what it produced."""

    day: date
    index_source: str  # "1m", "15m" or "daily" (the finest recorded index bars that day)
    ticks: int
    bars: int
    fills: int
    equity: float
    alerts: int = 0  # engine alerts raised that session (e.g. a reconciliation mismatch), see the log


DayCallback = Callable[[DaySummary, int, int], None]  # (the session just replayed, sessions done, total)


@dataclass(frozen=True, slots=True)
class IntentLine:
    """An intent as the engine recorded it, without its random ids (for comparisons across runs)."""

    ts_utc: str
    strategy: str
    token: str
    side: str
    quantity: int
    purpose: str
    order_type: str
    limit_price: float | None
    status: str


def intent_lines(store: Store) -> list[IntentLine]:
    """Every intent the order manager saw (accepted, refused, duplicate), in submission order."""
    rows = store.connection.execute(
        "SELECT created_utc, strategy, token, side, quantity, purpose, order_type, limit_price, status "
        "FROM intents ORDER BY rowid"
    ).fetchall()
    return [IntentLine(*tuple(row)) for row in rows]


@dataclass(frozen=True)
class BacktestOutcome:
    """A finished backtest: the report's data, where it was written, and the raw evidence behind it."""

    result: BacktestResult
    files: ReportFiles
    days: tuple[DaySummary, ...]
    skipped_days: tuple[date, ...]
    fills: tuple[FillRecord, ...]
    intents: int
    refused: int
    intent_log: tuple[IntentLine, ...]
    synthetic_tokens: frozenset[str]
    first_quote_utc: dict[str, datetime] = field(default_factory=dict)

    @property
    def net_pnl(self) -> float:
        return round(self.result.equity[-1][1] - self.result.initial_capital, 2)

    @property
    def charges(self) -> float:
        return round(sum(fill.charges for fill in self.fills), 2)


def backtest_settings(
    settings: Settings, *, data_dir: Path | None = None, tick_seconds: float | None = None
) -> Settings:
    """Settings with the replay's data folder and tick spacing replaced, validated like the config file."""
    update: dict[str, object] = {}
    if data_dir is not None:
        update["data_dir"] = data_dir
    if tick_seconds is not None:
        update["tick_seconds"] = tick_seconds
    if not update:
        return settings
    try:
        replay = ReplaySettings.model_validate({**settings.replay.model_dump(), **update})
    except ValidationError as exc:
        problems = "; ".join(
            f"{_FLAGS.get(str(error['loc'][0]), 'replay.' + '.'.join(str(part) for part in error['loc']))}: "
            f"{error['msg']} (got {error['input']!r})"
            for error in exc.errors()
        )
        raise UserError(problems) from None
    return settings.model_copy(update={"replay": replay})


def choose_strategies(settings: Settings, strategy: str | None) -> list[Strategy]:
    """The named strategy (built-in name or `module:Class`), or the ones enabled in the config."""
    if strategy is None:
        chosen = load_strategies(settings)
        if not chosen:
            raise UserError("no strategy to backtest: strategy.enabled is empty and --strategy was not given")
        return chosen
    try:
        found = resolve(strategy)
    except UserError as exc:
        raise UserError(f"--strategy {strategy!r}: {str(exc).removeprefix('strategy.enabled: ')}") from None
    return [found(settings)]


def load_histories(settings: Settings, calendar: NseCalendar) -> dict[str, IndexHistory]:
    if not settings.replay.data_dir.is_dir():
        raise UserError(
            f"--data / replay.data_dir: {str(settings.replay.data_dir)!r} is not a folder "
            "(it should hold the daily/ and intraday/ bars in the data/sample layout)"
        )
    return load_sample_histories(settings.replay, calendar)


def check_range(calendar: NseCalendar, start: date, end: date) -> list[date]:
    """The F&O trading days in [start, end]; refuses a reversed range, dates outside the calendar and a
    range without a trading day."""
    if start > end:
        raise UserError(f"--from {start} is after --to {end}")
    for flag, day in (("--from", start), ("--to", end)):
        if not calendar.covers(day):
            raise UserError(
                f"{flag} {day} is outside the market calendar's known range "
                f"{calendar.first_date}..{calendar.last_date} and its provisional range "
                f"(to {calendar.provisional_until})"
            )
    trading = calendar.trading_days(start, end, Segment.FO)
    if any(calendar.is_provisional(day) for day in trading):
        log.warning(
            "backtest days after %s are provisional sessions (past the calendar's known range)",
            calendar.last_date,
        )
    if not trading:
        raise UserError(f"no F&O trading day between {start} and {end} (weekends and NSE holidays only)")
    return trading


def provisional_note(calendar: NseCalendar, days: Sequence[date]) -> str | None:
    """Days past the calendar's known range are replayed as provisional sessions (weekdays assumed to
    trade, last known hours): said in the report, never a silent refusal or a silent assumption."""
    provisional = [day for day in days if calendar.is_provisional(day)]
    if not provisional:
        return None
    return (
        f"{len(provisional)} replayed day(s) are after the market calendar's known range "
        f"(ends {calendar.last_date}): provisional sessions with the last known hours and expiries from "
        "the last known rules; run `optbot calendar sync` for NSE's holiday list."
    )


def backtest_days(
    calendar: NseCalendar,
    histories: dict[str, IndexHistory],
    underlyings: Sequence[str],
    start: date,
    end: date,
) -> tuple[list[tuple[date, str]], list[date]]:
    """F&O trading days in [start, end] with data for every underlying and INDIA VIX, and those skipped.

    Refuses (UserError) a reversed range, dates outside the calendar, dates outside the data, an
    underlying the data does not hold, and a range with no trading day.
    """
    check_range(calendar, start, end)
    names = [*underlyings, VIX_NAME]
    for name in names:
        if name not in histories:
            held = ", ".join(sorted(histories))
            raise UserError(f"no replay data for underlying {name!r} (the data folder holds {held})")
    first = max(min(histories[name].daily) for name in names)
    last = min(max(histories[name].daily) for name in names)
    if start < first or end > last:
        raise UserError(
            f"backtest range {start}..{end} is outside the replay data, which covers {first}..{last} "
            f"for {', '.join(names)}"
        )
    trading = calendar.trading_days(start, end, Segment.FO)
    days: list[tuple[date, str]] = []
    skipped: list[date] = []
    for day in trading:
        sources = [histories[name].source_bars(day) for name in names]
        if any(found is None for found in sources):
            skipped.append(day)
            continue
        first_source = sources[0]
        days.append((day, first_source[0] if first_source is not None else "daily"))
    if not days:
        raise UserError(f"the replay data has no bars for any trading day between {start} and {end}")
    return days, skipped


@dataclass
class _TimedLot:
    side: Side
    quantity: int
    ts_utc: datetime


def timed_round_trips(fills: Sequence[FillRecord]) -> list[tuple[datetime, datetime]]:
    """Entry and exit times of each round trip, matched FIFO exactly as `closed_trades` matches them."""
    open_lots: dict[tuple[Exchange, str], deque[_TimedLot]] = {}
    times: list[tuple[datetime, datetime]] = []
    for fill in fills:
        lots = open_lots.setdefault((fill.exchange, fill.token), deque())
        remaining = fill.quantity
        while remaining and lots and lots[0].side is not fill.side:
            lot = lots[0]
            matched = min(remaining, lot.quantity)
            times.append((lot.ts_utc, fill.ts_utc))
            lot.quantity -= matched
            remaining -= matched
            if lot.quantity == 0:
                lots.popleft()
        if remaining:
            lots.append(_TimedLot(fill.side, remaining, fill.ts_utc))
    return times


def in_market_by_day(fills: Sequence[FillRecord], days: Sequence[date]) -> list[bool]:
    """Per session: was any position open at some point (a fill that day, or one carried into it)."""
    net: dict[tuple[Exchange, str], int] = {}
    ordered = sorted(fills, key=lambda fill: fill.ts_utc)
    flags: list[bool] = []
    cursor = 0
    for day in days:
        carried = any(quantity != 0 for quantity in net.values())
        traded = False
        while cursor < len(ordered) and ordered[cursor].trade_date <= day:
            fill = ordered[cursor]
            signed = fill.quantity if fill.side is Side.BUY else -fill.quantity
            key = (fill.exchange, fill.token)
            net[key] = net.get(key, 0) + signed
            traded = traded or fill.trade_date == day
            cursor += 1
        flags.append(carried or traded)
    return flags


def _iso(moment: datetime) -> str:
    return to_utc(moment).isoformat()


def _report_settings(
    settings: Settings, strategies: Sequence[Strategy], underlyings: Sequence[str]
) -> dict[str, object]:
    replay = settings.replay
    fills = settings.backtest
    return {
        "strategies": "+".join(strategy.name for strategy in strategies),
        "underlyings": "+".join(underlyings),
        "replay.data_dir": str(replay.data_dir),
        "replay.seed": replay.seed,
        "replay.tick_seconds": replay.tick_seconds,
        "backtest.slippage_ticks": fills.slippage_ticks,
        "backtest.latency_ms": fills.latency_ms,
        "backtest.modelled_spread_ticks": fills.modelled_spread_ticks,
        "backtest.modelled_spread_pct": fills.modelled_spread_pct,
        "execution.charges_rate_card_file": str(settings.execution.charges_rate_card_file),
    }


@dataclass
class ReplayEvidence:
    """What the replay left behind once its store is gone."""

    equity: list[tuple[str, float]]
    summaries: list[DaySummary] = field(default_factory=list)
    synthetic: set[str] = field(default_factory=set)
    first_quote: dict[str, datetime] = field(default_factory=dict)
    fills: tuple[FillRecord, ...] = ()
    intent_log: tuple[IntentLine, ...] = ()
    intents: int = 0
    refused: int = 0


async def _replay_days(
    settings: Settings,
    store_path: Path,
    days: Sequence[tuple[date, str]],
    strategies: Sequence[Strategy],
    underlyings: Sequence[str],
    calendar: NseCalendar,
    on_clock: Callable[[Clock], None] | None,
    on_day: DayCallback | None = None,
) -> ReplayEvidence:
    initial = settings.backtest.initial_capital
    evidence = ReplayEvidence(equity=[(_iso(ist_datetime(days[0][0], PREMARKET_START)), initial)])
    sources = dict(days)
    replay = InProcessReplay(
        settings, store_path, days[0][0], strategies=strategies, underlyings=underlyings, calendar=calendar
    )
    try:
        if on_clock is not None:
            on_clock(replay.clock)

        def on_quote(quote: SimQuote) -> None:
            if quote.token not in evidence.first_quote:
                evidence.first_quote[quote.token] = quote.exchange_time
            if quote.synthetic:
                evidence.synthetic.add(quote.token)

        def on_session_end(run: ReplayRun) -> None:
            portfolio = run.engine.portfolio
            value = initial + portfolio.realised_total_net() + portfolio.unrealised_total()
            evidence.equity.append((_iso(run.engine.clock.now_utc()), value))
            fills = len(replay.store.fills(run.day, run.day))
            alerts = run.engine.counters.alerts - sum(summary.alerts for summary in evidence.summaries)
            summary = DaySummary(
                run.day, sources[run.day], run.ticks, run.bars, fills, round(value, 2), alerts
            )
            evidence.summaries.append(summary)
            if on_day is not None:
                on_day(summary, len(evidence.summaries), len(days))

        replay.market.subscribe_quotes(on_quote)
        replay.on_session_end = on_session_end
        await replay.run([day for day, _ in days])
        evidence.fills = tuple(replay.store.fills())
        evidence.intent_log = tuple(intent_lines(replay.store))
        evidence.intents = replay.engine.counters.intents
        evidence.refused = replay.engine.counters.refused
    finally:
        replay.close()
    return evidence


@dataclass(frozen=True)
class BacktestPlan:
    """A validated backtest: settings with the overrides applied, the strategies and the days to replay."""

    settings: Settings
    start: date
    end: date
    calendar: NseCalendar
    underlyings: tuple[str, ...]
    strategies: tuple[Strategy, ...]
    days: tuple[tuple[date, str], ...]  # (day, finest recorded index bars that day)
    skipped: tuple[date, ...]
    out_dir: Path
    on_clock: Callable[[Clock], None] | None = None
    on_day: DayCallback | None = None

    @property
    def name(self) -> str:
        return "+".join(item.name for item in self.strategies)


def plan_backtest(
    settings: Settings,
    start: date,
    end: date,
    *,
    strategy: str | None = None,
    data_dir: Path | None = None,
    out_dir: Path,
    tick_seconds: float | None = None,
    underlyings: Sequence[str] | None = None,
    calendar: NseCalendar | None = None,
    on_clock: Callable[[Clock], None] | None = None,
    on_day: DayCallback | None = None,
) -> BacktestPlan:
    """Validate every input (UserError naming the bad one) and pick the days; nothing is written yet."""
    spacing = tick_seconds if tick_seconds is not None else settings.backtest.tick_seconds
    settings = backtest_settings(settings, data_dir=data_dir, tick_seconds=spacing)
    calendar = calendar or get_calendar()
    chosen = tuple(u.upper() for u in (underlyings or settings.universe.underlyings))
    check_range(calendar, start, end)
    strategies = tuple(choose_strategies(settings, strategy))
    histories = load_histories(settings, calendar)
    days, skipped = backtest_days(calendar, histories, chosen, start, end)
    return BacktestPlan(
        settings,
        start,
        end,
        calendar,
        chosen,
        strategies,
        tuple(days),
        tuple(skipped),
        out_dir,
        on_clock,
        on_day,
    )


async def replay_plan(plan: BacktestPlan) -> ReplayEvidence:
    """Drive the engine through the plan's sessions. The engine's state is scratch here: an in-memory
    SQLite store (same schema and code paths as the durable file, no per-commit fsync), gone at the end."""
    return await _replay_days(
        plan.settings,
        IN_MEMORY,
        plan.days,
        plan.strategies,
        plan.underlyings,
        plan.calendar,
        plan.on_clock,
        plan.on_day,
    )


def finish_backtest(plan: BacktestPlan, evidence: ReplayEvidence) -> BacktestOutcome:
    """Turn the replay's evidence into the report (JSON + HTML in `plan.out_dir`) and the outcome."""
    settings, days, skipped = plan.settings, plan.days, plan.skipped
    fills, synthetic = evidence.fills, evidence.synthetic
    trades = closed_trades(fills)
    times = timed_round_trips(fills)
    records = [
        TradeRecord(
            symbol=trade.symbol,
            side=trade.direction.value,
            quantity=trade.quantity,
            entry_time=_iso(entry),
            entry_price=trade.entry_price,
            exit_time=_iso(exit_),
            exit_price=trade.exit_price,
            charges=trade.charges,
            net_pnl=trade.net_pnl,
            synthetic_prices=trade.token in synthetic,
        )
        for trade, (entry, exit_) in zip(trades, times, strict=True)
    ]
    notes = []
    if synthetic:
        notes.append(
            f"Option prices on all {len(days)} replayed day(s) are synthetic: the sample data holds no "
            "recorded option prices for these dates, so the simulator's pricing model (Black-76 on the "
            "replayed index, INDIA VIX-driven smile and skew) priced them; options are never interpolated "
            "between strikes."
        )
    notes += [
        "Index prices are replayed from recorded bars ("
        + ", ".join(
            f"{source}: {sum(1 for _, s in days if s == source)} day(s)"
            for source in ("1m", "15m", "daily")
            if any(s == source for _, s in days)
        )
        + f"), expanded into seeded intra-bar ticks every {settings.replay.tick_seconds:g} s.",
        "Equity is marked at each end of day: initial capital + realised P&L net of charges + unrealised; "
        "no fill without a printed quote, fills limited by top-of-book depth.",
    ]
    alerts = sum(summary.alerts for summary in evidence.summaries)
    if alerts:
        notes.append(
            f"The engine raised {alerts} alert(s) during the run (per day in the days table); "
            "they are in the structured log."
        )
    if skipped:
        notes.append("Trading days without replay data, skipped: " + ", ".join(str(day) for day in skipped))
    provisional = provisional_note(plan.calendar, [day for day, _ in days])
    if provisional:
        notes.append(provisional)
    result = BacktestResult(
        strategy=plan.name,
        start=plan.start.isoformat(),
        end=plan.end.isoformat(),
        initial_capital=settings.backtest.initial_capital,
        equity=evidence.equity,
        trades=records,
        in_market=in_market_by_day(fills, [day for day, _ in days]),
        notes=notes,
        settings=_report_settings(settings, plan.strategies, plan.underlyings),
        synthetic_options=bool(synthetic),
        days=[
            {
                "day": summary.day.isoformat(),
                "index_bars": summary.index_source,
                "ticks": summary.ticks,
                "bars": summary.bars,
                "fills": summary.fills,
                "equity": summary.equity,
                "alerts": summary.alerts,
            }
            for summary in evidence.summaries
        ],
    )
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    files = write_backtest_report(result, plan.out_dir, stem_name=_FILENAME_UNSAFE.sub("_", plan.name))
    return BacktestOutcome(
        result=result,
        files=files,
        days=tuple(evidence.summaries),
        skipped_days=skipped,
        fills=fills,
        intents=evidence.intents,
        refused=evidence.refused,
        intent_log=evidence.intent_log,
        synthetic_tokens=frozenset(synthetic),
        first_quote_utc=evidence.first_quote,
    )


def run_backtest(
    settings: Settings,
    start: date,
    end: date,
    *,
    strategy: str | None = None,
    data_dir: Path | None = None,
    out_dir: Path,
    tick_seconds: float | None = None,
    underlyings: Sequence[str] | None = None,
    calendar: NseCalendar | None = None,
    on_clock: Callable[[Clock], None] | None = None,
    on_day: DayCallback | None = None,
) -> BacktestOutcome:
    """Run the engine over the trading days in [start, end] and write the JSON + HTML report.

    `data_dir` overrides `replay.data_dir`; the replay's tick spacing is `tick_seconds`, else
    `backtest.tick_seconds` (the simulator's `replay.tick_seconds` is not used); `underlyings`
    overrides `universe.underlyings`; `strategy` (a built-in name or `module:Class`) overrides
    `strategy.enabled`. `on_clock` is called with the replay's clock before the first session (the CLI
    points the structured log at it); `on_day(summary, done, total)` is called after each session
    (progress). Bad input raises `UserError` naming what was wrong. From async code use
    `run_backtest_async`.
    """
    plan = plan_backtest(
        settings,
        start,
        end,
        strategy=strategy,
        data_dir=data_dir,
        out_dir=out_dir,
        tick_seconds=tick_seconds,
        underlyings=underlyings,
        calendar=calendar,
        on_clock=on_clock,
        on_day=on_day,
    )
    return finish_backtest(plan, asyncio.run(replay_plan(plan)))


async def run_backtest_async(
    settings: Settings,
    start: date,
    end: date,
    *,
    strategy: str | None = None,
    data_dir: Path | None = None,
    out_dir: Path,
    tick_seconds: float | None = None,
    underlyings: Sequence[str] | None = None,
    calendar: NseCalendar | None = None,
    on_clock: Callable[[Clock], None] | None = None,
    on_day: DayCallback | None = None,
) -> BacktestOutcome:
    """`run_backtest` inside a running event loop (e.g. the data-management mode's scheduled backtests).

    Loading bars and writing the report are blocking file work; they are short next to the replay."""
    plan = plan_backtest(
        settings,
        start,
        end,
        strategy=strategy,
        data_dir=data_dir,
        out_dir=out_dir,
        tick_seconds=tick_seconds,
        underlyings=underlyings,
        calendar=calendar,
        on_clock=on_clock,
        on_day=on_day,
    )
    return finish_backtest(plan, await replay_plan(plan))


__all__ = [
    "BacktestOutcome",
    "BacktestPlan",
    "DayCallback",
    "DaySummary",
    "IntentLine",
    "ReplayEvidence",
    "backtest_days",
    "backtest_settings",
    "check_range",
    "choose_strategies",
    "finish_backtest",
    "in_market_by_day",
    "intent_lines",
    "plan_backtest",
    "replay_plan",
    "run_backtest",
    "run_backtest_async",
    "timed_round_trips",
]
