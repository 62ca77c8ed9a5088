"""`run_backtest`: the real engine over the bars a data root holds, turned into the §11.5 report.

The backtest is the engine's bar-driven mode (`optbot.backtest.kernel.BarBacktest`): a `SimClock`, the
index/VIX bars of the §2.1 JSON store (the finest timeframe per instrument and day), per-contract option
bars from the option archive where the data root has them (else a deterministic model derived from
the index bar), and the simulated bar venue (`BarVenue`: the paper broker's books with bar fills and
the dated rate card). Strategy, risk, order manager and portfolio are the same objects live trading
uses, built by the one engine builder.

Before anything runs, `plan_backtest` works out the coverage (per underlying and day: the index
timeframe used, whether option prices are real, synthetic or missing); the report carries it. What
goes into the report is derived only from the engine's store and the replay's clock: fills (with
charges), FIFO round trips (`optbot.portfolio.trades.closed_trades`) and the equity at each end of day
(initial capital + net realised + unrealised). Intent ids, trace ids and order tags are random per run,
so none of them reach the report, and no random number reaches a price: the same inputs give a
byte-identical JSON file whatever `replay.seed` says.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from optbot.analytics.synthetic import model_for
from optbot.backtest.coverage import CoverageRow, DecisionNeed, coverage_table, plan_coverage, refused_fix
from optbot.backtest.inputs import checked_data_root, default_data_root, trading_days_between
from optbot.backtest.kernel import BarBacktest, SessionRun
from optbot.backtest.no_trades import no_trade_reason, refusal_counts
from optbot.backtest.option_bars import REAL, SYNTHETIC
from optbot.backtest.parity_spot import PARITY_SOURCE_PREFIX, ParitySpot
from optbot.backtest.report import BacktestResult, TradeRecord, write_backtest_report
from optbot.backtest.store_data import (
    DAILY_SOURCE,
    FUTURES_SOURCE_PREFIX,
    ROLLED_TIMEFRAMES,
    Label,
    StoreHistory,
    base_timeframe,
)
from optbot.calendar import NseCalendar, Segment, get_calendar
from optbot.config import Settings
from optbot.core.clock import Clock
from optbot.core.enums import Exchange, Side, Timeframe
from optbot.core.errors import UserError
from optbot.core.events import OrderIntent
from optbot.core.timeutil import ist_datetime, to_utc
from optbot.data.archive import OptionArchive
from optbot.engine.replay import PREMARKET_START
from optbot.instruments.scripmaster import parse_rows
from optbot.ops.reports import ReportFiles
from optbot.persistence.records import FillRecord
from optbot.persistence.store import Store
from optbot.portfolio.trades import closed_trades
from optbot.sim.market.instruments import INDEX_ROWS
from optbot.strategy.base import Strategy
from optbot.strategy.registry import load_strategies, resolve_option

log = logging.getLogger("optbot.backtest.runner")

_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]+")
IN_MEMORY = Path(":memory:")


@dataclass(frozen=True, slots=True)
class DaySummary:
    """One replayed session: what drove it and what it produced."""

    day: date
    index_source: str  # "1m", "3m", "5m", "15m", "futures 1m" ... or "daily" (the bars used that day)
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


def intent_reasons(store: Store, submitted: Sequence[OrderIntent]) -> dict[str, str]:
    """Each intent's reason by its id (what closed a trade: a stop, a target, a time exit …): the
    strategy's own words for what it submitted, else what the order manager recorded (e.g. the risk
    engine's flatten)."""
    rows = store.connection.execute("SELECT intent_id, reason FROM intents").fetchall()
    reasons = {str(intent_id): str(reason or "") for intent_id, reason in rows}
    reasons.update({intent.intent_id: intent.reason for intent in submitted if intent.reason})
    return reasons


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
    real_tokens: frozenset[str] = frozenset()
    coverage: tuple[CoverageRow, ...] = ()
    workers: int = 1
    signals: int = 0
    refusals: tuple[tuple[str, int], ...] = ()  # (reason an intent was refused, how many), by reason

    def no_trade_reason(self) -> str | None:
        """Why nothing traded, in one line (None when a trade closed)."""
        return no_trade_reason(
            closed_trades=len(self.result.trades),
            fills=len(self.fills),
            signals=self.signals,
            intents=self.intents,
            refused=self.refused,
            refusals=dict(self.refusals),
            sessions=len(self.days),
            bars=sum(day.bars for day in self.days),
            coverage=self.coverage,
        )

    @property
    def net_pnl(self) -> float:
        return round(self.result.equity[-1][1] - self.result.initial_capital, 2)

    @property
    def charges(self) -> float:
        return round(sum(fill.charges for fill in self.fills), 2)


