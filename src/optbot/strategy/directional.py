"""Shared machinery of the built-in option-buying strategies.

A subclass only says *when* and *which way* (`entry_idea`). This base turns an idea into a trade the
way the spec asks: ATM contract from the listed chain, the §10.3 checklist, §10.2 sizing, an exit plan
on the underlying (§10.4), and an intent whose `reason` a trader can follow. It also runs the exits,
learns its fills and keeps the performance record.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import structlog

from optbot.config import Settings
from optbot.core.enums import (
    IntentPurpose,
    OptionType,
    OrderType,
    RiskState,
    Settlement,
    Side,
    SignalDirection,
    Timeframe,
)
from optbot.core.events import SIGNAL_EXIT_PLAN, Bar, Fill, OrderIntent, Signal, Tick
from optbot.core.ids import new_id
from optbot.core.instrument import Instrument
from optbot.core.timeutil import IST, ist_date, to_ist
from optbot.instruments.chain import OptionQuote
from optbot.instruments.master import index_name
from optbot.strategy.adoption import PositionOrigin, RecordedExitPlan
from optbot.strategy.base import Strategy
from optbot.strategy.checklist import days_to_expiry, entry_checklist
from optbot.strategy.context import StrategyContext
from optbot.strategy.exits import (
    ExitAction,
    ExitPlan,
    evaluate_exit,
    plan_exits,
    restored_plan,
    resume_progress,
)
from optbot.strategy.mtf import entry_timeframe
from optbot.strategy.performance import PerformanceBook
from optbot.strategy.regime import gap_percent
from optbot.strategy.sizing import PositionSizer, SizingRequest

log = structlog.get_logger("optbot.strategy")


@dataclass(frozen=True, slots=True)
class EntryIdea:
    """Why a strategy wants in, in words, and the facts the checklist and stop need."""

    direction: SignalDirection
    trigger: str
    trend_aligned: bool
    trend_detail: str
    near_level: bool
    level_detail: str
    key_level: float | None = None
    target: float | None = None  # an explicit underlying target (gap fill); else reward/risk
    strength: float = 0.5
    source: str = ""  # the sub-strategy that produced it (adaptive selection)


@dataclass(slots=True)
class PendingEntry:
    underlying: str
    contract: Instrument
    idea: EntryIdea
    underlying_price: float
    vix: float | None
    requested: int


@dataclass(slots=True)
class OpenTrade:
    underlying: str
    contract: Instrument
    idea: EntryIdea
    plan: ExitPlan
    filled: int = 0
    cost: float = 0.0  # premium paid for the filled quantity
    proceeds: float = 0.0
    closed: int = 0
    exit_intents: set[str] = field(default_factory=set)
    seen_in_book: bool = False  # the portfolio has shown this position at least once

    @property
    def open_quantity(self) -> int:
        return self.filled - self.closed


class DirectionalOptionStrategy(Strategy):
    """Buy ATM calls on bullish ideas and ATM puts on bearish ones; manage them to the exit."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.params = settings.strategy
        self.sizer = PositionSizer(settings.strategy, settings.risk)
        self.underlyings = {symbol.upper() for symbol in settings.universe.underlyings}
        self.underlyings |= {symbol.upper() for symbol in settings.universe.stock_underlyings}
        self.pending_entries: dict[str, PendingEntry] = {}
        # entries reported refused whose order may still fill late (a reply lost, then found): kept so a
        # late fill is adopted as the trade it was meant to be instead of an unmanaged position
        self.refused_entries: dict[str, PendingEntry] = {}
        self.trades: dict[str, OpenTrade] = {}
        self.exit_owner: dict[str, str] = {}  # exit intent id -> underlying
        #: entry intent id of a trade taken back after a restart -> its underlying (later fills add to it)
        self.adopted_entries: dict[str, str] = {}
        self.performance = PerformanceBook(settings.strategy, starting_capital=1.0)
        self.journal: list[str] = []  # every decision in words, newest last
        self._last_skip: dict[str, str] = {}
        #: per underlying: today's date and the intraday timeframes whose bars closed today
        self._timeframes_today: dict[str, tuple[date, set[Timeframe]]] = {}
        self._adapted_note: dict[str, date] = {}  # underlying -> the day its adaptation was noted

    # ----------------------------------------------------------- subclass API
    @abstractmethod
    def entry_idea(self, ctx: StrategyContext, bar: Bar) -> EntryIdea | None:
        """Return an idea when this strategy's conditions hold on the just-closed entry bar."""

    # ----------------------------------------------------------------- hooks
    def on_start(self, ctx: StrategyContext) -> None:
        self.performance = PerformanceBook(self.params, starting_capital=max(ctx.account_value(), 1.0))
        self.note(ctx, f"{self.name} started on {', '.join(sorted(self.underlyings))}")

    def decision_timeframe(self) -> Timeframe:
        """Entries and exits run on the configured entry timeframe's bars."""
        return self.params.entry_timeframe

    def decision_timeframe_adapts(self) -> bool:
        return self.params.entry_timeframe_adapts

    def entry_timeframe(self, ctx: StrategyContext, base: Timeframe | None = None) -> Timeframe:
        """The entry timeframe (`base`: the day's, default the configured one), one step lower while
        VIX is high (§4.2)."""
        return entry_timeframe(self.params, ctx.vix(), self.settings.risk.vix_high, base)

    def _day_timeframe(self, ctx: StrategyContext, bar: Bar, wanted: Timeframe) -> Timeframe:
        """`wanted`, unless the underlying's bars today never include it: then (when the entry
        timeframe adapts) the finest coarser intraday timeframe that has closed today, e.g. 15m on a
        day of 15-minute history. Bars of one close time arrive finest first, so a day with 1-minute
        bars has shown a 5-minute bar before its first 15-minute one."""
        day = ist_date(bar.start_utc)
        seen = self._timeframes_today.get(bar.symbol)
        if seen is None or seen[0] != day:
            seen = self._timeframes_today[bar.symbol] = (day, set())
        if bar.timeframe is not Timeframe.D1:
            seen[1].add(bar.timeframe)
        if wanted in seen[1] or not self.params.entry_timeframe_adapts:
            return wanted
        coarser = [timeframe for timeframe in seen[1] if timeframe.seconds > wanted.seconds]
        if not coarser:
            return wanted
        adapted = min(coarser, key=lambda timeframe: timeframe.seconds)
        if self._adapted_note.get(bar.symbol) != day:
            self._adapted_note[bar.symbol] = day
            self.note(
                ctx,
                f"{bar.symbol} {day}: no {wanted} bars today, entering on {adapted} bars "
                "(strategy.entry_timeframe_adapts)",
            )
        return adapted

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        if bar.symbol.upper() not in self.underlyings:
            return
        base = self._day_timeframe(ctx, bar, self.params.entry_timeframe)
        current = self.entry_timeframe(ctx, base)
        if bar.timeframe not in (base, current):
            return
        self._manage_exits(ctx, bar)
        if bar.timeframe is not current:
            self._skip(
                ctx,
                bar.symbol,
                f"VIX {ctx.vix():.2f} >= {self.settings.risk.vix_high:g}: "
                f"entries moved to {current} bars (§4.2)",
            )
            return
        if bar.symbol in self.trades or any(
            p.underlying == bar.symbol for p in self.pending_entries.values()
        ):
            return
        if ctx.risk_state() is RiskState.HALTED:
            self._skip(ctx, bar.symbol, "risk state HALTED: no new entries")
            return
        held = [p for p in ctx.positions() if p.underlying == bar.symbol and p.net_quantity != 0]
        if held:  # e.g. after a restart: the position is the engine's to flatten, not a reason to add
            self._skip(
                ctx, bar.symbol, f"already holding {held[0].symbol} ({held[0].net_quantity}): no new entry"
            )
            return
        waiting = self._gap_wait(ctx, bar)
        if waiting:
            self._skip(ctx, bar.symbol, waiting)
            return
        idea = self.entry_idea(ctx, bar)
        if idea is not None:
            self._enter(ctx, bar, idea)

    def wants_ticks(self) -> bool:
        """Prices between bar closes are wanted only to run the exits on them (exits_on_every_price)."""
        return self.params.exits_on_every_price

    def on_tick(self, ctx: StrategyContext, tick: Tick) -> None:
        """An underlying's price with an open trade on it: its stop, target and trail are checked now,
        not at the next entry-timeframe close (spec §7.1 'track open positions in real time')."""
        if not self.trades or not self.params.exits_on_every_price:
            return
        underlying = index_name(tick.symbol)  # a live feed's "Nifty 50" is the bars' NIFTY
        if underlying in self.trades:
            self._manage_exits_at(ctx, underlying, tick.ltp)

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        pending = self.pending_entries.get(fill.intent_id)
        if pending is not None:
            self._entry_filled(ctx, fill, pending)
            return
        refused = self.refused_entries.get(fill.intent_id)
        if refused is not None:
            self._late_entry_filled(ctx, fill, refused)
            return
        underlying = self.exit_owner.get(fill.intent_id)
        if underlying is not None and underlying in self.trades:
            self._exit_filled(ctx, fill, self.trades[underlying])
            return
        adopted = self.adopted_entries.get(fill.intent_id)
        trade = self.trades.get(adopted) if adopted is not None else None
        if trade is not None and trade.contract.token == fill.token:
            self._adopted_entry_filled(ctx, fill, trade)

    def on_timer(self, ctx: StrategyContext, name: str) -> None:
        """'flatten' closes every open trade now (end of day, operator)."""
        if name != "flatten":
            return
        for trade in list(self.trades.values()):
            quantity = trade.plan.quantity
            if quantity > 0:
                trade.plan.quantity = 0
                self._submit_exit(
                    ctx, trade, quantity, IntentPurpose.EXIT, "flatten timer: close all positions", None
                )

    def on_stop(self, ctx: StrategyContext) -> None:
        for underlying in sorted(self.trades):
            trade = self.trades[underlying]
            self.note(ctx, f"stopping with {trade.open_quantity} {trade.contract.symbol} still open")

    def on_reject(self, ctx: StrategyContext, intent: OrderIntent, reasons: tuple[str, ...]) -> None:
        """A refused entry frees the underlying; a refused exit puts the quantity back under the plan."""
        why = "; ".join(reasons)
        pending = self.pending_entries.pop(intent.intent_id, None)
        if pending is not None:
            self.refused_entries[intent.intent_id] = pending
            self.note(ctx, f"entry {intent.symbol} refused: {why}")
            return
        underlying = self.exit_owner.pop(intent.intent_id, None)
        trade = self.trades.get(underlying) if underlying else None
        if trade is not None:
            trade.exit_intents.discard(intent.intent_id)
            trade.plan.quantity += intent.quantity
            self.note(ctx, f"exit {intent.symbol} refused ({why}); will retry on the next bar")

    def on_exit_capped(
        self, ctx: StrategyContext, intent: OrderIntent, approved_quantity: int, reasons: tuple[str, ...]
    ) -> None:
        """Only part of an exit was sent: the rest goes back under the plan, so it is exited on a later
        price if it is still held once the other working exit has ended."""
        underlying = self.exit_owner.get(intent.intent_id)
        trade = self.trades.get(underlying) if underlying else None
        if trade is None:
            return
        rest = intent.quantity - approved_quantity
        trade.plan.quantity += rest
        why = "; ".join(reasons)
        self.note(
            ctx, f"exit {intent.symbol} sent for {approved_quantity}; {rest} back under the plan ({why})"
        )

    # ------------------------------------------------------------- restarts
    def manages_position(self, token: str) -> bool:
        """An open trade in the contract, or an entry of ours in it still waiting for fills."""
        return any(trade.contract.token == token for trade in self.trades.values()) or any(
            entry.contract.token == token for entry in self.pending_entries.values()
        )

    def adopt_position(self, ctx: StrategyContext, origin: PositionOrigin) -> bool:
        """Take back a long option position this strategy entered before a restart: its exit plan is
        rebuilt from the entry recorded in the store (the plan audited with the signal; for older
        entries a conservative plan from the entry's underlying level) and carried forward over the
        bars since entry, so the stop, target and trail apply from the next price on."""
        if self.manages_position(origin.token):
            return True
        contract = origin.contract
        if contract is None or contract.option_type is None or origin.net_quantity <= 0:
            self.note(
                ctx, f"{origin.symbol} ({origin.net_quantity}) is not a long option it can manage: left"
            )
            return False
        underlying = contract.underlying.upper()
        if underlying in self.trades:
            held = self.trades[underlying].contract.symbol
            self.note(ctx, f"{origin.symbol} not taken back: already managing {held} on {underlying}")
            return False
        entry_time = origin.entry_time or ctx.now_utc()
        recorded = origin.recorded_plan
        entry_underlying = (
            recorded.entry_underlying
            if recorded is not None
            else origin.entry_underlying or self._underlying_close_at(ctx, underlying, entry_time)
        )
        if entry_underlying is None:
            self.note(ctx, f"{origin.symbol} not taken back: no {underlying} level at its entry is known")
            return False
        bullish = contract.option_type is OptionType.CE
        direction = SignalDirection.BULLISH if bullish else SignalDirection.BEARISH
        plan = restored_plan(
            self.params,
            direction,
            entry_time,
            entry_underlying,
            origin.net_quantity,
            contract.lot_size,
            contract.expiry,
            contract.settlement is Settlement.PHYSICAL,
            (recorded.stop, recorded.target) if recorded is not None else None,
            recorded.entry_vix if recorded is not None else origin.entry_vix,
        )
        best = self._best_close_since(ctx, underlying, entry_time, plan.sign, entry_underlying)
        resume_progress(plan, self.params, best, origin.entry_quantity > origin.net_quantity)
        idea = EntryIdea(direction, "taken back after a restart", True, "", False, "", source=self.name)
        price = origin.entry_price if origin.entry_price is not None else origin.average_price
        self.trades[underlying] = OpenTrade(
            underlying,
            contract,
            idea,
            plan,
            origin.net_quantity,
            origin.net_quantity * price,
            seen_in_book=True,
        )
        if origin.entry_intent_id:
            self.adopted_entries[origin.entry_intent_id] = underlying
        self.note(
            ctx,
            f"took back {origin.net_quantity} {contract.symbol} entered "
            f"{to_ist(entry_time):%H:%M} @ {price:.2f} ({underlying} {entry_underlying:.2f}): "
            f"{'; '.join(plan.notes)}; now stop {plan.stop:.2f}, target {plan.target:.2f}",
        )
        return True

    def _adopted_entry_filled(self, ctx: StrategyContext, fill: Fill, trade: OpenTrade) -> None:
        """More of an entry sent before the restart filled after the trade was taken back: it joins the
        trade under the same plan."""
        trade.filled += fill.quantity
        trade.cost += fill.quantity * fill.price
        trade.plan.quantity += fill.quantity
        self.note(ctx, f"entry filled {fill.quantity} {fill.symbol} @ {fill.price:.2f} (taken-back trade)")

    def _underlying_close_at(self, ctx: StrategyContext, underlying: str, moment: datetime) -> float | None:
        """The underlying's close of the last entry-timeframe bar ended by `moment` (an entry that did
        not record its level), else None."""
        bars = ctx.bars(underlying, self.params.entry_timeframe, 500)
        before = [bar for bar in bars if bar.end_utc <= moment]
        return before[-1].close if before else None

    def _best_close_since(
        self, ctx: StrategyContext, underlying: str, since: datetime, sign: int, entry_underlying: float
    ) -> float:
        """The most favourable entry-timeframe close after `since` (the trail's anchor before the
        restart); the entry level when no bar closed since."""
        closes = [
            bar.close for bar in ctx.bars(underlying, self.params.entry_timeframe, 500) if bar.end_utc > since
        ]
        if not closes:
            return entry_underlying
        return max(closes) if sign > 0 else min(closes)

    # ------------------------------------------------------------- helpers
    def note(self, ctx: StrategyContext, text: str) -> None:
        line = f"{to_ist(ctx.now_utc()):%Y-%m-%d %H:%M} {self.name}: {text}"
        self.journal.append(line)
        log.info("strategy_note", strategy=self.name, note=text)

    def _skip(self, ctx: StrategyContext, underlying: str, why: str) -> None:
        """Record why no trade was taken; repeated identical reasons are logged once."""
        if self._last_skip.get(underlying) != why:
            self._last_skip[underlying] = why
            self.note(ctx, f"{underlying} no entry: {why}")

    def _today_first_bar(self, ctx: StrategyContext, bar: Bar) -> Bar | None:
        """The first of the last 100 bars that started on `bar`'s IST day: compared with the day's
        bounds in UTC (an entry check runs on every bar; converting each of 100 bars to IST was most
        of a year's backtest of the built-in strategy)."""
        day_start = datetime.combine(ist_date(bar.start_utc), time(), tzinfo=IST).astimezone(UTC)
        day_end = day_start + timedelta(days=1)
        bars = ctx.bars(bar.symbol, bar.timeframe, 100)
        return next((b for b in bars if day_start <= b.start_utc < day_end), None)

    def previous_close(self, ctx: StrategyContext, bar: Bar) -> float | None:
        daily = ctx.bars(bar.symbol, Timeframe.D1, 2)
        today = ist_date(bar.start_utc)
        earlier = [d for d in daily if ist_date(d.start_utc) < today]
        return earlier[-1].close if earlier else None

    def today_gap_pct(self, ctx: StrategyContext, bar: Bar) -> float | None:
        first = self._today_first_bar(ctx, bar)
        previous = self.previous_close(ctx, bar)
        if first is None or previous is None:
            return None
        return gap_percent(previous, first.open)

    def _gap_wait(self, ctx: StrategyContext, bar: Bar) -> str | None:
        """§3.4: after an opening gap > 2 %, wait for the price to stabilise before entering."""
        session = ctx.session()
        gap = self.today_gap_pct(ctx, bar)
        if session is None or gap is None or abs(gap) <= self.params.gap_pct:
            return None
        ready = session.open_utc + timedelta(minutes=self.params.gap_stabilisation_minutes)
        if ctx.now_utc() < ready:
            return f"opening gap {gap:+.2f}%: waiting until {to_ist(ready):%H:%M} for the price to stabilise"
        return None

    # --------------------------------------------------------------- entries
    def _enter(self, ctx: StrategyContext, bar: Bar, idea: EntryIdea) -> None:
        underlying, price = bar.symbol, bar.close
        chain = ctx.chain(underlying)
        if chain is None or len(chain) == 0:
            self._skip(ctx, underlying, f"{idea.trigger}, but no option chain")
            return
        option_type = OptionType.CE if idea.direction is SignalDirection.BULLISH else OptionType.PE
        strike = chain.atm(price)
        row = chain.row(strike)
        contract = row.contract(option_type)
        quote = row.quote(option_type) or OptionQuote()
        vix = ctx.vix()
        now = ctx.now_utc()
        checklist = entry_checklist(
            self.params,
            now,
            ctx.session(),
            self.settings.session.no_new_entries_before_close_minutes,
            contract,
            quote.open_interest,
            vix,
            idea.trend_aligned,
            idea.trend_detail,
            idea.near_level,
            idea.level_detail,
            volume=quote.volume,
            min_volume=self.settings.instruments.liquidity_min_volume,
        )
        if contract is None or not checklist.passed:
            self._skip(ctx, underlying, f"{idea.trigger}; checklist failed: {'; '.join(checklist.failures)}")
            return
        if quote.ltp is None or quote.ltp <= 0:
            self._skip(ctx, underlying, f"{idea.trigger}; {contract.symbol} has no traded price")
            return
        physical = contract.settlement is Settlement.PHYSICAL
        plan = plan_exits(
            self.params,
            idea.direction,
            now,
            price,
            contract.lot_size,
            contract.lot_size,
            vix,
            self.settings.risk.vix_high,
            contract.expiry,
            physical,
            idea.key_level,
            low_vix_level=self.settings.risk.vix_low,
        )
        if idea.target is not None:
            reward = abs(idea.target - price)
            if reward < plan.initial_risk * self.params.min_reward_risk:
                self._skip(
                    ctx,
                    underlying,
                    f"{idea.trigger}; target {idea.target:.2f} gives 1:{reward / plan.initial_risk:.2f} "
                    f"< 1:{self.params.min_reward_risk:g}",
                )
                return
            plan.target = idea.target
        exit_expiry = self._expiry_blocks(contract, now)
        if exit_expiry:
            self._skip(ctx, underlying, f"{idea.trigger}; {exit_expiry}")
            return
        delta = abs(quote.delta) if quote.delta is not None else self.params.assumed_atm_delta
        sizing = self.sizer.size(
            SizingRequest(
                account_value=ctx.account_value(),
                premium=quote.ltp,
                lot_size=contract.lot_size,
                vix=vix,
                days_to_expiry=days_to_expiry(contract.expiry, now),
                open_interest=quote.open_interest,
                open_positions=len(ctx.positions()),
                risk_size_multiplier=ctx.size_multiplier(),
                freeze_quantity=contract.freeze_quantity,
                loss_per_unit_at_stop=delta * plan.initial_risk,
            )
        )
        if not sizing.tradable:
            self._skip(ctx, underlying, f"{idea.trigger}; sizing: {'; '.join(sizing.reasons)}")
            return
        plan.quantity = sizing.quantity
        reason = (
            f"{self.name}: BUY {sizing.lots} lot(s) {contract.symbol} (ATM {strike:g} {option_type}) "
            f"@ {quote.ltp:.2f}, {underlying} {price:.2f}. Why: {idea.trigger}. Trend: {idea.trend_detail}. "
            f"Level: {idea.level_detail}. Exits: {'; '.join(plan.notes)}. Size: {'; '.join(sizing.reasons)}"
        )
        ctx.emit(
            Signal(
                ts_utc=now,
                strategy=self.name,
                underlying=underlying,
                direction=idea.direction,
                reason=f"{idea.trigger} ({idea.trend_detail})",
                strength=idea.strength,
                details={
                    "checklist": checklist.summary(),
                    "source": idea.source or self.name,
                    # read back by `adopt_position` if the process restarts while the trade is open
                    SIGNAL_EXIT_PLAN: RecordedExitPlan(price, plan.stop, plan.target, vix).as_detail(),
                },
            )
        )
        intent = OrderIntent(
            ts_utc=now,
            intent_id=new_id(),
            strategy=self.name,
            token=contract.token,
            exchange=contract.exchange,
            symbol=contract.symbol,
            side=Side.BUY,
            quantity=sizing.quantity,
            purpose=IntentPurpose.ENTRY,
            order_type=OrderType.LIMIT,
            limit_price=None,  # priced from the book's far side within the slippage fence (§13.1)
            underlying=underlying,
            underlying_reference_price=price,
            option_type=option_type,
            reason=reason,
        )
        self.pending_entries[intent.intent_id] = PendingEntry(
            underlying, contract, idea, price, vix, sizing.quantity
        )
        self._last_skip.pop(underlying, None)
        self.note(ctx, reason)
        ctx.submit(intent)

    def _expiry_blocks(self, contract: Instrument, now: datetime) -> str | None:
        days = days_to_expiry(contract.expiry, now)
        if days is None:
            return None
        limit = self.params.close_days_before_expiry
        if contract.settlement is Settlement.PHYSICAL:
            limit = max(limit, self.params.stock_close_days_before_expiry)
        if days <= limit:
            return f"{contract.symbol} expires in {days} day(s), inside the {limit}-day close window"
        return None

    def _entry_filled(self, ctx: StrategyContext, fill: Fill, pending: PendingEntry) -> None:
        trade = self.trades.get(pending.underlying)
        if trade is None:
            physical = pending.contract.settlement is Settlement.PHYSICAL
            plan = plan_exits(
                self.params,
                pending.idea.direction,
                fill.ts_utc,
                pending.underlying_price,
                0,
                pending.contract.lot_size,
                pending.vix,
                self.settings.risk.vix_high,
                pending.contract.expiry,
                physical,
                pending.idea.key_level,
                low_vix_level=self.settings.risk.vix_low,
            )
            if pending.idea.target is not None:
                plan.target = pending.idea.target
            trade = OpenTrade(pending.underlying, pending.contract, pending.idea, plan)
            self.trades[pending.underlying] = trade
        trade.filled += fill.quantity
        trade.cost += fill.quantity * fill.price
        trade.plan.quantity += fill.quantity
        filled_total = trade.filled
        if filled_total >= pending.requested:
            self.pending_entries.pop(fill.intent_id, None)
        self.note(
            ctx,
            f"entry filled {fill.quantity} {fill.symbol} @ {fill.price:.2f} "
            f"({filled_total}/{pending.requested}); "
            f"stop {trade.plan.stop:.2f}, target {trade.plan.target:.2f} on {pending.underlying}",
        )

    def _late_entry_filled(self, ctx: StrategyContext, fill: Fill, refused: PendingEntry) -> None:
        """A fill of an entry reported refused (its order was found at the broker after all): adopt it
        as the trade, with its exits, unless another trade on the underlying is already open."""
        trade = self.trades.get(refused.underlying)
        if trade is not None and trade.contract.token != refused.contract.token:
            self.note(
                ctx,
                f"late fill {fill.quantity} {fill.symbol} of a refused entry while {trade.contract.symbol} "
                "is open: not managed here; the engine's flatten closes it",
            )
            return
        self.note(ctx, f"entry {fill.symbol} reported refused has filled after all: adopting it")
        self.pending_entries[fill.intent_id] = refused
        self.refused_entries.pop(fill.intent_id, None)
        self._entry_filled(ctx, fill, refused)

    # ----------------------------------------------------------------- exits
    def _manage_exits(self, ctx: StrategyContext, bar: Bar) -> None:
        self._manage_exits_at(ctx, bar.symbol, bar.close)

    def _manage_exits_at(self, ctx: StrategyContext, underlying: str, price: float) -> None:
        """Run the exit plan of the trade on `underlying` against its latest price."""
        trade = self.trades.get(underlying)
        if trade is None or not self._reconcile(ctx, trade):
            return
        action = evaluate_exit(
            trade.plan,
            self.params,
            ctx.now_utc(),
            price,
            ctx.vix(),
            ctx.session(),
            self.settings.session.flatten_before_close_minutes,
        )
        if action is not None:
            self._submit_exit(ctx, trade, action.quantity, action.purpose, action.reason, action)

    def _reconcile(self, ctx: StrategyContext, trade: OpenTrade) -> bool:
        """Follow the book: a position closed or cut outside this strategy (risk flatten, kill switch,
        operator) is not exited again. Returns False when the trade is gone."""
        held = sum(p.net_quantity for p in ctx.positions() if p.token == trade.contract.token)
        if trade.filled == 0 or held >= trade.open_quantity:
            trade.seen_in_book = trade.seen_in_book or (trade.filled > 0 and held > 0)
            return True
        if not trade.seen_in_book:
            return True  # the book has not caught up with our fills yet: never act on a lagging view
        outside = trade.open_quantity - max(held, 0)
        trade.closed += outside
        trade.plan.quantity = min(trade.plan.quantity, max(held, 0))
        if held > 0:
            self.note(ctx, f"{outside} {trade.contract.symbol} closed outside the strategy; managing {held}")
            return True
        del self.trades[trade.underlying]
        self.note(
            ctx,
            f"{trade.contract.symbol} was closed outside the strategy (risk flatten, kill switch or "
            "operator); trade dropped, P&L is in the portfolio",
        )
        return False

    def _submit_exit(
        self,
        ctx: StrategyContext,
        trade: OpenTrade,
        quantity: int,
        purpose: IntentPurpose,
        why: str,
        action: ExitAction | None,
    ) -> None:
        contract = trade.contract
        kind = action.kind if action is not None else "flatten"
        reason = f"{self.name}: SELL {quantity} {contract.symbol} ({kind}): {why}"
        intent = OrderIntent(
            ts_utc=ctx.now_utc(),
            intent_id=new_id(),
            strategy=self.name,
            token=contract.token,
            exchange=contract.exchange,
            symbol=contract.symbol,
            side=Side.SELL,
            quantity=quantity,
            purpose=purpose,
            order_type=OrderType.MARKET,
            underlying=trade.underlying,
            option_type=contract.option_type,
            reason=reason,
        )
        trade.exit_intents.add(intent.intent_id)
        self.exit_owner[intent.intent_id] = trade.underlying
        self.note(ctx, reason)
        ctx.submit(intent)

    def _exit_filled(self, ctx: StrategyContext, fill: Fill, trade: OpenTrade) -> None:
        trade.closed += fill.quantity
        trade.proceeds += fill.quantity * fill.price
        self.note(
            ctx, f"exit filled {fill.quantity} {fill.symbol} @ {fill.price:.2f} ({trade.open_quantity} left)"
        )
        if trade.open_quantity > 0:
            return
        pnl = trade.proceeds - trade.cost
        self.performance.record(trade.idea.source or self.name, pnl, trade.cost)
        del self.trades[trade.underlying]
        self.note(ctx, f"trade closed on {trade.underlying}: P&L {pnl:+,.2f} on {trade.cost:,.2f} premium")