def choose_strategies(settings: Settings, strategy: str | None) -> list[Strategy]:
    """The named strategy (built-in name or `module:Class`), or the ones enabled in the config."""
    if strategy is None:
        chosen = load_strategies(settings)
        if not chosen:
            raise UserError("no strategy to backtest: strategy.enabled is empty and --strategy was not given")
        return chosen
    return [resolve_option(strategy)(settings)]


def own_underlyings(strategies: Sequence[Strategy]) -> tuple[str, ...] | None:
    """The underlyings the strategies trade when every one of them names its own (legs files), in
    first-named order; None when any trades the run's universe. A NIFTY legs file then replays NIFTY
    alone, as `--underlying NIFTY` would: no BANKNIFTY rows, warnings or days skipped for its bars."""
    named: list[str] = []
    for chosen in strategies:
        traded = chosen.underlyings_traded()
        if traded is None:
            return None
        named.extend(name.upper() for name in traded)
    return tuple(dict.fromkeys(named)) or None


def check_range(calendar: NseCalendar, start: date, end: date) -> list[date]:
    """The F&O trading days in [start, end]; refuses a reversed range, dates outside the calendar and a
    range without a trading day."""
    trading = trading_days_between(calendar, start, end)
    if any(calendar.is_provisional(day) for day in trading):
        log.warning(
            "backtest days after %s are provisional sessions (past the calendar's known range)",
            calendar.last_date,
        )
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
    settings: Settings, strategies: Sequence[Strategy], underlyings: Sequence[str], data_root: Path
) -> dict[str, object]:
    fills = settings.backtest
    return {
        "strategies": "+".join(strategy.name for strategy in strategies),
        "underlyings": "+".join(underlyings),
        "data_root": str(data_root),
        "backtest.slippage_ticks": fills.slippage_ticks,
        "backtest.modelled_spread_ticks": fills.modelled_spread_ticks,
        "backtest.modelled_spread_pct": fills.modelled_spread_pct,
        "backtest.bar_volume_share": fills.bar_volume_share,
        "backtest.same_bar_stop_target": fills.same_bar_stop_target,
        "execution.charges_rate_card_file": str(settings.execution.charges_rate_card_file),
    }


@dataclass
class ReplayEvidence:
    """What the replay left behind once its store is gone."""

    summaries: list[DaySummary] = field(default_factory=list)
    held_value: dict[date, float] = field(default_factory=dict)  # open positions' market value at each close
    synthetic: set[str] = field(default_factory=set)
    real: set[str] = field(default_factory=set)
    fills: tuple[FillRecord, ...] = ()
    intent_log: tuple[IntentLine, ...] = ()
    intent_reasons: dict[str, str] = field(default_factory=dict)  # intent id -> its reason
    intents: int = 0
    refused: int = 0
    signals: int = 0
    refusals: dict[str, int] = field(default_factory=dict)  # reason -> intents it refused
    forward_from_future: set[str] = field(default_factory=set)  # synthetic tokens priced off the future


@dataclass(frozen=True)
class BacktestPlan:
    """A validated backtest: settings, strategies, the days to replay and what data covers them."""

    settings: Settings
    start: date
    end: date
    calendar: NseCalendar
    data_root: Path
    underlyings: tuple[str, ...]
    strategies: tuple[Strategy, ...]
    days: tuple[tuple[date, str], ...]  # (day, finest stored index bars that day)
    skipped: tuple[date, ...]
    coverage: tuple[CoverageRow, ...]
    out_dir: Path
    on_clock: Callable[[Clock], None] | None = None
    on_day: DayCallback | None = None
    strategy_spec: str | None = None  # what --strategy named (re-resolved in worker processes)
    rolled: tuple[Timeframe, ...] = ROLLED_TIMEFRAMES  # timeframes built from each day's base bars
    requested: tuple[str, ...] = ()  # the underlyings asked for (those without bars are left out)
    #: The bars the plan read (this process replays from them instead of reading the store again;
    #: worker processes get a plan without them and read their own).
    history: StoreHistory | None = None
    report_stem: str | None = None  # the report files' name (`--out FILE.html`); None: the default name

    @property
    def name(self) -> str:
        return "+".join(item.name for item in self.strategies)


def decision_needs(strategies: Sequence[Strategy]) -> list[DecisionNeed]:
    """What each strategy decides on (its entry timeframe, or None for any intraday bar)."""
    return [
        DecisionNeed(strategy.name, strategy.decision_timeframe(), strategy.decision_timeframe_adapts())
        for strategy in strategies
    ]


def rolled_timeframes(settings: Settings, needs: Sequence[DecisionNeed]) -> tuple[Timeframe, ...]:
    """The standard rolled-up timeframes plus every intraday timeframe the strategies ask for (their
    entry timeframes and the configured trend timeframes), so a 3-minute entry gets 3-minute bars
    built from 1-minute ones. With the default settings this is the standard set, nothing more."""
    asked = {need.timeframe for need in needs if need.timeframe is not None}
    asked.update(settings.strategy.trend_timeframes)
    asked.discard(Timeframe.D1)
    return tuple(sorted({*ROLLED_TIMEFRAMES, *asked}, key=lambda timeframe: timeframe.seconds))


def store_history(
    settings: Settings,
    data_root: Path,
    calendar: NseCalendar,
    rolled: Sequence[Timeframe] = ROLLED_TIMEFRAMES,
) -> StoreHistory:
    """The data root's index/VIX bars as a backtest replays them, with the option archive's parity
    spot for indices that have no bars (and the futures basis), priced with the active calibration."""
    archive = open_archive(data_root)
    parity = (
        ParitySpot(
            archive,
            model_for(settings.analytics.calibration_file, calendar),
            calendar,
            settings.backtest.parity_strikes,
        )
        if archive is not None
        else None
    )
    return StoreHistory(
        data_root,
        calendar,
        settings.data,
        rolled,
        parity=parity,
        futures_min_coverage=settings.backtest.futures_min_coverage,
        labels=index_labels(),
    )


def index_labels() -> dict[str, Label]:
    """(token, symbol) of each index as the replay's instrument master lists it (`BarBacktest` lists
    these rows and names each index's bars after its row): the history reads the stored bars under
    them once, instead of as stored and then relabelled for the replay."""
    instruments, _ = parse_rows([dict(row) for row in INDEX_ROWS])
    return {instrument.underlying: (instrument.token, instrument.underlying) for instrument in instruments}


def open_archive(data_root: Path) -> OptionArchive | None:
    """The data root's option archive, or None when it holds no option bars."""
    archive = OptionArchive(data_root)
    return archive if archive.root.is_dir() else None


def plan_backtest(
    settings: Settings,
    start: date,
    end: date,
    *,
    strategy: str | None = None,
    data_dir: Path | None = None,
    out_dir: Path,
    underlyings: Sequence[str] | None = None,
    calendar: NseCalendar | None = None,
    require_real_options: bool = False,
    on_clock: Callable[[Clock], None] | None = None,
    on_day: DayCallback | None = None,
    report_stem: str | None = None,
) -> BacktestPlan:
    """Validate every input (UserError naming the bad one), work out the coverage and pick the days;
    nothing is written yet. `require_real_options` refuses a plan where any replayed day lacks real
    option bars for an underlying (naming the first such day)."""
    calendar = calendar or get_calendar()
    data_root = checked_data_root(settings, data_dir)
    trading = check_range(calendar, start, end)
    if not underlyings:  # strategies that all name their own underlyings (legs files) replay just those
        underlyings = own_underlyings(choose_strategies(settings, strategy))
    wanted = tuple(u.upper() for u in (underlyings or settings.universe.underlyings))
    if underlyings:  # the strategies trade what is replayed (`--underlying FINNIFTY`), as live would
        universe = settings.universe.model_copy(update={"underlyings": list(wanted)})
        settings = settings.model_copy(update={"universe": universe})
    strategies = tuple(choose_strategies(settings, strategy))
    needs = decision_needs(strategies)
    rolled = rolled_timeframes(settings, needs)
    history = store_history(settings, data_root, calendar, rolled)
    vix = settings.universe.vix_symbol.upper()
    plan = plan_coverage(history, open_archive(data_root), calendar, settings, wanted, vix, trading, needs)
    if require_real_options:
        for row in plan.rows:
            if row.replayed and row.options != REAL:
                raise UserError(
                    f"--require-real-options: no real option bars for {row.underlying} on {row.day} "
                    f"(option prices would be {row.options}); import them or drop the flag"
                )
    return BacktestPlan(
        settings,
        start,
        end,
        calendar,
        data_root,
        plan.underlyings,
        strategies,
        plan.days,
        plan.skipped,
        plan.rows,
        out_dir,
        on_clock,
        on_day,
        strategy,
        rolled,
        wanted,
        history,
        report_stem,
    )


async def replay_days(plan: BacktestPlan, days: Sequence[tuple[date, str]]) -> ReplayEvidence:
    """Drive a fresh engine through `days` of the plan. The engine's state is scratch here: an
    in-memory SQLite store (same schema and code paths as the durable file, no per-commit fsync)."""
    settings = plan.settings
    evidence = ReplayEvidence()
    sources = dict(days)
    history = plan.history or store_history(settings, plan.data_root, plan.calendar, plan.rolled)
    # a worker process gets the plan without strategy objects and builds its own
    strategies = plan.strategies or tuple(choose_strategies(settings, plan.strategy_spec))
    kernel = BarBacktest(
        settings,
        IN_MEMORY,
        days[0][0],
        history,
        open_archive(plan.data_root),
        strategies=strategies,
        underlyings=plan.underlyings,
        calendar=plan.calendar,
    )
    try:
        if plan.on_clock is not None:
            plan.on_clock(kernel.clock)

        cash = 0.0  # what the fills so far moved (premiums and charges), as `equity_curve` adds it up
        alerted = 0  # the engine's alerts of the sessions before (its counter runs over the whole run)

        def on_session_end(run: SessionRun) -> None:
            nonlocal cash, alerted
            portfolio = run.engine.portfolio
            held = evidence.held_value[run.day] = sum(
                position.net_quantity
                * (portfolio.mark(position.exchange, position.token) or position.average_price)
                for position in portfolio.open_positions()
            )
            day_fills = kernel.store.fills(run.day, run.day)
            for fill in day_fills:  # in the order `equity_curve` takes them: the same sums
                cash += cash_flow(fill)
            # the report's equity at this close (initial capital + cash + the open positions' value),
            # without reading every position ever held at each session's end
            value = settings.backtest.initial_capital + cash + held
            fills = len(day_fills)
            alerts = run.engine.counters.alerts - alerted
            alerted += alerts
            summary = DaySummary(run.day, sources[run.day], run.bars, fills, round(value, 2), alerts)
            evidence.summaries.append(summary)
            if plan.on_day is not None:
                plan.on_day(summary, len(evidence.summaries), len(days))

        kernel.on_session_end = on_session_end
        await kernel.run([day for day, _ in days])
        evidence.fills = tuple(kernel.store.fills())
        evidence.intent_log = tuple(intent_lines(kernel.store))
        evidence.intent_reasons = intent_reasons(kernel.store, kernel.engine.ctx.intents)
        evidence.intents = kernel.engine.counters.intents
        evidence.refused = kernel.engine.counters.refused
        evidence.signals = kernel.engine.counters.signals
        evidence.refusals = refusal_counts(kernel.store)
        evidence.real = {token for token, kind in kernel.prices.priced.items() if kind == REAL}
        evidence.synthetic = {token for token, kind in kernel.prices.priced.items() if kind == SYNTHETIC}
        if kernel.prices.forward is not None:
            evidence.forward_from_future = kernel.prices.forward.used & evidence.synthetic
    finally:
        kernel.close()
    return evidence


async def replay_plan(plan: BacktestPlan) -> ReplayEvidence:
    """Drive the engine through every day of the plan in this process."""
    return await replay_days(plan, plan.days)


def cash_flow(fill: FillRecord) -> float:
    """The cash a fill moves: the premium received (sell) or paid (buy), less its charges."""
    amount = fill.quantity * fill.price
    return (amount if fill.side is Side.SELL else -amount) - fill.charges


def equity_curve(
    plan: BacktestPlan, fills: Sequence[FillRecord], held_value: dict[date, float]
) -> list[tuple[str, float]]:
    """Equity at the first session's open and at each session's end: initial capital + the cash the fills
    moved (premiums and charges, in fill order) + the open positions' market value at that close. The
    curve starts at the open, where trading data starts, not at the replay's pre-market start, so the
    report's charts begin with the market. Computed from the fills alone so a run split across processes
    gives the same curve as one process."""
    initial = plan.settings.backtest.initial_capital
    curve = [(_iso(_first_open_utc(plan)), initial)]
    ordered = sorted(fills, key=lambda fill: fill.ts_utc)  # stable: same-time fills keep their order
    cash, cursor = 0.0, 0
    for day, _source in plan.days:
        while cursor < len(ordered) and ordered[cursor].trade_date <= day:
            cash += cash_flow(ordered[cursor])
            cursor += 1
        session = plan.calendar.session(day, Segment.FO)
        close = session.close_utc if session is not None else ist_datetime(day, PREMARKET_START)
        curve.append((_iso(close), initial + cash + held_value.get(day, 0.0)))
    return curve


def _first_open_utc(plan: BacktestPlan) -> datetime:
    """The first replayed session's open (the replay's pre-market start on a day the calendar has no
    F&O session for, which a plan does not normally hold)."""
    first_day = plan.days[0][0]
    session = plan.calendar.session(first_day, Segment.FO)
    return session.open_utc if session is not None else ist_datetime(first_day, PREMARKET_START)


def _source_order(source: str) -> tuple[int, int]:
    """1m, 3m, 5m, 15m, then futures 1m ..., then parity 1m ..., then daily."""
    if source == DAILY_SOURCE:
        return (3, 0)
    kind = 2 if source.startswith(PARITY_SOURCE_PREFIX) else int(source.startswith(FUTURES_SOURCE_PREFIX))
    return (kind, base_timeframe(source).seconds)


def _notes(plan: BacktestPlan, evidence: ReplayEvidence) -> list[str]:
    days = plan.days
    sources = [row.index_bars for row in plan.coverage if row.replayed]
    notes = [
        "Bars are the events: each bar's close is the instrument's last price, no intra-bar path is "
        "invented and no random number enters a price or a fill.",
        "Index prices come from the stored bars ("
        + ", ".join(
            f"{source}: {sources.count(source)} underlying-day(s)"
            for source in sorted(set(sources), key=_source_order)
        )
        + "); higher timeframes are rolled up from them on the session grid.",
        "Fills (bar venue): a marketable order fills at the next bar's open plus half the modelled spread "
        "and the slippage; a limit only when a bar trades through it; stops trigger on the bar's range; "
        f"at most {plan.settings.backtest.bar_volume_share:.0%} of a real option bar's volume fills and "
        "a bar without volume fills nothing; a stop and a target inside one bar: "
        f"{plan.settings.backtest.same_bar_stop_target}.",
        "Equity is marked at each end of day: initial capital + the cash the fills moved (premiums and "
        "charges) + the open positions' value.",
    ]
    if any(source.startswith(FUTURES_SOURCE_PREFIX) for source in sources):
        notes.append(
            'Where an index had no intraday bars but its near-month future had ("futures 1m" in the '
            "coverage table), the future's bars were used, shifted by that day's basis: the median of "
            "(future - put-call-parity spot) over the day's minutes where the option bars give the spot, "
            "else the future's last close minus the index's official close. The intraday path is the "
            "future's."
        )
    if any(source.startswith(PARITY_SOURCE_PREFIX) for source in sources):
        settings = plan.settings
        notes.append(
            'Where an index had no bars at all ("parity 1m" in the coverage table), its spot was derived '
            "from the real option bars by put-call parity: each minute, the forward K + (C - P)e^(rt) "
            f"at the {settings.backtest.parity_strikes} strike(s) nearest the money whose call and put "
            "both traded (median), discounted by the synthetic model's carry for that underlying; the "
            "bar's open and close come from the options' opens and closes and its high/low span only "
            "those two; a minute without a call/put pair repeats the previous value. On the bundled "
            "NIFTY November 2022 minutes, where the real index is known, this spot is off by 5.1 points "
            "median (p90 13.4) at about 18,200."
        )
    refused = [row for row in plan.coverage if row.entries_refused]
    if refused:
        notes.append(
            f"WARNING: on {len(refused)} underlying-day(s) the bars were too coarse for the strategies' "
            "entries (see the coverage table's entries column): replayed, but nothing could be entered "
            f"there. {refused_fix(refused)}"
        )
    adapted = [row for row in plan.coverage if row.entries_adapted]
    if adapted:
        notes.append(
            f"On {len(adapted)} underlying-day(s) the bars were coarser than a strategy's entry timeframe: "
            "it entered on the finest bars those days had (the coverage table's entries column says "
            "'adapted'; strategy.entry_timeframe_adapts = false refuses such days instead)."
        )
    if DAILY_SOURCE in sources:
        notes.append(
            "WARNING: some days had only a daily index bar (see the coverage table): they were replayed "
            "as one bar spanning the session; intraday strategies cannot trade on them."
        )
    if evidence.real:
        notes.append(f"{len(evidence.real)} option contract(s) were priced and filled from their own bars.")
    if evidence.synthetic:
        notes.append(
            f"{len(evidence.synthetic)} option contract(s) had no bars in the data root and were priced by "
            "the synthetic model calibrated to real premiums, from the index bar (the README gives its "
            "measured error); options are never interpolated between strikes."
        )
        if evidence.forward_from_future:
            notes.append(
                f"{len(evidence.forward_from_future)} of them were valued with the traded near-month "
                "future's bars (NAME-I in the store) as the forward where the future had a bar that minute."
            )
    alerts = sum(summary.alerts for summary in evidence.summaries)
    if alerts:
        notes.append(
            f"The engine raised {alerts} alert(s) during the run (per day in the days table); "
            "they are in the structured log."
        )
    left_out = [name for name in plan.requested if name not in plan.underlyings]
    if left_out:
        notes.append(f"Left out (no bars in the data root): {', '.join(left_out)}.")
    if plan.skipped:
        notes.append(
            "Trading days without index/VIX bars in the store, skipped: "
            + ", ".join(str(day) for day in plan.skipped)
        )
    provisional = provisional_note(plan.calendar, [day for day, _ in days])
    if provisional:
        notes.append(provisional)
    return notes


def finish_backtest(plan: BacktestPlan, evidence: ReplayEvidence, workers: int = 1) -> BacktestOutcome:
    """Turn the replay's evidence into the report (JSON + HTML in `plan.out_dir`) and the outcome."""
    settings, days, skipped = plan.settings, plan.days, plan.skipped
    fills, synthetic = evidence.fills, evidence.synthetic
    trades = closed_trades(fills)
    records = [
        TradeRecord(
            symbol=trade.symbol,
            side=trade.direction.value,
            quantity=trade.quantity,
            entry_time=_iso(trade.entry_time_utc),
            entry_price=trade.entry_price,
            exit_time=_iso(trade.exit_time_utc),
            exit_price=trade.exit_price,
            charges=trade.charges,
            net_pnl=trade.net_pnl,
            synthetic_prices=trade.token in synthetic,
            exit_reason=evidence.intent_reasons.get(trade.exit_intent_id, ""),
        )
        for trade in trades
    ]
    equity = equity_curve(plan, fills, evidence.held_value)
    summaries = [
        DaySummary(s.day, s.index_source, s.bars, s.fills, round(value, 2), s.alerts)
        for s, (_, value) in zip(evidence.summaries, equity[1:], strict=True)
    ]
    result = BacktestResult(
        strategy=plan.name,
        start=plan.start.isoformat(),
        end=plan.end.isoformat(),
        initial_capital=settings.backtest.initial_capital,
        equity=equity,
        trades=records,
        in_market=in_market_by_day(fills, [day for day, _ in days]),
        var_confidence=settings.analytics.var_confidence,
        notes=_notes(plan, evidence),
        settings=_report_settings(settings, plan.strategies, plan.underlyings, plan.data_root),
        synthetic_options=bool(synthetic),
        days=[
            {
                "day": summary.day.isoformat(),
                "index_bars": summary.index_source,
                "bars": summary.bars,
                "fills": summary.fills,
                "equity": summary.equity,
                "alerts": summary.alerts,
            }
            for summary in summaries
        ],
        coverage=[row.as_dict() for row in plan.coverage],
    )
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    files = write_backtest_report(
        result, plan.out_dir, stem_name=_FILENAME_UNSAFE.sub("_", plan.name), stem=plan.report_stem
    )
    return BacktestOutcome(
        result=result,
        files=files,
        days=tuple(summaries),
        skipped_days=skipped,
        fills=fills,
        intents=evidence.intents,
        refused=evidence.refused,
        signals=evidence.signals,
        refusals=tuple(sorted(evidence.refusals.items())),
        intent_log=evidence.intent_log,
        synthetic_tokens=frozenset(synthetic),
        real_tokens=frozenset(evidence.real),
        coverage=plan.coverage,
        workers=workers,
    )


def run_backtest(
    settings: Settings,
    start: date,
    end: date,
    *,
    strategy: str | None = None,
    data_dir: Path | None = None,
    out_dir: Path,
    underlyings: Sequence[str] | None = None,
    calendar: NseCalendar | None = None,
    require_real_options: bool = False,
    workers: int = 1,
    on_plan: Callable[[BacktestPlan], None] | None = None,
    on_clock: Callable[[Clock], None] | None = None,
    on_day: DayCallback | None = None,
    report_stem: str | None = None,
) -> BacktestOutcome:
    """Run the engine over the trading days in [start, end] and write the JSON + HTML report.

    The public entry point for one backtest (the CLI and the research suite call it; many
    configurations at once: `optbot.backtest.parallel.run_many`).

    - `data_dir`: the data root to replay (default `default_data_root`: `replay.data_dir` when set,
      else `paths.data_root` once it holds bars, else the bundled `data/sample/store`);
      it must hold the §2.1 JSON timeframes (`timeframes/<SYMBOL>/<tf>.json`) and may hold the option
      archive (`archive/options/...`).
    - `strategy`: a built-in name or `module:Class` (default: `strategy.enabled`); `underlyings`
      overrides `universe.underlyings` (those without bars in the store are left out, see the coverage).
    - `require_real_options`: refuse (UserError) when a replayed day lacks real option bars.
    - `workers`: processes to split the sessions over (`optbot.backtest.parallel`); used only when every
      strategy declares `sessions_independent` (it holds nothing overnight and its decisions do not
      depend on earlier sessions' trading), else the run stays in one process. The report is the same.
    - `on_plan(plan)` is called once the coverage is known (the CLI prints it); `on_clock(clock)` with
      the replay's clock before the first session (one-process runs); `on_day(summary, done, total)`
      after each session (progress).
    - `report_stem`: the report files' name without suffix (default `backtest-<strategy>-<start>-<end>`).

    Returns a `BacktestOutcome` (the report's data, the report files, per-day summaries, every fill,
    the intent log, which contracts were real or synthetic, the coverage). Bad input raises
    `UserError` naming what was wrong. Deterministic: the same inputs give a byte-identical report.
    From async code use `run_backtest_async`.
    """
    plan = plan_backtest(
        settings,
        start,
        end,
        strategy=strategy,
        data_dir=data_dir,
        out_dir=out_dir,
        underlyings=underlyings,
        calendar=calendar,
        require_real_options=require_real_options,
        on_clock=on_clock,
        on_day=on_day,
        report_stem=report_stem,
    )
    if on_plan is not None:
        on_plan(plan)
    from optbot.backtest.parallel import chunk_count, replay_parallel

    chunks = chunk_count(plan, workers)
    if chunks > 1:
        return finish_backtest(plan, replay_parallel(plan, chunks), chunks)
    return finish_backtest(plan, asyncio.run(replay_plan(plan)))


async def run_backtest_async(
    settings: Settings,
    start: date,
    end: date,
    *,
    strategy: str | None = None,
    data_dir: Path | None = None,
    out_dir: Path,
    underlyings: Sequence[str] | None = None,
    calendar: NseCalendar | None = None,
    require_real_options: bool = False,
    on_clock: Callable[[Clock], None] | None = None,
    on_day: DayCallback | None = None,
) -> BacktestOutcome:
    """`run_backtest` inside a running event loop (e.g. the data-management mode's scheduled
    backtests), in this process. Loading bars and writing the report are blocking file work."""
    plan = plan_backtest(
        settings,
        start,
        end,
        strategy=strategy,
        data_dir=data_dir,
        out_dir=out_dir,
        underlyings=underlyings,
        calendar=calendar,
        require_real_options=require_real_options,
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
    "check_range",
    "choose_strategies",
    "coverage_table",
    "default_data_root",
    "equity_curve",
    "finish_backtest",
    "in_market_by_day",
    "intent_lines",
    "open_archive",
    "plan_backtest",
    "replay_days",
    "replay_plan",
    "run_backtest",
    "run_backtest_async",
    "store_history",
]
